"""The admin page's backend: the password check, and the long jobs it starts through the one
launcher (:mod:`backend.app.processes`): training-data generation (``python -m ingestion
fewshot``), fine-tuning (``python -m training run``, argv from ``TrainArgs.to_argv``) and
evaluation (``python -m training evaluate`` / ``python -m backend.evaluate``), plus the model
registry actions. Status comes from the run folders, never from a browser session.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backend.app.processes import ProcessJobs, ProcStatus
from backend.errors import FeatureUnavailable, RegistryDamaged, TrainingError
from backend.settings import Settings

log = logging.getLogger(__name__)

KINDS = ("fewshot", "training", "evaluation")
_SALT = secrets.token_bytes(16)  # per process: stored digests never leave memory


# --- password ---------------------------------------------------------------------------------
def _digest(password: str) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), _SALT, 100_000)


def password_configured(settings: Settings) -> bool:
    return settings.admin_password is not None and bool(settings.admin_password.get_secret_value())


def check_password(settings: Settings, attempt: str) -> bool:
    """Constant-time comparison of PBKDF2 digests; always False when no password is set."""
    if not password_configured(settings) or not attempt:
        return False
    assert settings.admin_password is not None
    expected = _digest(settings.admin_password.get_secret_value())
    return hmac.compare_digest(_digest(attempt), expected)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    except OSError:
        return 0


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                if isinstance(rec, dict):
                    out.append(rec)
    return out


# --- the admin service ------------------------------------------------------------------------
@dataclass
class FewshotView:
    status: ProcStatus
    out_dir: Path
    train: int = 0
    val: int = 0
    card: dict[str, Any] = field(default_factory=dict)
    sample: list[dict[str, Any]] = field(default_factory=list)
    progress: dict[str, Any] = field(default_factory=dict)  # last JSON progress line, if any


@dataclass
class TrainingView:
    status: ProcStatus
    state: str  # none | starting | running | exporting | completed | cancelled | failed | stopped
    step: int = 0
    max_steps: int = 0
    losses: list[tuple[int, float]] = field(default_factory=list)
    eta_s: float | None = None
    error: str = ""
    version: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ModelRow:
    """One line of the evaluation table."""

    key: str  # "preset:<name>" or "version:<version>"
    label: str
    kind: str  # base | version
    version: str = ""
    base: str = ""
    created: str = ""
    active: bool = False
    gate: str = ""  # passed | failed | '' (not evaluated)
    gate_reason: str = ""
    scores: dict[str, Any] = field(default_factory=dict)  # accuracy, hit@5, refusal, latency, n
    source: str = ""  # where the scores come from


METRICS = ("accuracy", "hit@5", "refusal_accuracy_na", "latency_median_s", "n")


def _mode_summary(summary: Any, mode: str) -> dict[str, Any]:
    """One mode's block of a `backend.evaluate` summary (the chat's mode, else the first)."""
    if not isinstance(summary, dict) or not summary:
        return {}
    block = summary.get(mode) or next(iter(summary.values()))
    return block if isinstance(block, dict) else {}


def _gate_summary(role: Any, mode: str) -> dict[str, Any]:
    """Scores of one side (candidate/baseline) of a training gate run (training/gate.py):
    ``role["evaluate"][<qa file>]["summary"][<mode>]``, the dev set preferred."""
    if not isinstance(role, dict):
        return {}
    evaluations = role.get("evaluate") or {}
    for name in sorted(evaluations, key=lambda n: (n != "dev", n)):
        found = _mode_summary((evaluations[name] or {}).get("summary"), mode)
        if found:
            return found
    return {}


class AdminService:
    """Everything the admin page does, minus rendering."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.procs = ProcessJobs(settings)

    # -- training data (ingestion fewshot) ---------------------------------------------------
    @property
    def fewshot_dir(self) -> Path:
        return self.settings.data_dir / "fewshot"

    def start_fewshot(self, *, per_doc: int, llm: bool) -> ProcStatus:
        """Generate training data in the background. Model-written items cost 1-2 min each on a
        CPU, so a few per report (``--llm-per-doc 3``) keeps a run to minutes."""
        options = ["--per-doc", str(int(per_doc))]
        options += ["--llm-per-doc", "3"] if llm else ["--no-llm"]
        out = self.fewshot_dir
        run_dir = self.settings.data_dir / "admin" / "fewshot-runs" / _stamp()
        cmd = [
            sys.executable,
            "-m",
            "ingestion",
            "fewshot",
            "--out",
            str(out.resolve()),
            "--data-dir",
            str(self.settings.data_dir.resolve()),
            *options,
        ]
        return self.procs.start("fewshot", cmd, run_dir, {"out": str(out)})

    def cancel_fewshot(self) -> None:
        """Stop a running data generation (the data written by the last finished run stays)."""
        if not self.procs.stop("fewshot"):
            raise TrainingError("No training-data generation is running.")

    def fewshot(self, sample_size: int = 5) -> FewshotView:
        status = self.procs.status("fewshot")
        out = Path(status.meta.get("out", self.fewshot_dir))
        view = FewshotView(status, out)
        view.train = _count_lines(out / "train.jsonl")
        view.val = _count_lines(out / "val.jsonl")
        view.card = _read_json(out / "card.json")
        view.sample = read_sample(out / "train.jsonl", sample_size)
        lines = _json_lines(status.log_tail(200)) if status.run_dir else []
        view.progress = lines[-1] if lines else {}
        return view

    # -- training (python -m training run) ---------------------------------------------------
    def default_training_args(self) -> dict[str, Any]:
        from training.args import TrainArgs

        fields = TrainArgs.__dataclass_fields__
        return {
            "base": self.settings.chat_model if self.settings.chat_model else "smollm2-135m",
            "steps": fields["steps"].default,
            "rank": fields["rank"].default,
            "data": str(self.fewshot_dir),
        }

    def start_training(
        self,
        *,
        base: str,
        steps: int,
        rank: int,
        data: str | Path | None = None,
        nproc: int = 1,
        extra: dict[str, Any] | None = None,
    ) -> ProcStatus:
        """Validate the arguments (TrainArgs), then launch `python -m training run` (which runs
        ``nproc`` data-parallel processes under torch.distributed.run when ``nproc`` > 1)."""
        from training.args import TrainArgs

        run_dir = self.settings.data_dir / "training" / "runs" / _stamp()
        values = {
            "data": Path(data or self.fewshot_dir),
            "base": base,
            "out": run_dir,
            "steps": int(steps),
            "rank": int(rank),
            "nproc": int(nproc),
            **(extra or {}),
        }
        args = TrainArgs(**values)  # raises TrainingError with every problem listed
        cmd = [sys.executable, "-m", "training", "run", *args.to_argv()]
        return self.procs.start(
            "training", cmd, run_dir, {"base": base, "steps": steps, "rank": rank, "nproc": nproc}
        )

    def gpu_available(self) -> bool:
        """An NVIDIA driver is loaded here (checked without importing torch)."""
        return Path("/proc/driver/nvidia/version").exists()

    def training_estimate(
        self, *, base: str, device: str, steps: int, batch_size: int, data: str | Path
    ) -> Any:
        """:class:`training.estimate.Estimate` of the run's training steps on ``device``."""
        from training.estimate import estimate

        if device == "auto":
            device = "cuda" if self.gpu_available() else "cpu"
        return estimate(
            base=base,
            device=device,
            steps=int(steps),
            batch_size=int(batch_size),
            data=Path(data or self.fewshot_dir),
            runs_dir=self.settings.data_dir / "training" / "runs",
        )

    # -- training on another machine (bundle out, adapter in) -------------------------------
    def start_bundle(
        self, *, base: str, steps: int, rank: int, batch_size: int, data: str | Path | None = None
    ) -> ProcStatus:
        """Write a bundle for a GPU host (data, the base GGUF in pieces, run.sh) in the
        background, under ``<data>/training/bundles/<stamp>``."""
        from training.args import TrainArgs

        out = self.settings.data_dir / "training" / "bundles" / _stamp()
        args = TrainArgs(
            data=Path(data or self.fewshot_dir),
            base=base,
            out=out,
            steps=int(steps),
            rank=int(rank),
            batch_size=int(batch_size),
            device="cuda",
            quant="none",
        )
        cmd = [sys.executable, "-m", "training", "bundle", *args.to_argv()]
        return self.procs.start("bundle", cmd, out.with_suffix(".job"), {"out": str(out)})

    def import_adapter(self, lora: Path, *, base: str, name: str) -> Any:
        """Register a LoRA GGUF trained elsewhere (not activated: evaluate it, then activate)."""
        from training.bundle import import_adapter

        return import_adapter(self.settings, Path(lora), base=base, name=name or f"{base}-lora")

    def training(self) -> TrainingView:
        status = self.procs.status("training")
        view = TrainingView(status, status.state)
        if status.run_dir is None:
            return view
        from training.progress import read_progress, read_status

        run_status = read_status(status.run_dir)
        events = read_progress(status.run_dir)
        view.events = events[-50:]
        view.max_steps = int(run_status.get("max_steps") or status.meta.get("steps") or 0)
        view.step = int(run_status.get("step") or 0)
        for ev in events:
            if ev.get("event") == "step" and ev.get("loss") is not None:
                view.losses.append((int(ev["step"]), float(ev["loss"])))
                view.eta_s = ev.get("eta_s")
            elif ev.get("event") == "registered":
                view.version = str(ev.get("version", ""))
            elif ev.get("event") == "error":
                view.error = str(ev.get("error", ""))
        if status.running:
            view.state = run_status.get("state") or "starting"
        else:
            state = run_status.get("state", "")
            view.state = state if state in ("completed", "cancelled", "failed") else status.state
            if view.state == "failed" and not view.error:
                view.error = run_status.get("error") or status.log_tail(5)
            view.eta_s = None
        return view

    def cancel_training(self, *, now: bool = False) -> None:
        """Ask the run to stop at the next step (it saves a checkpoint first); ``now`` kills it
        at once (the last saved checkpoint stays)."""
        status = self.procs.status("training")
        if not status.running or status.run_dir is None:
            raise TrainingError("No training run is running.")
        from training.progress import request_cancel

        request_cancel(status.run_dir)
        if now:
            self.procs.stop("training", kill=True)

    # -- evaluation ----------------------------------------------------------------------
    @property
    def eval_root(self) -> Path:
        return self.settings.data_dir / "evaluations"

    def start_evaluation(
        self, row_key: str, *, limit: int | None = 20, ingest: bool = False, qa: Path | None = None
    ) -> ProcStatus:
        """Evaluate one table row in the background.

        A registered version goes through the training gate (``python -m training evaluate``:
        the version and the model the chat uses now, on the run's validation items and the dev
        set; the verdict is stored with the version and decides whether it may be activated).
        A base model is scored with ``python -m backend.evaluate`` on the dev set.
        """
        kind, _, name = row_key.partition(":")
        mode = self.settings.chat_mode
        run_dir = self.eval_root / _slug(row_key) / _stamp()
        if kind == "version":
            from backend.llm.registry import ModelRegistry

            mv = ModelRegistry(self.settings.registry_dir).get(name)
            cmd = [sys.executable, "-m", "training", "evaluate", name, "--mode", mode]
            cmd += ["--limit", str(int(limit))] if limit else []
            cmd += ["--qa", str(Path(qa).resolve())] if qa else []
            watch = mv.dir / "eval"
        else:
            qa = Path(qa or self.settings.corpus_dir / "dev.jsonl")
            if not qa.is_file():
                raise FeatureUnavailable(
                    f"The question file {qa} does not exist. Set ANNALYST_CORPUS_DIR to the "
                    "corpus folder."
                )
            cmd = [sys.executable, "-m", "backend.evaluate", "--qa", str(qa.resolve()),
                   "--out", str((run_dir / "pred.jsonl").resolve()),
                   "--summary", str((run_dir / "summary.json").resolve()),
                   "--model", name, "--mode", mode]  # fmt: skip
            cmd += ["--limit", str(int(limit))] if limit else []
            cmd += ["--ingest"] if ingest else []
            watch = run_dir
        meta = {"row": row_key, "limit": limit, "qa": str(qa or ""), "watch": str(watch)}
        return self.procs.start("evaluation", cmd, run_dir, meta)

    def evaluation_progress(self) -> tuple[ProcStatus, int]:
        """The last evaluation job and how many answers it has written so far."""
        st = self.procs.status("evaluation")
        watch = Path(st.meta.get("watch") or st.run_dir or ".")
        done = 0
        if st.run_dir is not None and watch.is_dir():
            for pred in watch.rglob("*pred.jsonl"):
                if pred.stat().st_mtime >= st.started - 1:
                    done += _count_lines(pred)
        return st, done

    def _latest_eval(self, row_key: str) -> tuple[dict[str, Any], str]:
        """Summary of the newest finished `backend.evaluate` run of a base model."""
        folder = self.eval_root / _slug(row_key)
        for run in sorted(folder.glob("*/summary.json"), reverse=True) if folder.is_dir() else []:
            data = _read_json(run)
            summary = _mode_summary(data.get("summary", {}), self.settings.chat_mode)
            if summary:
                return summary, f"{run.parent.name} · {Path(data.get('qa', '')).name}"
        return {}, ""

    # -- models: table, activation, rollback ----------------------------------------------
    def model_rows(self) -> list[ModelRow]:
        """The configured model (and the bases of registered versions), then every version,
        with dev-set scores: base models from their own evaluation or, failing that, from the
        newest gate run that used them as baseline; versions from their gate run."""
        from backend.llm.bundled import BUNDLED
        from backend.llm.registry import ModelRegistry

        registry = ModelRegistry(self.settings.registry_dir)
        try:
            active = registry.active()
        except RegistryDamaged as err:  # the table stays usable (rollback is the remedy)
            log.warning("%s", err)
            active = None
        versions = registry.versions()
        mode = self.settings.chat_mode
        bases = [self.settings.chat_model]
        bases += [v.base for v in versions if v.base in BUNDLED and v.base not in bases]
        rows = []
        for name in bases:
            title = BUNDLED[name].title if name in BUNDLED else Path(name).name
            row = ModelRow(
                f"preset:{name}",
                title,
                "base",
                base=name,
                active=active is None and name == self.settings.chat_model,
            )
            summary, row.source = self._latest_eval(row.key)
            if not summary:
                for v in reversed(versions):
                    ev = v.scores.get("eval") or {}
                    if ev.get("baseline_model") == f"configured {name}":
                        summary = _gate_summary(ev.get("baseline"), mode)
                        if summary:
                            row.source = f"gate of {v.version}"
                            break
            row.scores = {k: summary.get(k) for k in METRICS if k in summary}
            rows.append(row)
        for v in versions:
            gate = v.scores.get("gate")
            row = ModelRow(
                f"version:{v.version}", v.name, "version", version=v.version, base=v.base,
                created=v.created_at,
                active=active is not None and active.version == v.version,
                gate="" if gate is None else ("passed" if v.gate_passed else "failed"),
                gate_reason=str((gate or {}).get("reason", "")),
            )  # fmt: skip
            summary = _gate_summary((v.scores.get("eval") or {}).get("candidate"), mode)
            row.scores = {k: summary.get(k) for k in METRICS if k in summary}
            row.source = f"gate {(v.scores.get('eval') or {}).get('at', '')}" if summary else ""
            rows.append(row)
        return rows

    def activate(self, version: str, *, force: bool = False) -> Any:
        from backend.llm.registry import ModelRegistry

        return ModelRegistry(self.settings.registry_dir).activate(version, force=force)

    def can_roll_back(self) -> bool:
        """A registered version is active (rolling back from the bundled base does nothing)."""
        from backend.llm.registry import ModelRegistry

        return ModelRegistry(self.settings.registry_dir).active() is not None

    def rollback(self) -> Any:
        from backend.llm.registry import ModelRegistry

        return ModelRegistry(self.settings.registry_dir).rollback()

    def history(self) -> list[dict[str, Any]]:
        from backend.llm.registry import ModelRegistry

        return ModelRegistry(self.settings.registry_dir).history()


def _slug(key: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in key)[:80]


def read_sample(path: Path, n: int) -> list[dict[str, Any]]:
    """The first ``n`` valid JSON lines of a JSONL file."""
    out: list[dict[str, Any]] = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if len(out) >= n:
                    break
                with contextlib.suppress(ValueError):
                    item = json.loads(line)
                    if isinstance(item, dict):
                        out.append(item)
    except OSError:
        pass
    return out
