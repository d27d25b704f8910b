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
import sys
from pathlib import Path

from backend.errors import exit_quietly_on_interrupt, run_cli

if __name__ == "__main__":
    exit_quietly_on_interrupt()


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
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
    parser.add_argument(
        "--reports",
        default="",
        help="only questions on these reports (comma-separated parts of their paths); "
        "'heldout' = the 12 reports kept out of the training data",
    )
    parser.add_argument(
        "--with-na", action="store_true", help="with --reports: also every N/A question"
    )
    parser.add_argument("--model", help="chat model for this run (preset name or GGUF path)")
    parser.add_argument("--summary", type=Path, help="also write the summary JSON here")
    parser.add_argument("--data-dir", type=Path, help="data directory")
    return parser


def _reports(spec: str) -> tuple[str, ...]:
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if "heldout" in parts:
        from backend.evaluation.heldout import HELDOUT_REPORTS

        parts = [p for p in parts if p != "heldout"] + list(HELDOUT_REPORTS)
    return tuple(parts)


def evaluate(args: argparse.Namespace) -> int:
    from backend.app.services import build_services
    from backend.evaluation.runner import print_table, run_evaluation
    from backend.settings import Settings

    settings = Settings.given(data_dir=args.data_dir, chat_model=args.model)
    services = build_services(settings)
    if args.model:
        services.llm.ignore_registry = True  # evaluate exactly the model asked for
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
        reports=_reports(args.reports),
        with_na=args.with_na,
    )
    print_table(summary)
    line = {
        "qa": str(args.qa),
        "scope": args.scope,
        "sample": args.sample,
        "seed": args.seed,
        "reports": args.reports,
        "with_na": args.with_na,
        "model": args.model or settings.chat_model,
        "summary": summary,
    }
    print(json.dumps(line, ensure_ascii=False))
    if args.summary:
        args.summary.write_text(json.dumps(line, ensure_ascii=False, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return run_cli(lambda: evaluate(args))


if __name__ == "__main__":
    sys.exit(main())
