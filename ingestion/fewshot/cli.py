"""``python -m ingestion fewshot``: generate few-shot training data from the indexed reports.

    python -m ingestion fewshot --out DIR [--per-doc N] [--llm/--no-llm] [--model NAME]
                                [--llm-per-doc N] [--seed S] [--docs ID...] [--val-share X]
                                [--no-seeds] [--data-dir DIR]

Writes DIR/train.jsonl, DIR/val.jsonl, DIR/card.json (and DIR/run.json with timings). A progress
bar goes to stderr; JSON progress lines ``{"done": n, "total": m, "stage": ...}`` and a final
summary line go to stdout (the admin page reads them). Re-running with the same inputs and options
writes the same files.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from backend.settings import Settings

HELP = "generate few-shot training data (train/val JSONL) from the indexed reports"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``python -m ingestion fewshot``."""
    p.add_argument(
        "--out", required=True, help="output folder for train.jsonl, val.jsonl, card.json"
    )
    p.add_argument(
        "--per-doc",
        type=int,
        default=40,
        help="items to propose per report before filtering (default 40)",
    )
    p.add_argument(
        "--llm",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="let the local model write items over narrative passages (default: on; "
        "--no-llm: facts-table templates, refusals and seeds only)",
    )
    p.add_argument(
        "--model",
        default=None,
        help="model for --llm: a bundled preset (qwen2.5-coder-1.5b, qwen2.5-0.5b, "
        "smollm2-135m) or a GGUF path (default: setting chat_model)",
    )
    p.add_argument(
        "--llm-per-doc",
        type=int,
        default=None,
        help="passages per report the model writes items for (default: about a "
        "quarter of --per-doc; each takes ~0.5–2 min on a CPU)",
    )
    p.add_argument("--seed", type=int, default=13, help="random seed (default 13)")
    p.add_argument("--docs", nargs="*", default=None, help="only these document ids (or prefixes)")
    p.add_argument(
        "--val-share",
        type=float,
        default=0.2,
        help="share of reports held out for validation (default 0.2)",
    )
    p.add_argument("--no-seeds", action="store_true", help="leave the hand-written seeds out")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from backend.app.services import build_services
    from ingestion.fewshot.generate import Options, generate_dataset

    if args.model:
        settings = settings.model_copy(update={"chat_model": args.model})
    if args.per_doc < 1 or not 0 <= args.val_share < 1:
        print("error: --per-doc must be ≥ 1 and --val-share in [0, 1)", file=sys.stderr)
        return 2
    services = build_services(settings)
    opts = Options(
        per_doc=args.per_doc,
        use_llm=args.llm,
        seed=args.seed,
        val_share=args.val_share,
        include_seeds=not args.no_seeds,
        doc_ids=args.docs or None,
    )
    summary = generate_dataset(services, Path(args.out), opts, progress=_progress())
    card = summary.pop("card")
    print(json.dumps({"event": "done", **summary}, ensure_ascii=False), flush=True)
    _table(card)
    return 0 if summary["train"] else 1


def _progress():
    from tqdm import tqdm

    bar = None
    last = 0.0

    def progress(done: int, total: int, stage: str) -> None:
        nonlocal bar, last
        if bar is None:
            bar = tqdm(total=total, desc="fewshot", unit="item", file=sys.stderr)
        bar.total = total
        bar.n = done
        bar.set_postfix_str(stage[:40])
        bar.refresh()
        now = time.monotonic()
        if now - last > 2 or done >= total:
            last = now
            print(
                json.dumps({"done": done, "total": total, "stage": stage}, ensure_ascii=False),
                flush=True,
            )
        if done >= total:
            bar.close()

    return progress


def _table(card: dict[str, Any]) -> None:
    print(f"\n{'type':14s} {'train':>6s} {'val':>6s}")
    for t, row in card["by_type"].items():
        print(f"{t:14s} {row['train']:6d} {row['val']:6d}")
    print(f"\n{'filter':18s} {'checked':>8s} {'dropped':>8s} {'kept':>7s}")
    for name, f in card["filters"].items():
        share = f"{100 * f['kept_share']:.0f}%" if f["kept_share"] is not None else "—"
        print(f"{name:18s} {f['checked']:8d} {f['dropped']:8d} {share:>7s}")
    print(f"\nlanguages: {card['by_language']}   {card['eval_exclusion']}")
