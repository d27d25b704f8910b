"""The evaluation runner: answer every question of a file in the format of ``dev.jsonl`` (in one or
more modes), score each prediction and summarise. The command line is ``python -m
backend.evaluate`` (:mod:`backend.evaluate`), which documents the output format.
"""

from __future__ import annotations

import json
import logging
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from backend.answering.events import final_answer
from backend.app.services import Services
from backend.errors import AnnalystError
from backend.evaluation.scoring import page_hit, score
from backend.system import iter_jsonl

log = logging.getLogger(__name__)


def load_items(path: Path) -> list[dict[str, Any]]:
    """The questions of a file in the format of ``dev.jsonl`` (each needs ``id`` and ``question``)."""
    try:
        lines = list(iter_jsonl(path))
    except OSError as err:
        raise AnnalystError(f"Cannot read the question file {path} ({err.strerror}).") from err
    except ValueError as err:
        raise AnnalystError(f"{err}.") from err
    for n, item in lines:
        if "question" not in item or "id" not in item:
            raise AnnalystError(f"{path} line {n} has no 'id'/'question' field.")
    return [item for _, item in lines]


def stratified_sample(items: list[dict[str, Any]], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` items drawn round-robin over question types (seeded shuffle within each type), in
    that interleaved order, so that a run cut short still covers lookups, computations, narrative
    and N/A evenly."""
    import random

    if n >= len(items):
        return items
    rng = random.Random(seed)
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(str(item.get("question_type") or ""), []).append(i)
    for idx in groups.values():
        rng.shuffle(idx)
    chosen: list[int] = []
    queues = [groups[k] for k in sorted(groups)]
    while len(chosen) < n:
        for q in queues:
            if q and len(chosen) < n:
                chosen.append(q.pop())
    return [items[i] for i in chosen]


def select_reports(
    items: list[dict[str, Any]], reports: tuple[str, ...], with_na: bool = False
) -> list[dict[str, Any]]:
    """The questions on the given reports (substrings of their paths), N/A ones too when asked."""
    if not reports:
        return items
    return [
        item
        for item in items
        if any(r in d for d in item_docs(item) for r in reports)
        or (with_na and str(item.get("answer", "")).strip().upper() == "N/A")
    ]


def item_docs(item: dict[str, Any]) -> list[str]:
    docs = [item["doc"]] if item.get("doc") else []
    for d in item.get("docs") or []:
        if d not in docs:
            docs.append(d)
    return docs


class Evaluator:
    def __init__(self, services: Services, *, scope: str = "doc") -> None:
        self.services = services
        self.scope = scope
        corpus = services.settings.corpus_dir.resolve()
        self._rel: dict[str, str] = {}
        self._by_rel: dict[str, str] = {}
        for d in services.catalog.documents():
            path = Path(d.stored_path or d.source_path)
            try:
                rel = str(path.resolve().relative_to(corpus))
            except ValueError:
                rel = d.file_name
            self._rel[d.doc_id] = rel
            self._by_rel[rel] = d.doc_id
            self._by_rel.setdefault(d.file_name, d.doc_id)

    def ensure_indexed(self, items: list[dict[str, Any]]) -> None:
        corpus = self.services.settings.corpus_dir
        wanted = []
        for item in items:
            for rel in item_docs(item):
                if rel not in self._by_rel and (corpus / rel).is_file():
                    wanted.append(corpus / rel)
        wanted = sorted(set(wanted))
        if wanted:
            log.warning("indexing %d reports needed by the questions", len(wanted))
            self.services.ingestor.add(wanted)
            self.__init__(self.services, scope=self.scope)  # refresh the doc maps

    def _doc_filter(self, item: dict[str, Any]) -> list[str] | None:
        if self.scope != "doc":
            return None
        ids = [
            self._by_rel.get(rel) or self._by_rel.get(rel.split("/")[-1]) for rel in item_docs(item)
        ]
        ids = [i for i in ids if i]
        return ids or None

    def _refs(self, rows: list[tuple[str, int]]) -> list[dict[str, Any]]:
        return [{"doc": self._rel.get(d, d), "page": p} for d, p in rows]

    def run_item(self, item: dict[str, Any], mode: str) -> dict[str, Any]:
        question = item["question"]
        doc_filter = self._doc_filter(item)
        retriever = self.services.retriever
        t0 = time.perf_counter()
        plan = retriever.plan(question, doc_filter=doc_filter)
        passages = retriever.search(plan.question, doc_ids=plan.doc_ids, k=10)
        retrieved = self._refs([(p.doc_id, p.page) for p in passages])
        out: dict[str, Any] = {"id": item["id"], "mode": mode, "retrieved": retrieved}
        if mode == "retrieval":
            out.update(
                answer="",
                answer_value=None,
                unit="",
                citations=[],
                refused=False,
                latency_s=round(time.perf_counter() - t0, 3),
            )
        else:
            engine = self.services.agent if mode == "agent" else self.services.rag
            t0 = time.perf_counter()
            answer = final_answer(engine.stream(question, doc_filter=doc_filter))
            calls = [t for t in answer.trace if t.get("step") == "tool"]
            out.update(
                answer=answer.answer,
                answer_value=answer.value,
                unit=answer.unit,
                citations=self._refs([(c.doc_id, c.page) for c in answer.citations]),
                refused=answer.refused,
                unverified_numbers=answer.unverified_numbers,
                model=answer.model,
                latency_s=round(time.perf_counter() - t0, 3),
                prompt_tokens=int(answer.timings.get("prompt_tokens", 0)),
                prompt_read_tokens=answer.timings.get("prompt_read_tokens"),
                first_token_s=answer.timings.get("first_token_s"),
                evidence_s=answer.timings.get("evidence_s"),
                total_s=answer.timings.get("total_s"),
                route=answer.route,
                tool_calls=len(calls),
                malformed_tool_calls=sum(1 for t in calls if not t.get("well_formed", True)),
            )
            out["correct"] = score(item, out)
        out["hit1"] = page_hit(item, retrieved, 1)
        out["hit5"] = page_hit(item, retrieved, 5)
        return out


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _p95(values: list[float]) -> float | None:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(0.95 * len(values)))], 2) if values else None


def _rate(values: list[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summarize(items: list[dict[str, Any]], preds: list[dict[str, Any]]) -> dict[str, Any]:
    by_id = {i["id"]: i for i in items}
    out: dict[str, Any] = {}
    modes = sorted({p["mode"] for p in preds})
    for mode in modes:
        rows = [p for p in preds if p["mode"] == mode]
        s: dict[str, Any] = {"n": len(rows)}
        s["hit@1"] = _rate([p["hit1"] for p in rows if p["hit1"] is not None])
        s["hit@5"] = _rate([p["hit5"] for p in rows if p["hit5"] is not None])
        s["n_with_page"] = sum(1 for p in rows if p["hit5"] is not None)
        if mode != "retrieval":
            na = [p for p in rows if str(by_id[p["id"]].get("answer", "")).upper() == "N/A"]
            s["accuracy"] = _rate([p["correct"] for p in rows])
            s["accuracy_answerable"] = _rate([p["correct"] for p in rows if p not in na])
            s["refusal_accuracy_na"] = _rate([p["refused"] for p in na])
            s["false_refusals"] = sum(1 for p in rows if p["refused"] and p not in na)
            s["tool_calls"] = sum(p.get("tool_calls", 0) for p in rows)
            s["malformed_tool_calls"] = sum(p.get("malformed_tool_calls", 0) for p in rows)
            answered = [p for p in rows if not p["refused"]]
            s["answered"] = len(answered)
            s["answered_precision"] = _rate([p["correct"] for p in answered])
            lat = [p["latency_s"] for p in rows]
            s["latency_median_s"], s["latency_p95_s"] = _median(lat), _p95(lat)
            written = [p for p in rows if p.get("prompt_tokens")]  # answers the model wrote
            s["model_answers"] = len(written)
            s["model_prompt_tokens_median"] = _median([p["prompt_tokens"] for p in written])
            read = [p["prompt_read_tokens"] for p in written if p.get("prompt_read_tokens")]
            s["model_prompt_read_median"] = _median(read)
            s["model_first_token_median_s"] = _median([p["first_token_s"] for p in written])
            s["model_total_median_s"] = _median([p["total_s"] for p in written])
            s["model_total_p95_s"] = _p95([p["total_s"] for p in written])
            shown = [p["evidence_s"] for p in written if p.get("evidence_s") is not None]
            s["model_evidence_median_s"], s["model_evidence_p95_s"] = _median(shown), _p95(shown)
            s["routes"] = dict(sorted(Counter(p.get("route", "?") for p in rows).items()))
        groups: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
        for p in rows:
            item = by_id[p["id"]]
            for key in (f"lang:{item.get('language', '?')}", f"type:{item.get('question_type')}"):
                if "correct" in p:
                    groups[key]["acc"].append(p["correct"])
                if p["hit5"] is not None:
                    groups[key]["hit5"].append(p["hit5"])
        s["groups"] = {
            k: {
                "n": max(len(v["acc"]), len(v["hit5"])),
                "accuracy": _rate(v["acc"]),
                "hit@5": _rate(v["hit5"]),
            }
            for k, v in sorted(groups.items())
        }
        out[mode] = s
    return out


def print_table(summary: dict[str, Any]) -> None:
    for mode, s in summary.items():
        print(f"\n== mode: {mode}  (n={s['n']})")
        keys = [
            "hit@1",
            "hit@5",
            "accuracy",
            "accuracy_answerable",
            "refusal_accuracy_na",
            "false_refusals",
            "malformed_tool_calls",
            "answered",
            "answered_precision",
            "latency_median_s",
            "latency_p95_s",
            "model_answers",
            "model_prompt_tokens_median",
            "model_prompt_read_median",
            "model_first_token_median_s",
            "model_total_median_s",
            "model_total_p95_s",
            "routes",
        ]
        for k in keys:
            if k in s:
                print(f"  {k:22s} {s[k]}")
        print(f"  {'group':34s} {'n':>4s} {'acc':>7s} {'hit@5':>7s}")
        for g, v in s["groups"].items():
            acc = "-" if v["accuracy"] is None else f"{v['accuracy']:.2f}"
            hit = "-" if v["hit@5"] is None else f"{v['hit@5']:.2f}"
            print(f"  {g[:34]:34s} {v['n']:4d} {acc:>7s} {hit:>7s}")


def run_evaluation(
    services: Services,
    qa_path: Path,
    out_path: Path,
    *,
    limit: int | None = None,
    sample: int | None = None,
    seed: int = 0,
    mode: str = "agent",
    ingest: bool = False,
    scope: str = "doc",
    progress: bool = True,
    reports: tuple[str, ...] = (),
    with_na: bool = False,
) -> dict[str, Any]:
    """Answer every question of ``qa_path`` (in each of the comma-separated ``mode``s), write
    predictions to ``out_path`` and return the summary. ``reports``: only questions on a report
    whose path contains one of these strings (and, ``with_na``, every question whose gold answer
    is N/A)."""
    items = select_reports(load_items(qa_path), reports, with_na)
    if sample:
        items = stratified_sample(items, sample, seed)
    items = items[: limit or None]
    evaluator = Evaluator(services, scope=scope)
    if ingest:
        evaluator.ensure_indexed(items)
    modes = [m.strip() for m in mode.split(",") if m.strip()]
    preds: list[dict[str, Any]] = []
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as out:
        for n, item in enumerate(items, start=1):
            for m in modes:
                try:
                    pred = evaluator.run_item(item, m)
                except Exception as err:  # one failed item never ends the run
                    if not isinstance(err, AnnalystError):
                        log.exception("item %s failed in %s mode", item["id"], m)
                    pred = {
                        "id": item["id"],
                        "mode": m,
                        "answer": "",
                        "error": str(err),
                        "answer_value": None,
                        "unit": "",
                        "citations": [],
                        "retrieved": [],
                        "refused": False,
                        "latency_s": 0.0,
                        "correct": False,
                        "hit1": None,
                        "hit5": None,
                    }
                preds.append(pred)
                out.write(json.dumps(pred, ensure_ascii=False) + "\n")
                out.flush()
                if progress:
                    mark = {True: "✓", False: "✗", None: "·"}[pred.get("correct")]
                    print(
                        f"[{n}/{len(items)}] {m:9s} {mark} hit5={pred['hit5']} "
                        f"{pred['latency_s']:.1f}s {item['id']}",
                        file=sys.stderr,
                        flush=True,
                    )
    return summarize(items, preds)
