"""``python -m ingestion tables``: find table rows in the indexed reports, or re-read the tables.

python -m ingestion tables --company 3M --find "Safety and Graphics sales change"
python -m ingestion tables --company 华锦股份 --year 2019 --find "销售量 尿素" --json
python -m ingestion tables --reextract [DOC_ID ...]     # re-read tables from the PDFs

``--json`` prints one JSON line per row, best first: ``file``, ``page``, ``table`` (title), ``row``
(label with its parents), ``cells`` ([{column, value, display}]), ``unit``, ``scale``,
``currency``. ``--year`` keeps the reports that can show that year and the cells of its columns.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from backend.settings import Settings
from ingestion.clitools import add_report_arguments, reextract

HELP = "find rows of the tables read from the reports (or re-read them)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``python -m ingestion tables``."""
    p.add_argument("--company", help="company name, short name or ticker (fuzzy, en + zh)")
    p.add_argument("--year", type=int, help="fiscal year: reports showing it, cells of its column")
    p.add_argument("--find", help="words of the row, its table or its column headers")
    add_report_arguments(p, limit=10, what="tables")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from backend.store.catalog import Catalog
    from backend.store.facts import FactStore
    from backend.store.tables import TableStore

    catalog = Catalog(settings.catalog_path)
    if args.reextract is not None:
        return _reextract(settings, catalog, args.reextract)
    if not args.find:
        print("error: --find WORDS is required (or --reextract)", file=sys.stderr)
        return 2
    docs = catalog.documents()
    if args.doc:
        docs = [catalog.find_document(args.doc)]
    if args.company:
        docs = [d for d in FactStore(catalog).resolve_company(args.company) if d in docs]
        if not docs:
            print(f"no indexed report matches the company '{args.company}'", file=sys.stderr)
            return 1
    if args.year:
        docs = [d for d in docs if d.fiscal_year in (None, args.year, args.year + 1, args.year + 2)]
    hits = TableStore(catalog).find_rows(
        args.find, doc_ids=[d.doc_id for d in docs], limit=args.limit
    )
    if args.year:
        for h in hits:
            same = [c for c in h.cells if re.search(rf"(?<!\d){args.year}(?!\d)", c.column)]
            h.cells = same or h.cells
    if not hits:
        print("no table row matches", file=sys.stderr)
        return 1
    for h in hits:
        if args.json:
            print(json.dumps(h.to_dict(), ensure_ascii=False))
            continue
        cells = " | ".join(f"{c.column or '?'}: {h.display(c)}" for c in h.cells)
        print(f"[{h.file_name} p.{h.page}] {h.title[:50]} :: {h.full_label[:70]} :: {cells}")
    return 0


def _reextract(settings: Settings, catalog, wanted: list[str]) -> int:  # noqa: ANN001
    """Re-read tables from the stored PDFs without re-embedding (after a reader update)."""
    from backend.store.tables import row_tokens
    from ingestion.sandbox import Limits, extract_tables

    limits = Limits.of(settings)

    def redo(doc, path, pages) -> str:  # noqa: ANN001
        tables = extract_tables(pages, limits, language=doc.language, pdf_path=path)
        catalog.replace_tables(doc.doc_id, tables, row_tokens(tables))
        return f"tables={len(tables)} rows={sum(len(t.rows) for t in tables)}"

    return reextract(settings, catalog, wanted, redo)
