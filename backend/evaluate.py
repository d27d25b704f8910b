"""Evaluate Annalyst on any question file in the format of ``dev.jsonl``.

    python -m backend.evaluate --qa ../shared/corpus/dev.jsonl --out pred.jsonl
    python -m backend.evaluate --qa dev.jsonl --out pred.jsonl --mode agent,rag --limit 40
    python -m backend.evaluate --qa dev.jsonl --out pred.jsonl --mode agent,rag --sample 60
    python -m backend.evaluate --qa dev.jsonl --out ret.jsonl --retrieval-only
    python -m backend.evaluate --qa dev.jsonl --out pred.jsonl --ingest --model qwen2.5-0.5b

Each output line: ``id, mode, answer, answer_value, unit, citations [{doc, page}], retrieved (top 10
{doc, page}), refused, latency_s, correct, hit1, hit5, tool_calls, malformed_tool_calls`` with
``doc`` relative to the corpus folder. The summary (printed as a table and one JSON line) has
evidence-page hit@1/@5, answer accuracy, refusal accuracy on N/A items, per language and question
type, and median/p95 latency.

Scope: by default every question is asked with the report it is about selected, as an analyst
does with the document filter in the sidebar (FinanceBench's "per-document" setting; TAT-QA
questions do not name their company). ``--scope all`` asks against the whole shared store.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from backend.errors import AnnalystError
from backend.scoring import page_hit, score
from backend.services import Services

log = logging.getLogger(__name__)


def load_items(path: Path) -> list[dict[str, Any]]:
    items = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as err:
                raise AnnalystError(f"{path}:{n} is not valid JSON ({err}).") from err
            if "question" not in item or "id" not in item:
                raise AnnalystError(f"{path}:{n} has no 'id'/'question' field.")
            items.append(item)
    return items


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
            answer = None
            t0 = time.perf_counter()
            for event in engine.stream(question, doc_filter=doc_filter):
                if event["type"] == "answer":
                    answer = event["answer"]
            assert answer is not None
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
                tool_calls=len(calls),
                malformed_tool_calls=sum(1 for t in calls if not t.get("well_formed", True)),
            )
            out["correct"] = score(item, out)
        out["hit1"] = page_hit(item, retrieved, 1)
        out["hit5"] = page_hit(item, retrieved, 5)
        return out


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
            lat = sorted(p["latency_s"] for p in rows)
            s["latency_median_s"] = round(statistics.median(lat), 2) if lat else None
            s["latency_p95_s"] = (
                round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 2) if lat else None
            )
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
            "latency_median_s",
            "latency_p95_s",
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
) -> dict[str, Any]:
    """Answer every question of ``qa_path`` (in each of the comma-separated ``mode``s), write
    predictions to ``out_path`` and return the summary."""
    items = load_items(qa_path)
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


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    from backend.services import build_services
    from backend.settings import Settings

    parser = argparse.ArgumentParser(
        prog="python -m backend.evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--qa", required=True, type=Path, help="questions (dev.jsonl format)")
    parser.add_argument("--out", required=True, type=Path, help="predictions JSONL to write")
    parser.add_argument("--limit", type=_positive, help="only the first N questions")
    parser.add_argument(
        "--sample",
        type=_positive,
        help="a seeded sample of N questions, spread evenly over question types",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for --sample")
    parser.add_argument(
        "--ingest",
        action="store_true",
        help="index the reports the questions need (from the corpus dir) first",
    )
    parser.add_argument(
        "--mode",
        default="agent",
        help="agent (default), rag, or both as 'agent,rag' (compared in one run)",
    )
    parser.add_argument(
        "--retrieval-only", action="store_true", help="only retrieval metrics (fast, no LLM)"
    )
    parser.add_argument(
        "--scope",
        choices=["doc", "all"],
        default="doc",
        help="doc: the question's report selected (default); all: shared store",
    )
    parser.add_argument("--model", help="chat model for this run (preset name or GGUF path)")
    parser.add_argument("--summary", type=Path, help="also write the summary JSON here")
    parser.add_argument("--data-dir", type=Path, help="data directory")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    overrides: dict[str, Any] = {}
    if args.data_dir:
        overrides["data_dir"] = args.data_dir
    if args.model:
        overrides["chat_model"] = args.model
    settings = Settings(**overrides)
    services = build_services(settings)
    if args.model:
        services.llm.ignore_registry = True  # evaluate exactly the model asked for
    try:
        summary = run_evaluation(
            services,
            args.qa,
            args.out,
            limit=args.limit,
            sample=args.sample,
            seed=args.seed,
            mode="retrieval" if args.retrieval_only else args.mode,
            ingest=args.ingest,
            scope=args.scope,
        )
    except AnnalystError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print_table(summary)
    line = {
        "qa": str(args.qa),
        "scope": args.scope,
        "sample": args.sample,
        "seed": args.seed,
        "model": args.model or settings.chat_model,
        "summary": summary,
    }
    print(json.dumps(line, ensure_ascii=False))
    if args.summary:
        args.summary.write_text(json.dumps(line, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
