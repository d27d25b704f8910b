"""Plain records passed between ingestion steps and read by the backend."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(kw_only=True)
class ReportSummary:
    """What a report is and what indexing found in it: a catalogued :class:`Document` and the
    result of indexing one file both carry it."""

    company: str = ""
    fiscal_year: int | None = None
    report_type: str = ""
    language: str = "en"
    pages: int = 0
    chunks: int = 0
    facts: int = 0
    checks_passed: int = 0
    checks_failed: int = 0

    def summary(self) -> dict[str, Any]:
        """The summary's fields alone."""
        return {f.name: getattr(self, f.name) for f in fields(ReportSummary)}


@dataclass
class Document(ReportSummary):
    """One indexed report. ``doc_id`` is the first 16 hex digits of the file's sha256."""

    doc_id: str
    file_name: str
    source_path: str = ""
    stored_path: str = ""
    sha256: str = ""
    size_bytes: int = 0
    aliases: list[str] = field(default_factory=list)
    ticker: str = ""
    pages_with_text: int = 0
    status: str = "indexing"
    error: str = ""
    meta_edited: bool = False
    embedder: str = ""
    added_at: str = ""
    updated_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def label(self) -> str:
        year = f" {self.fiscal_year}" if self.fiscal_year else ""
        return f"{self.company or self.file_name}{year} {self.report_type}".strip()


@dataclass
class Chunk:
    """A piece of one page. ``text`` is shown to users; ``index_text`` adds context for search."""

    chunk_id: str
    doc_id: str
    page: int
    seq: int
    text: str
    section: str = ""
    heading: str = ""
    language: str = "en"

    def context_line(self, doc: Document) -> str:
        parts = [doc.label, self.section, self.heading]
        return " | ".join(p for p in parts if p)

    def index_text(self, doc: Document) -> str:
        return f"{self.context_line(doc)}\n{self.text}"


@dataclass
class Fact:
    """One number from a primary financial statement, with its provenance.

    ``value`` is the number as printed (sign applied: parentheses and "-" mean negative) in the
    statement's unit; ``scale`` turns it into base currency units (1, 1e3, 1e6, 1e4 for 万元,
    1e8 for 亿元). ``fiscal_year`` is the column's period, not the report's.
    """

    doc_id: str
    company: str
    fiscal_year: int
    statement: str  # income | balance | cashflow
    scope: str  # consolidated | parent
    label: str
    item: str | None
    value: float
    scale: float
    unit_label: str
    currency: str
    page: int
    raw: str = ""
    period_end: str = ""

    @property
    def base_value(self) -> float:
        return self.value * self.scale

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["base_value"] = self.base_value
        return d


@dataclass
class StatementCheck:
    """An accounting identity checked on a parsed statement (e.g. assets = liabilities + equity)."""

    doc_id: str
    statement: str
    scope: str
    fiscal_year: int
    name: str
    passed: bool
    detail: str
    page: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Cell:
    """One table cell: its column's header text, the cell as printed and its value (sign applied,
    before the table's scale; None for a nil dash or text)."""

    column: str
    text: str
    value: float | None
    percent: bool = False
    index: int = -1  # the column's position in its table (-1: unknown)


@dataclass
class TableRow:
    """A row of a table: its label, the labels of the rows it sits under (outermost first)."""

    label: str
    path: list[str]
    cells: list[Cell]


@dataclass
class Table:
    """A table read from one page: title, unit (scale and currency), column headers and rows."""

    page: int
    title: str
    columns: list[str]
    rows: list[TableRow]
    unit_label: str = ""
    scale: float = 1.0
    currency: str = ""
    label_header: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
