"""Query the tables read at ingestion (every table on every page: rows × columns, with headers,
unit and page; :mod:`ingestion.tables`).

    store = TableStore(catalog)
    store.find_rows("Safety and Graphics sales change", doc_ids=[...])   # → [RowHit, …] best first

A row is found by the words of its label, its parent labels, its table's title and column headers
(SQLite FTS5, BM25, the same tokeniser as the passages: English stems + jieba for Chinese).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from backend.domain.format import compact
from backend.records import Cell, Table, TableRow
from backend.store.catalog import Catalog
from backend.store.keywords import index_tokens, match_query


def row_index_text(table: Table, row: TableRow) -> str:
    """What the keyword index holds for a row: label, parents, title, headers and unit."""
    parts = [table.title, " ".join(row.path), row.label, " ".join(table.columns)]
    parts += [table.label_header, table.unit_label]
    return " | ".join(p for p in parts if p)


def row_tokens(tables: Sequence[Table]) -> list[str]:
    """Index tokens of every row of ``tables``, in order (for the catalogue's row index)."""
    return [index_tokens(row_index_text(t, r)) for t in tables for r in t.rows]


@dataclass
class RowHit:
    """A table row with its table's context and provenance."""

    row_id: int
    table_id: int
    doc_id: str
    page: int
    label: str
    path: list[str]
    cells: list[Cell]
    title: str
    columns: list[str]
    unit_label: str = ""
    scale: float = 1.0
    currency: str = ""
    label_header: str = ""
    score: float = 0.0
    file_name: str = field(default="", compare=False)

    @property
    def full_label(self) -> str:
        """The label with its parents: "Total sales change > Industrial"."""
        return " > ".join([*self.path, self.label])

    def display(self, cell: Cell) -> str:
        """A cell as printed with the table's unit: '12,372 million USD', '7.21%'."""
        if cell.percent or cell.value is None:
            return cell.text
        label = f"{self.label} {' '.join(self.path)}"
        per_share = "per share" in label.lower()
        # staff in a "$ in millions" table are a plain count; "Amounts due to employees" is money
        if _HEADCOUNT.search(label) and not _MONEY.search(label):
            return compact(_CellAmount(cell.value, 1.0, "", "", cell.text))
        currency = "" if _SHARE_COUNT.search(label) and not _MONEY.search(label) else self.currency
        unit = _CellAmount(
            cell.value, 1.0 if per_share else self.scale, self.unit_label, currency, cell.text
        )
        return compact(unit)

    def to_dict(self) -> dict[str, Any]:
        """Compact form for tool results and JSON lines."""
        return {
            "file": self.file_name,
            "page": self.page,
            "table": self.title,
            "row": self.full_label,
            "cells": [
                {"column": c.column, "value": c.value, "display": self.display(c)}
                for c in self.cells
            ],
            "unit": self.unit_label,
            "scale": self.scale,
            "currency": self.currency,
            "doc_id": self.doc_id,
        }


#: Rows that count people, or shares, in a table whose unit is money.
_HEADCOUNT = re.compile(r"\b(?:staff|employees|headcount)\b|员工人数|职工人数", re.I)
_SHARE_COUNT = re.compile(r"\bshares?\b|\bshare repurchases\b", re.I)
_MONEY = re.compile(
    r"\b(?:cost|costs|price|prices|value|amounts?|proceeds|dividends?|per share|paid|compensation|"
    r"expenses?|revenues?|income|equity|capital|due|payable|accrued|benefits|salaries|wages)\b|"
    r"\$|薪酬|工资",
    re.I,
)


@dataclass
class _CellAmount:
    """A cell in the shape :func:`backend.domain.format.compact` formats."""

    value: float
    scale: float
    unit_label: str
    currency: str
    raw: str


class TableStore:
    """Read access to the tables of complete documents."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def find_rows(
        self, query: str, *, doc_ids: Sequence[str] | None = None, limit: int = 10
    ) -> list[RowHit]:
        """Rows matching the words of ``query`` among ``doc_ids`` (None: every document)."""
        return self._hits(self.catalog.table_row_search(match_query(query), doc_ids, limit))

    def table_rows(self, table_ids: Sequence[int]) -> list[RowHit]:
        """Every row of the tables ``table_ids``, in printed order (a row found by its words
        brings its table's other rows: "what percentage of A were B" names two of them)."""
        return self._hits(self.catalog.table_rows(table_ids))

    def _hits(self, rows: list[dict[str, Any]]) -> list[RowHit]:
        files = {d.doc_id: d.file_name for d in self.catalog.documents()}
        hits = []
        for r in rows:
            cells = [Cell(**c) for c in r.pop("cells")]
            hits.append(RowHit(cells=cells, file_name=files.get(r["doc_id"], r["doc_id"]), **r))
        return hits
