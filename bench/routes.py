"""Routing without a model or an index: which questions the routing rule sends to the facts route.

    python bench/routes.py                               # every dev question
    python bench/routes.py --save /tmp/routes_old.json   # keep each question's route …
    python bench/routes.py --against /tmp/routes_old.json   # … and list those that changed since

Each question is planned as the evaluation asks it (its report selected) against a company index
built from the reports' covers: the first pages of every report the questions need are read and
their company, aliases and year detected as ingestion does (:func:`ingestion.meta.detect`), with
no chunks, vectors or facts. The route is then the engine's own decision
(:func:`backend.answering.route.analyse` + :func:`~backend.answering.route.takes_facts_route`):
``facts`` where the facts route is tried, else ``other`` (the table route, or search and the
model). Whether the facts route then finds the figures is not measured here.

Prints a short table (counts by dataset, and the questions whose route changed against
``--against``) and one JSON line.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from backend.answering.plan import CompanyIndex, plan_query
from backend.answering.route import analyse, takes_facts_route
from backend.evaluation.runner import item_docs, load_items
from backend.records import Document
from ingestion.clean import detect_language
from ingestion.meta import detect
from ingestion.pdf import read_pages

ROOT = Path(__file__).resolve().parent.parent
COVER_PAGES = 10  # what :func:`ingestion.meta.detect` reads for the company


def cover_document(corpus: Path, rel: str) -> Document:
    """A catalogue record of one report from its first pages: company, aliases, year."""
    path = corpus / rel
    pages = list(itertools.islice(read_pages(path), COVER_PAGES))
    language = detect_language(pages)
    meta = detect(pages, path, language)
    return Document(
        doc_id=rel,
        file_name=path.name,
        company=meta.company,
        fiscal_year=meta.fiscal_year,
        report_type=meta.report_type,
        language=language,
        aliases=meta.aliases,
        ticker=meta.ticker,
        status="indexed",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--questions", type=Path, default=ROOT.parent / "shared/corpus/dev.jsonl")
    ap.add_argument("--corpus", type=Path, default=None, help="default: the questions' folder")
    ap.add_argument("--save", type=Path, help="write each question's route here (JSON)")
    ap.add_argument("--against", type=Path, help="a --save file: list the routes that changed")
    args = ap.parse_args()
    corpus = args.corpus or args.questions.parent
    items = load_items(args.questions)
    t0 = time.perf_counter()
    wanted = sorted({rel for it in items for rel in item_docs(it)})
    docs = [cover_document(corpus, rel) for rel in wanted if (corpus / rel).is_file()]
    index = CompanyIndex.build(docs)
    read_s = time.perf_counter() - t0

    routes: dict[str, dict[str, str]] = {}
    by_set: Counter[tuple[str, str]] = Counter()
    for it in items:
        filt = [d for d in item_docs(it) if d in index.docs] or None
        plan = plan_query(it["question"], index, doc_filter=filt)
        route = "facts" if takes_facts_route(plan, analyse(plan.question)) else "other"
        routes[it["id"]] = {"question": it["question"], "route": route}
        by_set[(it.get("dataset", ""), route)] += 1

    facts = sum(r["route"] == "facts" for r in routes.values())
    print(f"{'dataset':<18} {'facts':>6} {'other':>6}")
    for ds in sorted({d for d, _ in by_set}):
        print(f"{ds:<18} {by_set[(ds, 'facts')]:>6} {by_set[(ds, 'other')]:>6}")
    print(f"{'all':<18} {facts:>6} {len(routes) - facts:>6}")

    changed = []
    if args.against:
        old = json.loads(args.against.read_text(encoding="utf-8"))
        for qid, now in routes.items():
            was = old.get(qid, {}).get("route")
            if was and was != now["route"]:
                changed.append(qid)
                print(f"  {was} -> {now['route']}: {now['question'][:110]}")
    if args.save:
        args.save.write_text(json.dumps(routes, ensure_ascii=False, indent=1), encoding="utf-8")
    print(
        json.dumps(
            {
                "bench": "routes",
                "questions": len(routes),
                "reports": len(docs),
                "facts_route": facts,
                "changed": len(changed) if args.against else None,
                "changed_ids": changed,
                "read_covers_s": round(read_s, 1),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
