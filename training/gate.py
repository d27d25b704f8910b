"""Evaluation gate: score a new model version against the active model, in one run, and store it.

For the candidate and the baseline (the active registry version, else ``settings.chat_model``):

1. ``heldout``: the run's validation items answered directly by each GGUF (training.check), the
   quick model-level check that also catches a fine-tune erased by quantization;
2. ``python -m backend.evaluate`` (the full agent, as users get it) on the validation items
   converted to the QA format and on ``<corpus>/dev.jsonl``, each model evaluated with ``--model``
   so the registry's active version does not interfere.

The verdict (``scores["gate"]``) compares the primary metric: dev accuracy when the evaluation ran,
else held-out facts accuracy. A version is "better" only when it is strictly higher. Nothing is
activated here; :meth:`backend.registry.ModelRegistry.activate` reads the verdict.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from backend.errors import TrainingError
from backend.llm.clients import VERSION_PREFIX, local_target
from backend.llm.registry import ModelRegistry, ModelVersion
from backend.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)


def baseline_model(settings: Settings, registry: ModelRegistry) -> tuple[str, str]:
    """(label, ``--model`` spec) of the model the chat uses now: the active registry version,
    else ``settings.chat_model`` (a preset, a shipped adapter or a GGUF path)."""
    active = registry.active()
    if active is not None:
        return f"version {active.version}", f"{VERSION_PREFIX}{active.version}"
    return f"configured {settings.chat_model}", settings.chat_model


def val_items(mv: ModelVersion) -> list[dict[str, Any]]:
    """The validation items of the data the version was trained on (from its data card)."""
    from training.data import load_dataset

    src = mv.data_card.get("source") or mv.args.get("data")
    if not src or not Path(src).exists():
        return []
    return load_dataset(Path(src)).val


_QUESTION = re.compile(r"^Question:\s*")


def val_to_qa(items: list[dict[str, Any]], corpus_dir: Path, out: Path) -> Path | None:
    """Validation chat items → a QA file in dev.jsonl format (question, gold answer, doc, page)."""
    from training.data import prompt_and_answer

    by_name: dict[str, str] = {}
    reports = corpus_dir / "reports"
    if reports.is_dir():
        for p in reports.rglob("*.pdf"):
            by_name.setdefault(p.name, str(p.relative_to(corpus_dir)))
    rows = []
    for it in items:
        prompt, gold = prompt_and_answer(it)
        prov = it.get("provenance") or {}
        # the item's own question (the first user turns are the app's few-shot examples) and the
        # answer the app shows for it (tool-call items train one step; the user sees the answer)
        last_user = next((m["content"] for m in reversed(prompt) if m["role"] == "user"), "")
        question = (
            str(prov.get("question") or "")
            or _QUESTION.sub("", last_user).split("\n\nSources:")[0].strip()
        )
        gold = str(prov.get("user_answer") or (prov.get("app") or {}).get("answer") or gold)
        if gold.lstrip().startswith('{"tool"'):
            continue  # a tool step with no answer the app would show
        file = str(prov.get("file") or "")
        doc = file if (corpus_dir / file).is_file() else by_name.get(Path(file).name)
        if not question or not doc:
            continue
        refusal = gold.strip().startswith(
            ("Not found in the indexed reports", "在已索引的报告中未找到相关信息")
        )
        row = {
            "id": f"val-{it.get('id')}",
            "question": question,
            "answer": "N/A" if refusal else gold,
            "doc": doc,
            "language": prov.get("language", "en"),
            "question_type": prov.get("type", "val"),
            "source": "training-val",
            "dataset": "training-val",
        }
        if prov.get("page"):
            row["page"] = prov["page"]
            row["evidence_pages"] = [{"doc": Path(doc).name, "page": prov["page"]}]
        rows.append(row)
    if not rows:
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return out


def run_evaluate_cli(
    settings: Settings,
    qa: Path,
    model: str,
    workdir: Path,
    *,
    limit: int | None,
    mode: str,
    ingest: bool,
    sample: int | None = None,
    extra: list[str] | None = None,
) -> dict[str, Any]:
    """``python -m backend.evaluate`` for one model (a ``--model`` spec) and QA file; returns its
    summary line."""
    workdir.mkdir(parents=True, exist_ok=True)
    tag = f"{qa.stem}-{re.sub(r'[^A-Za-z0-9._-]+', '-', Path(model).stem)}"
    summary_path = workdir / f"{tag}.summary.json"
    cmd = [
        sys.executable,
        "-m",
        "backend.evaluate",
        "--qa",
        str(qa),
        "--out",
        str(workdir / f"{tag}.pred.jsonl"),
        "--model",
        model,
        "--mode",
        mode,
        "--summary",
        str(summary_path),
        "--data-dir",
        str(settings.data_dir),
    ]
    if limit:
        cmd += ["--limit", str(limit)]
    if sample:
        cmd += ["--sample", str(sample)]
    if ingest:
        cmd += ["--ingest"]
    cmd += extra or []
    env = {
        **os.environ,
        "ANNALYST_DATA_DIR": str(settings.data_dir),
        "ANNALYST_CORPUS_DIR": str(settings.corpus_dir),
    }
    if settings.models_path:
        env["ANNALYST_MODELS_PATH"] = str(settings.models_path)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not summary_path.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise TrainingError(
            f"`python -m backend.evaluate` failed for {model} on {qa.name}: " + " | ".join(tail)
        )
    line = json.loads(summary_path.read_text(encoding="utf-8"))
    return {"summary": line.get("summary", {}), "seconds": round(time.monotonic() - t0, 1)}


def _primary(
    evals: dict[str, Any], mode: str, heldout: dict[str, Any] | None
) -> tuple[str, float | None]:
    """The metric the verdict uses: dev accuracy, else val accuracy, else any QA file's accuracy,
    else held-out facts accuracy."""
    for name in sorted(evals, key=lambda k: (k != "dev", k != "val", k)):
        acc = evals[name].get("summary", {}).get(mode, {}).get("accuracy")
        if acc is not None:
            return f"{name} accuracy", acc
    if heldout:
        return "held-out facts", heldout.get("facts")
    return "none", None


def qa_files_for(
    settings: Settings, val: list[dict[str, Any]], given: list[Path] | None, workdir: Path
) -> dict[str, Path]:
    """The question files of a gate run: those given, else the run's validation items (as QA)
    and ``<corpus>/dev.jsonl``."""
    if given:
        return {Path(q).stem: Path(q) for q in given}
    files: dict[str, Path] = {}
    qa_val = val_to_qa(val, settings.corpus_dir, workdir / "val_qa.jsonl")
    if qa_val is not None:
        files["val"] = qa_val
    dev = settings.corpus_dir / "dev.jsonl"
    if dev.is_file():
        files["dev"] = dev
    return files


#: Share of N/A questions a candidate must refuse (issue 14's gate).
MIN_NA_REFUSAL = 0.9


def _summary_of(result: dict[str, Any], role: str, name: str, mode: str) -> dict[str, Any]:
    return result.get(role, {}).get("evaluate", {}).get(name, {}).get("summary", {}).get(mode, {})


def verdict(result: dict[str, Any], mode: str, base_label: str) -> dict[str, Any]:
    """Better when the candidate is at least as accurate as the baseline on the primary metric,
    refuses ≥ 90 % of the N/A questions (where there are any) and starts its model-written
    answers sooner (median first token, where both wrote some); without timings it must be
    strictly more accurate."""
    metric, cand = _primary(
        result.get("candidate", {}).get("evaluate", {}),
        mode,
        result.get("candidate", {}).get("heldout"),
    )
    _, base = _primary(
        result.get("baseline", {}).get("evaluate", {}),
        mode,
        result.get("baseline", {}).get("heldout"),
    )
    name = metric.split(" ")[0]
    c, b = _summary_of(result, "candidate", name, mode), _summary_of(result, "baseline", name, mode)
    na = c.get("refusal_accuracy_na")
    ft_c, ft_b = c.get("model_first_token_median_s"), b.get("model_first_token_median_s")
    checks: list[str] = []
    ok = cand is not None and base is not None
    if ok and ft_c is not None and ft_b is not None:
        ok = cand >= base and ft_c < ft_b
        checks.append(f"first token {ft_c} s vs {ft_b} s")
    elif ok:
        ok = cand > base
    if na is not None:
        ok = ok and na >= MIN_NA_REFUSAL
        checks.append(f"N/A refused {na}")
    return {
        "better": bool(ok),
        "metric": metric,
        "candidate": cand,
        "baseline": base,
        "baseline_model": base_label,
        "reason": "; ".join([f"{metric}: {cand} vs {base} ({base_label})", *checks]),
    }


def evaluate_version(
    settings: Settings,
    version: str,
    *,
    qa_files: list[Path] | None = None,
    limit: int | None = None,
    sample: int | None = None,
    mode: str = "agent",
    heldout_items: int = 32,
    ingest: bool = False,
    run_agent_eval: bool = True,
    extra: list[str] | None = None,
) -> dict[str, Any]:
    """Score ``version`` and the current chat model; store both and the verdict with the version.
    ``extra``: more ``python -m backend.evaluate`` flags (e.g. ``--reports heldout --with-na``)."""

    registry = ModelRegistry(settings.registry_dir)
    mv = registry.get(version)
    base_label, base_spec = baseline_model(settings, registry)
    cand_spec = f"{VERSION_PREFIX}{mv.version}"
    if base_spec == cand_spec:
        raise TrainingError(f"Version {version} is the active model already; nothing to compare.")
    workdir = mv.dir / "eval"
    models = {"candidate": cand_spec, "baseline": base_spec}
    result: dict[str, Any] = {
        "baseline_model": base_label,
        "baseline_spec": base_spec,
        "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "mode": mode,
        "limit": limit,
        "sample": sample,
        "extra": extra or [],
    }
    val = val_items(mv)
    if heldout_items and val:
        for role, spec in models.items():
            result.setdefault(role, {})["heldout"] = _heldout(settings, spec, val[:heldout_items])
    if run_agent_eval:
        files = qa_files_for(settings, val, qa_files, workdir)
        for name, qa in files.items():
            for role, spec in models.items():
                result.setdefault(role, {}).setdefault("evaluate", {})[name] = run_evaluate_cli(
                    settings,
                    qa,
                    spec,
                    workdir / role,
                    limit=limit,
                    sample=sample,
                    mode=mode,
                    ingest=ingest,
                    extra=extra,
                )
    result["gate"] = verdict(result, mode, base_label)
    flat: dict[str, Any] = {"eval": result, "gate": result["gate"]}
    for name, ev in result.get("candidate", {}).get("evaluate", {}).items():
        summary = ev.get("summary", {}).get(mode)
        if summary:  # flat copy (admin table): scores["dev"]["accuracy"], ...
            flat[name] = summary
    registry.set_scores(version, flat)
    return result


def _heldout(settings: Settings, spec: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Held-out items answered directly by the model's GGUF (a LoRA version: not checked here —
    llama.cpp applies its adapter in the agent evaluation)."""
    from training.check import heldout_scores

    path, info = local_target(settings.model_copy(update={"chat_model": spec}))
    if info.adapter:
        return {"skipped": "LoRA version: scored by the agent evaluation"}
    return heldout_scores(path, items)
