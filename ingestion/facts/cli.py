"""``python -m ingestion facts``: query the statement facts, show checks, re-extract.

python -m ingestion facts --company 3M --year 2018 --item capex
python -m ingestion facts --company 华锦股份 --item 净利润 --scope parent --json
python -m ingestion facts --company "3M" --checks          # accounting checks per statement
python -m ingestion facts --reextract [DOC_ID ...]         # re-read statements from the PDFs
"""

from __future__ import annotations

import argparse
import json
import sys

from backend.settings import Settings
from ingestion.clitools import add_report_arguments, reextract

HELP = "query financial-statement facts (or re-extract them)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``python -m ingestion facts``."""
    p.add_argument("--company", help="company name, short name or ticker (fuzzy, en + zh)")
    p.add_argument("--year", type=int, help="fiscal year of the column")
    p.add_argument("--item", help="canonical key (see --items), words naming it, or label text")
    p.add_argument(
        "--scope",
        choices=["consolidated", "parent", "all"],
        default="consolidated",
        help="consolidated (default), parent-company statements, or both",
    )
    p.add_argument("--statement", choices=["income", "balance", "cashflow"])
    p.add_argument("--checks", action="store_true", help="show accounting checks instead")
    p.add_argument("--items", action="store_true", help="list the canonical item keys")
    add_report_arguments(p, limit=200, what="statements")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from backend.store.catalog import Catalog
    from backend.store.facts import FactStore, canonical_items

    if args.items:
        for key, desc in canonical_items().items():
            print(f"{key:28s} {desc}")
        return 0
    catalog = Catalog(settings.catalog_path)
    if args.reextract is not None:
        return _reextract(settings, catalog, args.reextract)
    store = FactStore(catalog)
    doc_ids = [catalog.find_document(args.doc).doc_id] if args.doc else None
    if args.checks:
        return _print_checks(store, args, doc_ids)
    hits = store.lookup(
        company=args.company,
        item=args.item,
        year=args.year,
        scope=None if args.scope == "all" else args.scope,
        statement=args.statement,
        doc_ids=doc_ids,
        limit=args.limit,
    )
    if args.json:
        for h in hits:
            print(json.dumps(h.to_dict(), ensure_ascii=False))
        return 0 if hits else 1
    if not hits:
        if args.company and not store.resolve_company(args.company):
            print(f"no indexed report matches the company '{args.company}'", file=sys.stderr)
        else:
            print("no facts match", file=sys.stderr)
        return 1
    print(f"{'company':24s} {'year':4s} {'statement':18s} {'item':24s} {'value':>26s}  source")
    for h in hits:
        f = h.fact
        flag = {False: " (checks failed)", None: ""}.get(h.checked, "")
        where = f"{f.statement}/{f.scope[:6]}"
        print(
            f"{h.report_company[:24]:24s} {f.fiscal_year:4d} {where:18s} {(f.item or '-')[:24]:24s}"
            f" {h.display()[:26]:>26s}  {h.citation} {f.label[:50]}{flag}"
        )
    return 0


def _print_checks(store, args: argparse.Namespace, doc_ids: list[str] | None) -> int:  # noqa: ANN001
    docs = store.resolve_company(args.company) if args.company else store.documents()
    if doc_ids:
        docs = [d for d in docs if d.doc_id in doc_ids]
    rows = 0
    for d in docs:
        for c in store.checks(d.doc_id):
            if args.year and c.fiscal_year != args.year:
                continue
            rows += 1
            if args.json:
                print(json.dumps({"file": d.file_name, **c.to_dict()}, ensure_ascii=False))
            else:
                mark = "ok  " if c.passed else "FAIL"
                print(
                    f"{mark} {d.file_name[:40]:40s} {c.fiscal_year} {c.statement}/{c.scope} "
                    f"p.{c.page}: {c.name} — {c.detail}"
                )
    if not rows:
        print("no checks recorded (no statements found in these reports)", file=sys.stderr)
    return 0


def _reextract(settings: Settings, catalog, wanted: list[str]) -> int:  # noqa: ANN001
    """Re-read facts from the stored PDFs without re-embedding (after an extractor update)."""
    from ingestion.sandbox import Limits, extract_facts

    limits = Limits.of(settings)

    def redo(doc, path, pages) -> str:  # noqa: ANN001
        facts, checks = extract_facts(
            pages,
            limits,
            doc_id=doc.doc_id,
            company=doc.company,
            language=doc.language,
            fiscal_year=doc.fiscal_year,
            pdf_path=path,
        )
        catalog.replace_facts(doc.doc_id, facts, checks)
        return f"facts={len(facts)} checks={sum(c.passed for c in checks)}/{len(checks)}"

    return reextract(settings, catalog, wanted, redo)
