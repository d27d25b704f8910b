"""Exports: an answer with its citations and calculation as Markdown, CSV or XLSX; the numbers it
used as a real table (items × companies/years); a whole conversation as Markdown.

The numbers come from the answer's audit trail (the statement facts the tools returned, each with
its page, and every calculation), never from re-reading the answer text. Text written by the model
or copied from a report is exported as text: images and links removed (a planted image must not
fetch anything in a Markdown viewer either); a CSV/XLSX cell never starts a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backend.app.display import strip_links

DATA_COLUMNS = ["company", "fiscal_year", "item", "value", "unit", "currency", "source", "page"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Export:
    question: str
    answer: Any  # backend.answering.answer.Answer
    labels: dict[str, str]  # citation tag → short label

    @property
    def text(self) -> str:
        """The answer as plain text, citations as their short labels."""
        return plain(self.answer.answer, self.labels)

    def sources(self) -> list[tuple[str, str, int]]:
        """(label, file, page) of every citation."""
        return [(self.labels.get(c.tag, c.tag), c.file, c.page) for c in self.answer.citations]


def plain(text: str, labels: dict[str, str]) -> str:
    out = strip_links(text)
    for tag, label in labels.items():
        out = out.replace(tag, f"[{label}]")
    return out


# --- numbers from the trace -----------------------------------------------------------------------
def data_rows(answer: Any) -> list[dict[str, Any]]:
    """The statement figures the answer used: the first row of every get_fact call that found
    one, every row of a comparison (one per cell, deduplicated)."""
    rows: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for step in answer.trace:
        if step.get("step") != "tool" or not isinstance(step.get("result"), list):
            continue
        found = [r for r in step["result"] if isinstance(r, dict) and "value" in r]
        for r in found[:1] if step.get("tool") == "get_fact" else found:
            key = (r.get("doc_id"), r.get("page"), r.get("label"), r.get("year"))
            if key in seen:
                continue
            seen.add(key)
            rows.append(
                {
                    "company": r.get("company", ""),
                    "fiscal_year": r.get("year"),
                    "item": r.get("label") or r.get("item", ""),
                    "value": r.get("value"),
                    "unit": r.get("unit", ""),
                    "currency": r.get("currency", ""),
                    "source": r.get("file", ""),
                    "page": r.get("page"),
                }
            )
    return rows


def calculations(answer: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for step in answer.trace:
        result = step.get("result")
        if step.get("tool") == "calculate" and isinstance(result, dict) and not step.get("error"):
            calc = {"expression": result.get("expression"), "value": result.get("value")}
            if calc not in out:
                out.append(calc)
    return out


def pivot(rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Items as rows, "company FY" as columns: (header, body)."""
    columns = list(dict.fromkeys(f"{r['company']} {r['fiscal_year']}".strip() for r in rows))
    items = list(
        dict.fromkeys(f"{r['item']} ({r['unit']})" if r["unit"] else r["item"] for r in rows)
    )
    body = []
    for item in items:
        line: list[Any] = [item] + [None] * len(columns)
        for r in rows:
            name = f"{r['item']} ({r['unit']})" if r["unit"] else r["item"]
            if name == item:
                line[1 + columns.index(f"{r['company']} {r['fiscal_year']}".strip())] = r["value"]
        body.append(line)
    return ["item", *columns], body


# --- formats -------------------------------------------------------------------------------------
def _md_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def answer_markdown(ex: Export, heading: str = "##") -> str:
    lines = [f"{heading} {_md_cell(strip_links(ex.question))}", "", ex.text.replace("<", "&lt;")]
    rows = data_rows(ex.answer)
    if len(rows) > 1:
        header, body = pivot(rows)
        lines += [
            "",
            "| " + " | ".join(_md_cell(h) for h in header) + " |",
            "|" + "---|" * len(header),
        ]
        lines += ["| " + " | ".join(_md_cell(v) for v in line) + " |" for line in body]
    calcs = calculations(ex.answer)
    if calcs:
        lines += ["", "Calculation:", ""] + [f"- `{c['expression']} = {c['value']}`" for c in calcs]
    if ex.answer.citations:
        lines += ["", "Sources:", ""] + [f"- {lab}: {f} p.{p}" for lab, f, p in ex.sources()]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet never evaluates as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def answer_csv(ex: Export) -> str:
    """One table: the figures used (with source and page), then the calculations, then the
    answer text and its sources."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["kind", *DATA_COLUMNS, "expression"])
    for r in data_rows(ex.answer):
        w.writerow([_cell(v) for v in ["figure", *(r[c] for c in DATA_COLUMNS), ""]])
    for c in calculations(ex.answer):
        w.writerow(["calculation", "", "", "", c["value"], "", "", "", "", _cell(c["expression"])])
    value = ex.answer.value if ex.answer.value is not None else ""
    w.writerow(
        ["answer", "", "", _cell(ex.question), value, ex.answer.unit, "", "", "", _cell(ex.text)]
    )
    for label, file, page in ex.sources():
        w.writerow(["source", "", "", _cell(label), "", "", "", _cell(file), page, ""])
    return buf.getvalue()


def answer_xlsx(ex: Export) -> bytes:
    """A workbook: Answer (question, answer, sources), Data (figures with pages), Table (items ×
    companies/years), Calculation."""
    from openpyxl import Workbook

    wb = Workbook()
    sheet = wb.active
    sheet.title = "Answer"
    _rows(
        sheet,
        [
            ["question", ex.question],
            ["answer", ex.text],
            ["value", ex.answer.value],
            ["unit", ex.answer.unit],
        ],
    )
    _rows(sheet, [[], ["source", "file", "page"], *[list(s) for s in ex.sources()]])
    rows = data_rows(ex.answer)
    _rows(wb.create_sheet("Data"), [DATA_COLUMNS, *[[r[c] for c in DATA_COLUMNS] for r in rows]])
    header, body = pivot(rows)
    _rows(wb.create_sheet("Table"), [header, *body])
    calcs = [[c["expression"], c["value"]] for c in calculations(ex.answer)]
    _rows(wb.create_sheet("Calculation"), [["expression", "value"], *calcs])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _rows(sheet: Any, rows: Sequence[Sequence[Any]]) -> None:
    """Append rows; strings stay strings (never formulas)."""
    for values in rows:
        sheet.append([None] * len(values))
        for col, value in enumerate(values, start=1):
            cell = sheet.cell(row=sheet.max_row, column=col)
            cell.value = value
            if isinstance(value, str):
                cell.data_type = "s"


def conversation_markdown(title: str, exports: Sequence[Export]) -> str:
    parts = [f"# {_md_cell(strip_links(title))}", ""]
    parts += [answer_markdown(ex, heading="##") for ex in exports]
    return "\n".join(parts)
