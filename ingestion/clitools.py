"""What the ``facts`` and ``tables`` sub-commands of ``python -m ingestion`` share: the arguments
that pick reports and shape the output, and the loop that re-reads stored PDFs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backend.settings import Settings
    from backend.store.catalog import Catalog


def add_report_arguments(p: argparse.ArgumentParser, *, limit: int, what: str) -> None:
    """``--doc``, ``--limit`` (default ``limit``), ``--json`` and ``--reextract`` (of ``what``)."""
    p.add_argument("--doc", help="only this document id (or unique prefix)")
    p.add_argument(
        "--limit", type=int, default=limit, help=f"at most this many rows (default {limit})"
    )
    p.add_argument("--json", action="store_true", help="print JSON lines")
    p.add_argument(
        "--reextract",
        nargs="*",
        metavar="DOC_ID",
        help=f"re-read the {what} of these documents (all when none given) from their PDFs",
    )


def reextract(
    settings: Settings,
    catalog: Catalog,
    wanted: list[str],
    redo: Callable[[Any, Any, list], str],
) -> int:
    """Re-read the stored PDFs of ``wanted`` documents (all when empty) without re-embedding:
    ``redo(doc, path, pages)`` re-reads and stores one document and returns what it found, printed
    beside the document. 1 when any document could not be read."""
    from ingestion.pipeline import stored_reports

    failed = 0
    for found in stored_reports(settings, catalog, wanted):
        if len(found) == 2:
            print(f"FAILED  {found[1]}", file=sys.stderr)
            failed += 1
            continue
        doc, path, pages = found
        print(f"{doc.doc_id}  {doc.file_name[:48]:48s} {redo(doc, path, pages)}")
    return 1 if failed else 0
