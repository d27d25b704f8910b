"""Few-shot data generation: throughput and the share kept by each filter, per report.

    nice -n 10 python bench/fewshot.py                        # templates only (no model)
    nice -n 10 python bench/fewshot.py --llm --model qwen2.5-0.5b --llm-per-doc 4
    python bench/fewshot.py --data-dir DIR --en PDF --zh PDF --per-doc 30

Indexes one English 10-K and one Chinese 年报 (defaults: Weis Markets 2022 from the ERC corpus,
北方华锦 2019 from FinGLM) into its own data dir (kept between runs: re-adding an unchanged file is
a no-op), then generates from each report alone (seeds left out) and reports:

* items/min: kept items per minute of generation (indexing not counted), and candidates/min;
* per filter: how many items it checked and the share it kept;
* the baseline is the raw generator output: "candidates" is what a generator without filters
  would have written, "kept" what survives; with --llm the model-written items are timed
  separately against the template items of the same run.

Prints a short table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from backend.app.services import build_services
from backend.settings import Settings
from ingestion.fewshot.generate import Options, generate_dataset

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "reports"
EN = CORPUS / "erc_round2/31a60b930e0f1034afff6e2d1e406e7d9141b2a1.pdf"
ZH = CORPUS / (
    "finglm_cn/2020-04-03__北方华锦化学工业股份有限公司__000059__华锦股份__2019年__年度报告.pdf"
)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--data-dir", default=str(Path(tempfile.gettempdir()) / "annalyst-bench-fewshot")
    )
    ap.add_argument("--en", default=str(EN), help="English report (PDF)")
    ap.add_argument("--zh", default=str(ZH), help="Chinese report (PDF)")
    ap.add_argument("--per-doc", type=int, default=30)
    ap.add_argument("--llm", action="store_true", help="also let the model write narrative items")
    ap.add_argument("--model", default=None, help="model preset or GGUF for --llm")
    ap.add_argument(
        "--llm-per-doc",
        type=int,
        default=None,
        help="narrative passages per report for --llm (default: the budget's share)",
    )
    args = ap.parse_args()

    services = build_services(Settings.given(data_dir=Path(args.data_dir), chat_model=args.model))
    t0 = time.perf_counter()
    results = services.ingestor.add([Path(args.en), Path(args.zh)])
    index_s = time.perf_counter() - t0
    failed = [r.error for r in results if r.status == "failed"]
    if failed:
        print("indexing failed:", failed, file=sys.stderr)
        return 1
    docs = {r.doc_id: r for r in results}
    services.retriever.search("warm up the embedder", k=1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for doc_id, r in docs.items():
            opts = Options(
                per_doc=args.per_doc,
                use_llm=args.llm,
                doc_ids=[doc_id],
                include_seeds=False,
                val_share=0.0,
                narrative_per_doc=args.llm_per_doc,
            )
            out = generate_dataset(services, Path(tmp) / doc_id, opts)
            card = out["card"]
            minutes = out["seconds"] / 60
            llm_items = sum(v for k, v in card["by_generator"].items() if k.startswith("llm"))
            rows.append(
                {
                    "report": r.file[:40],
                    "language": r.language,
                    "pages": r.pages,
                    "seconds": out["seconds"],
                    "candidates": out["candidates"],
                    "kept": out["kept"],
                    "items_per_min": round(out["kept"] / minutes, 1) if minutes else None,
                    "candidates_per_min": round(out["candidates"] / minutes, 1)
                    if minutes
                    else None,
                    "llm_items": llm_items,
                    "by_type": {t: v["train"] + v["val"] for t, v in card["by_type"].items()},
                    "by_language": card["by_language"],
                    "filters": {
                        k: {"checked": v["checked"], "kept_share": v["kept_share"]}
                        for k, v in card["filters"].items()
                    },
                    "generation": card["generation"],
                }
            )
    print(f"{'report':42s} {'lang':4s} {'sec':>6s} {'cand':>5s} {'kept':>5s} {'items/min':>9s}")
    for row in rows:
        print(
            f"{row['report']:42s} {row['language']:4s} {row['seconds']:6.0f} "
            f"{row['candidates']:5d} {row['kept']:5d} {row['items_per_min'] or 0:9.1f}"
        )
    names = list(rows[0]["filters"])
    print(f"\n{'filter':18s} " + " ".join(f"{r['language'] + ' kept':>14s}" for r in rows))
    for name in names:
        cells = []
        for r in rows:
            f = r["filters"][name]
            share = f"{100 * f['kept_share']:.0f}% of {f['checked']}" if f["checked"] else "—"
            cells.append(f"{share:>14s}")
        print(f"{name:18s} " + " ".join(cells))
    print(
        json.dumps(
            {
                "bench": "fewshot",
                "per_doc": args.per_doc,
                "llm": args.llm,
                "model": args.model if args.llm else None,
                "index_s": round(index_s, 1),
                "reports": rows,
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
