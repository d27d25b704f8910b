"""Every part of a multi-part question: split it into one-figure sub-questions, answer each by the
deterministic routes, and assemble one answer that names each part it could not find.

"Net sales, operating income and net income for 2016–2018 as a table" asks nine figures; "gross
margin in 2018 and how did it change from 2017" asks two figures and a change. The facts route
answers one shape of question at a time (a lookup, a change of one item, a table of items), and a
small model asked everything at once answers the first part and stops. So :func:`split` turns the
question into cells — one statement item or metric × one year × one company — plus the changes
asked between the first and last year; :class:`Decomposer` asks each cell as a narrowed question
of its own (the facts route, then the table route, each under the routing rule as for any
question), and :class:`.assemble.Writer` writes one answer: a table (one row per item, one column
per year or company, every cell with its page) when there are several numbers, each change
computed with the ``calculate`` tool and its formula shown, and a sentence naming every part not
found. A part the deterministic routes cannot answer is named, never guessed; when
none can be answered the agent goes on as before (search and the model).

Only questions whose every part is a figure are split: a part that asks why, what drove or
anything else no item names leaves the question to the model (and :func:`.parts.unanswered`).
A question of one figure — a lookup, or one item's change between two years — is one part and
never comes here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from backend.answering.answer import Answer
from backend.answering.assemble import Cell, Figure, Split, Writer
from backend.answering.facts_route import FactsRoute, row_fact
from backend.answering.parts import parts as question_parts
from backend.answering.plan import QueryPlan
from backend.answering.route import (
    STANDS_FOR,
    SUM_ASK,
    Route,
    analyse,
    other_formula,
    other_inputs,
    qualified,
    takes_facts_route,
    unnamed_share,
)
from backend.answering.table_route import TableRoute
from backend.answering.tools import Toolbox
from backend.domain import format as fmt
from backend.domain.items import OUTFLOW_ITEMS, item_spans
from backend.domain.metrics import METRICS, metric_spans
from backend.domain.text import YEAR
from backend.records import Fact

log = logging.getLogger(__name__)

#: A piece of the question that asks for a change or a comparison, not for a figure of its own.
_CHANGE_ASK = re.compile(
    r"chang|compar|differ|grow|grew|increas|decreas|declin|trend|versus|\bvs\b|"
    r"变化|变动|增长|下降|增减|比较|对比|相比|较",
    re.I,
)
#: Words that make the items named beside a metric its inputs.
_AS_INPUTS = re.compile(
    r"\busing\b|\bdefin|\bcalculat|\bcomput|\bdivided\b|\bbased on\b|\bover\b|\bratio of\b|"
    r"\bnumerator\b|\bdenominator\b|/|÷|定义|计算|除以|公式",
    re.I,
)


def figures_in(question: str) -> list[Figure]:
    """The metrics and statement items the question names, in the order it names them (an item
    inside a metric's name — "gross profit" in "gross profit margin" — is the metric's)."""
    spans: list[tuple[int, int, Figure]] = []
    for metric in METRICS:
        for s, e in metric_spans(question, metric):
            spans.append((s, e, Figure(metric.key, question[s:e], metric, s, e)))
    spans.sort(key=lambda span: (span[0], -(span[1] - span[0])))
    taken: list[tuple[int, int, Figure]] = []
    for span in spans:
        if all(span[1] <= s or span[0] >= e for s, e, _ in taken):
            taken.append(span)
    for s, e, key in item_spans(question):
        if _in_parentheses(question, s):
            continue  # "净利润（含少数股东损益）" asks one item
        if all(e <= a or s >= b for a, b, _ in taken):
            taken.append((s, e, Figure(key, question[s:e], None, s, e)))
    out: dict[str, Figure] = {}
    for _, _, fig in sorted(taken, key=lambda span: span[0]):
        out.setdefault(fig.key, fig)
    return list(out.values())


def _in_parentheses(text: str, start: int) -> bool:
    head = text[:start]
    return head.count("(") + head.count("（") > head.count(")") + head.count("）")


def _qualified(question: str, names: Sequence[str], fig: Figure, figures: Sequence[Figure]) -> bool:
    """``fig`` carries a qualifier the statement line lacks (:func:`.route.qualified`), the
    other figures of the list it stands in set aside: in "营业收入和净利润" 营业收入 does not
    qualify 净利润 as "柴油机" does in "柴油机营业收入"."""
    text = question
    for other in sorted(figures, key=lambda f: f.start, reverse=True):
        if other is not fig:
            text = text[: other.start] + "、" + text[other.end :]
    return qualified(text, names, fig.metric)


def _inputs_named(question: str, figures: Sequence[Figure]) -> bool:
    """A metric and its own inputs are named as its inputs ("working capital ratio … total
    current assets divided by total current liabilities", "EBITDA using operating income and
    D&A"): one computation, its inputs spelled out. Named without such words ("revenue and
    operating margin in 2015 and 2017") they are separate asks."""
    if not _AS_INPUTS.search(question):
        return False
    inputs: set[str] = set()
    for fig in figures:
        if fig.metric is not None:
            inputs |= {key for key, _ in fig.metric.items()}
    keys = {STANDS_FOR.get(f.key, f.key) for f in figures if f.metric is None}
    metrics = [f.metric for f in figures if f.metric is not None]
    inner = [m for m in metrics if any(
        {k for k, _ in m.items()} < {k for k, _ in o.items()} or m.key in o.formula
        for o in metrics if o is not m
    )]  # fmt: skip
    return bool(keys & inputs) or bool(inner)


def split(plan: QueryPlan, route: Route) -> Split | None:
    """The parts of ``plan``'s question, or None when it is one part or not one to split (a
    reason, a yes/no, an average, a sum or a formula of its own, a qualified item)."""
    question = plan.question
    if route.reasons or route.boolean or route.definition is not None:
        return None
    if route.narrow or other_formula(route) or unnamed_share(question, route.metric):
        return None
    figures = figures_in(question)
    if not figures or not _separate(question, plan.names, route, figures):
        return None
    # what the question asks of its figures, their names set aside ("负债合计" is no sum)
    bare = _blank(question, figures)
    asks = analyse(bare)
    if asks.average or SUM_ASK.search(bare):
        return None
    if asks.compute and not (asks.change or asks.compare):
        return None  # a sum, ratio or difference between items: one computation, not parts
    change = asks.change or (asks.compare and plan.named <= 1)
    years = _years(plan, route, change)
    if change and len(years) < 2:
        return None
    companies: list[str | None] = list(plan.companies) if plan.named > 1 else [None]
    if len(figures) == 1 and len(years) < 2:
        return None  # one figure, of one company or compared across several: the facts route's
    one = len(figures) == 1 and len(companies) == 1
    if not _every_piece_asks_a_figure(question, plan.names):
        return None
    return Split(figures, years, companies, change, facts_first=one and change and len(years) == 2)


def _separate(question: str, names: Sequence[str], route: Route, figures: list[Figure]) -> bool:
    """The figures are asked each for itself: none qualified ("segment revenue"), no metric
    with inputs of another formula or with its own inputs named beside it, no growth rate
    (whose change is the figure itself)."""
    if any(_qualified(question, names, f, figures) for f in figures):
        return False
    if route.metric is not None and other_inputs(question, names, route.metric):
        return False
    if any(f.metric is not None and "growth(" in f.metric.formula for f in figures):
        return False
    return not _inputs_named(question, figures)


def _blank(question: str, figures: Sequence[Figure]) -> str:
    """``question`` with each figure's name written over in spaces."""
    for f in figures:
        question = question[: f.start] + " " * (f.end - f.start) + question[f.end :]
    return question


def _years(plan: QueryPlan, route: Route, change: bool) -> list[int]:
    """The years asked, a range written as one ("2016–2018") in full, and the year before when
    only one year's change is asked ("revenue in 2019 and how did it change")."""
    years = sorted(set(plan.years))
    if len(years) == 2 and route.span:
        years = list(range(years[0], years[1] + 1))
    if change and len(years) == 1:
        years = [years[0] - 1, years[0]]
    return years


def _every_piece_asks_a_figure(question: str, names: Sequence[str]) -> bool:
    """Each piece of the question (:func:`.parts.parts`) names a figure, a year or a change."""
    for piece in question_parts(question):
        if not (figures_in(piece) or YEAR.search(piece) or _CHANGE_ASK.search(piece)):
            return False
    return True


def sub_question(fig: Figure, year: int | None, company: str | None, language: str) -> str:
    """The narrowed question of one cell, worded like a question an analyst asks of it."""
    if language == "zh":
        when = f"{year}年" if year else ""
        return f"{company or ''}{when}{fig.phrase}是多少？"
    owner = f" of {company}" if company else ""  # "Netflix, Inc.'s" reads as a qualifier
    when = f" in FY{year}" if year else ""
    return f"What was the {fig.phrase}{owner}{when}?"


class Decomposer:
    """Answers the parts of one question through toolboxes made by ``toolbox_for``, one per
    part, each scoped like the question's own (same documents, narrowed companies and years)."""

    def __init__(self, toolbox_for: Callable[[QueryPlan], Toolbox]) -> None:
        self.toolbox_for = toolbox_for

    def answer(
        self, plan: QueryPlan, route: Route, parts: Split, answer: Answer, into: Toolbox
    ) -> bool:
        """Write ``answer`` from the parts and return True, or return False (no part answered
        deterministically: the question goes on as before). The tools every part called are
        recorded in ``into``, the question's own toolbox."""
        boxes: list[Toolbox] = []
        cells = [
            self._cell(plan, route, fig, year, company, boxes)
            for company in parts.companies
            for fig in parts.figures
            for year in parts.years or [None]
        ]
        found = [c for c in cells if c.found]
        answer.trace.append(
            {
                "step": "parts",
                "parts": [c.question for c in cells],
                "found": [c.question for c in found],
                "change": parts.change,
            }
        )
        if not found or (parts.facts_first and len(found) < len(cells)):
            # what the parts' tools found stays out of the search that follows; a figure's
            # change is its question's main ask, which a search may still find in the text
            return False
        for box in boxes:
            into.calls += box.calls
            into.passages += [p for p in box.passages if p not in into.passages]
            into.rows += [r for r in box.rows if r not in into.rows]
        Writer(plan, route, parts, cells, into).write(answer)
        return True

    def _cell(
        self,
        plan: QueryPlan,
        route: Route,
        fig: Figure,
        year: int | None,
        company: str | None,
        boxes: list[Toolbox],
    ) -> Cell:
        """One cell, asked as a question of its own: the facts route under the routing rule,
        then the table route."""
        question = sub_question(fig, year, company or _owner(plan), plan.language)
        cell = Cell(fig, year, company, question)
        sub_plan = replace(
            plan,
            question=question,
            original=question,
            years=[year] if year else [],
            companies=[company] if company else plan.companies,
            named=1 if company else plan.named,
            doc_ids=self._docs_of(plan, company),
        )
        # a lookup by construction: no computation but a metric's own ("负债合计" is no sum)
        sub_route = replace(
            analyse(question),
            scope=route.scope,
            decimals=route.decimals,
            compute=fig.metric is not None,
            change=False,
            average=False,
        )
        toolbox = self.toolbox_for(sub_plan)
        sub = Answer(question=question, answer="")
        if takes_facts_route(sub_plan, sub_route) and FactsRoute(toolbox).answer(
            sub_plan, sub_route, sub
        ):
            cell.via = "facts"
        elif not sub_route.narrative and TableRoute(toolbox).answer(sub_plan, sub_route, sub):
            cell.via = "tables"
        boxes.append(toolbox)
        if cell.via and sub.value is not None and not sub.refused:
            cell.value, cell.unit, cell.citations = sub.value, sub.unit, list(sub.citations)
            cell.fact = None if fig.metric else _fact_of(sub.value, toolbox)
            cell.shown = _shown(cell, plan.language)
            cell.warning = sub.answer.partition("\n\n⚠")[2]
        log.debug("part %r: %s", question, cell.via or "not found")
        return cell

    def _docs_of(self, plan: QueryPlan, company: str | None) -> list[str] | None:
        """The question's documents of one of the companies it compares (so that a cell with
        no year asked is that company's latest), else the question's own."""
        if company is None or not plan.doc_ids:
            return plan.doc_ids
        docs = self.toolbox_for(plan).documents(plan.doc_ids)
        mine = [d.doc_id for d in docs if d.company == company]
        return mine or plan.doc_ids


def _owner(plan: QueryPlan) -> str | None:
    """The company a cell's question names: the one the question names, if any."""
    return plan.companies[0] if plan.companies and plan.named >= 1 else None


def _fact_of(value: float, toolbox: Toolbox) -> Fact | None:
    """The statement fact a facts-route answer states (an outflow is stated as its magnitude)."""
    for call in toolbox.calls:
        if call.tool != "get_fact" or not call.result:
            continue
        f = row_fact(call.result[0])
        if f.value == value or (f.item in OUTFLOW_ITEMS and abs(f.value) == abs(value)):
            return f
    return None


def _shown(cell: Cell, language: str) -> str:
    """A cell's value as the answer shows it: a statement fact as the facts route formats it, a
    metric as a result with its unit, a table cell with its row's unit."""
    value = cell.value
    assert value is not None
    if cell.fact is not None:
        f = cell.fact
        return fmt.amount(f, language, magnitude=f.item in OUTFLOW_ITEMS)
    if cell.figure.metric is not None or cell.unit in ("%", "days", "x"):
        unit = cell.unit if cell.unit in ("%", "days") else ""
        return fmt.result(value, unit, 2) + ("x" if cell.unit == "x" else "")
    decimals = 0 if float(value).is_integer() else 2
    return f"{value:,.{decimals}f} {cell.unit}".strip()
