"""Tables: every table on every page of a report, as rows × columns with their headers, units and
page (:mod:`.reader`). The primary statements are tables too; their facts keep the dedicated
statement parser (:mod:`ingestion.facts`), which shares the same page geometry and amount rules.

``extract_tables(pdf_path, pages, language)`` runs during ingestion: only pages whose text has at
least two lines with several amounts are read with geometry (character boxes cost ~0.04 s/page).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from backend.records import Table
from ingestion.facts.layout import PdfGeometry
from ingestion.pdf import Page
from ingestion.tables.reader import read_tables

log = logging.getLogger(__name__)

__all__ = ["extract_tables", "read_tables"]

_AMOUNTS = re.compile(r"(?<![\w.])\(?-?\d{1,3}(?:,\d{3})*(?:\.\d+)?\)?%?(?![\w])")


def _may_hold_tables(text: str) -> bool:
    """Cheap test on the text layer: two or more lines with two or more amounts."""
    lines = 0
    for line in text.splitlines():
        if len(_AMOUNTS.findall(line)) >= 2:
            lines += 1
            if lines >= 2:
                return True
    return False


def extract_tables(pdf_path: Path, pages: list[Page], language: str) -> list[Table]:
    """Tables of every page that may hold one (see :func:`_may_hold_tables`)."""
    out: list[Table] = []
    with PdfGeometry(pdf_path) as geo:
        for page in pages:
            if not _may_hold_tables(page.text or ""):
                continue
            try:
                found = read_tables(geo.lines(page.number), page.number, language)
            except Exception as err:  # noqa: BLE001 - one unreadable page must not lose the rest
                log.warning("%s p.%d: tables not read (%s)", Path(pdf_path).name, page.number, err)
                continue
            if found and out and out[-1].page == page.number - 1:
                _continue_table(out[-1], found[0])
            out.extend(found)
    return out


def _continue_table(before: Table, table: Table) -> None:
    """A table at the top of a page, with no header, as many columns as the last table of the
    previous page: that table continued; it takes its headers, title and unit."""
    if any(table.columns) or len(table.columns) != len(before.columns):
        return
    table.columns = list(before.columns)
    table.title = table.title or before.title
    table.label_header = before.label_header
    if not table.unit_label:
        table.unit_label, table.scale = before.unit_label, before.scale
    table.currency = table.currency or before.currency
    for row in table.rows:
        for cell in row.cells:
            if 0 <= cell.index < len(before.columns):
                cell.column = before.columns[cell.index]
