"""The one answer of a question split into parts (:mod:`.decompose`): its cells, and the writer
that assembles them — a table of the figures found (one row per figure, one column per year or
company, every cell with its page), each change with its calculation, and a sentence naming every
part not found. Nothing here reads a report: every number is a cell a deterministic route found
(with its citation) or a result of the ``calculate`` tool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from backend.answering.answer import Answer, Citation
from backend.answering.facts_route import FACTS_MODEL, change_sentence, percent_change
from backend.answering.plan import QueryPlan
from backend.answering.route import Route
from backend.answering.tools import Toolbox
from backend.domain import format as fmt
from backend.domain.metrics import Metric
from backend.records import Fact

PARTS_MODEL = "facts and tables (no model needed)"


@dataclass(frozen=True)
class Figure:
    """One thing the question asks the value of: a statement item or a metric, as written."""

    key: str
    phrase: str
    metric: Metric | None = None
    #: where the question names it
    start: int = 0
    end: int = 0


@dataclass
class Cell:
    """One figure of one year and company, answered (value, shown text, citations) or not."""

    figure: Figure
    year: int | None
    company: str | None
    question: str
    value: float | None = None
    unit: str = ""
    shown: str = ""
    citations: list[Citation] = field(default_factory=list)
    via: str = ""
    #: the statement fact the value is (None: a metric or a table cell), to format a change
    fact: Fact | None = None
    #: a warning the route added (a statement that failed an accounting check)
    warning: str = ""

    @property
    def found(self) -> bool:
        return self.value is not None


@dataclass
class Split:
    """The parts of a question: every figure × year × company, and whether the change between
    the first and the last year is asked."""

    figures: list[Figure]
    years: list[int]
    companies: list[str | None]
    change: bool
    #: one figure and its change between two years ("gross margin in 2018 and how did it
    #: change from 2017"): the facts route answers every part of it at once, so it is asked
    #: first, and the parts answer (from the tables too) only when every one is found
    facts_first: bool = False


@dataclass
class _Change:
    """The change of one figure (of one company) between the first and the last year asked."""

    label: str
    first: Cell
    last: Cell
    value: float
    unit: str
    text: str


class Writer:
    """Assembles the one answer of a split question: the table, the changes, the parts missing."""

    def __init__(
        self, plan: QueryPlan, route: Route, parts: Split, cells: list[Cell], toolbox: Toolbox
    ) -> None:
        self.plan, self.route, self.parts, self.cells = plan, route, parts, cells
        self.toolbox = toolbox
        self.lang = plan.language

    def write(self, answer: Answer) -> None:
        found = [c for c in self.cells if c.found]
        changes, unchanged = self._changes()
        if len(found) == 1 and not changes:
            colon = "：" if self.lang == "zh" else ": "
            body = f"{self._name(found[0])}{colon}{self._cite(found[0])}"
        else:
            body = self._table()
        lead = self._lead()
        text = "\n\n".join(x for x in [lead, body, *[c.text for c in changes]] if x)
        missing = [self._name(c) for c in self.cells if not c.found] + unchanged
        if missing:
            gone = "、".join(missing) if self.lang == "zh" else "; ".join(missing)
            text += (
                f"\n\n在已索引的报告中未找到：{gone}。"
                if self.lang == "zh"
                else f"\n\nNot found in the indexed reports: {gone}."
            )
        for warning in dict.fromkeys(c.warning for c in found if c.warning):
            text += "\n\n⚠" + warning
        answer.answer = text
        answer.citations = unique_citations([x for c in found for x in c.citations])
        if changes:
            answer.value, answer.unit = changes[0].value, changes[0].unit
        else:
            answer.value, answer.unit = found[0].value, found[0].unit
        answer.unverified_numbers = []
        every_fact = all(c.via == "facts" for c in found)  # the label the app translates
        answer.model = answer.model or (FACTS_MODEL if every_fact else PARTS_MODEL)
        answer.parts = [
            {"item": c.figure.phrase, "year": c.year, "company": c.company, "value": c.value,
             "page": c.citations[0].page if c.citations else None, "via": c.via}
            for c in found
        ] + [{"part": m, "found": False} for m in missing]  # fmt: skip

    # -- pieces -------------------------------------------------------------------------------
    def _lead(self) -> str:
        if self.parts.companies != [None] or not self.plan.companies:
            return ""
        company = self.plan.companies[0]
        return f"{company}：" if self.lang == "zh" else f"{company}:"

    def _table(self) -> str:
        """One row per figure, one column per company and year; each cell cites its page."""
        columns = [(co, y) for co in self.parts.companies for y in self.parts.years or [None]]
        heads = [self._column(co, y) for co, y in columns]
        first = "项目" if self.lang == "zh" else "Item"
        lines = ["| " + " | ".join([first, *heads]) + " |", "|---" * (len(heads) + 1) + "|"]
        for fig in self.parts.figures:
            row = [self._label(fig)]
            for co, y in columns:
                cell = self._at(fig, y, co)
                row.append(self._cite(cell) if cell and cell.found else "—")
            lines.append("| " + " | ".join(row) + " |")
        return "\n".join(lines)

    def _column(self, company: str | None, year: int | None) -> str:
        if self.lang == "zh":
            when = f"{year}年" if year else "数值"
            return f"{company} {when}" if company else when
        when = f"FY{year}" if year else "Value"
        return f"{company} {when}" if company else when

    def _changes(self) -> tuple[list[_Change], list[str]]:
        """Each figure's change from the first to the last year asked (computed with the
        ``calculate`` tool), and the changes that could not be computed, named."""
        if not self.parts.change:
            return [], []
        y0, y1 = self.parts.years[0], self.parts.years[-1]
        done: list[_Change] = []
        missing: list[str] = []
        for company in self.parts.companies:
            for fig in self.parts.figures:
                a, b = self._at(fig, y0, company), self._at(fig, y1, company)
                change = self._change(a, b) if a and b and a.found and b.found else None
                if change is None:
                    missing.append(self._change_name(fig, company, y0, y1))
                else:
                    done.append(change)
        return done, missing

    def _change(self, a: Cell, b: Cell) -> _Change | None:
        """The change from cell ``a`` to ``b``: percentage points between two percentages, else
        the difference and the percent change (the value stated: the percent change when the
        question asks for a percentage, as the facts route states it)."""
        if a.unit != b.unit or a.value is None or b.value is None:
            return None  # two sources in different units: not comparable as they stand
        v0, v1 = fmt.plain(a.value), fmt.plain(b.value)
        diff = self.toolbox.call("calculate", {"expression": f"{v1} - {v0}"})
        if diff.error:
            return None
        d = diff.result["value"]
        label, y0, y1 = self._label(a.figure), a.year, b.year
        who = f"{a.company} " if a.company else ""
        if a.unit == "%":
            expr = f"{v1} - {v0}"
            if self.lang == "zh":
                text = (
                    f"{who}{label}由{y0}年的{a.shown}变为{y1}年的{b.shown}，变动{d:+,.2f}个百分点。"
                    f"计算：{expr} = {d:,.2f}。"
                )
            else:
                text = (
                    f"{who}{label} went from {a.shown} in FY{y0} to {b.shown} in FY{y1}, a change "
                    f"of {d:+,.2f} percentage points. Calculation: {expr} = {d:,.2f}."
                )
            return _Change(label, a, b, round(d, 2), "pp", text)
        change = percent_change(self.toolbox, a.value, b.value)
        if change is None:
            return None
        pct, expr = change
        delta = self._delta(b, d)
        text = change_sentence(
            self.lang, f"{who}{label}", (y0, y1), (a.shown, b.shown), delta, pct, expr
        )
        if self.route.percent:
            return _Change(label, a, b, round(pct, 2), "%", text)
        return _Change(label, a, b, d, b.unit, text)

    def _delta(self, like: Cell, diff: float) -> str:
        """A difference formatted like the figure it is a difference of."""
        if like.fact is not None:
            return fmt.amount(replace(like.fact, value=diff, raw=""), self.lang)
        decimals = 0 if float(diff).is_integer() else 2
        return f"{diff:+,.{decimals}f} {like.unit}".strip()

    # -- helpers ------------------------------------------------------------------------------
    def _at(self, fig: Figure, year: int | None, company: str | None) -> Cell | None:
        return next(
            (c for c in self.cells if (c.figure, c.year, c.company) == (fig, year, company)), None
        )

    def _label(self, fig: Figure) -> str:
        return fig.phrase[:1].upper() + fig.phrase[1:]

    def _when(self, cell: Cell) -> str:
        if self.lang == "zh":
            return f" {cell.year}年" if cell.year else ""
        return f" FY{cell.year}" if cell.year else ""

    def _cite(self, cell: Cell) -> str:
        return " ".join([cell.shown, *(c.tag for c in unique_citations(cell.citations))])

    def _name(self, cell: Cell) -> str:
        who = f"{cell.company} " if cell.company else ""
        return f"{who}{self._label(cell.figure)}{self._when(cell)}"

    def _change_name(self, fig: Figure, company: str | None, y0: int, y1: int) -> str:
        who = f"{company} " if company else ""
        if self.lang == "zh":
            return f"{who}{self._label(fig)}{y0}–{y1}年的变动"
        return f"{who}change in {fig.phrase} FY{y0}–FY{y1}"


def unique_citations(cites: Sequence[Citation]) -> list[Citation]:
    out: list[Citation] = []
    for c in cites:
        if all((c.doc_id, c.page) != (x.doc_id, x.page) for x in out):
            out.append(c)
    return out
