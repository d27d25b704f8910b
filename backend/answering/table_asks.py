"""What a question asks of a table's rows, read from its words: the arithmetic between rows it
names (a difference, a sum, one row as a share of another), which of two rows is the whole of a
share, a year's share of a maturity table's total, the two years a change is over, an ROI.
Used by the table route (:mod:`backend.answering.table_route`)."""

from __future__ import annotations

import re

from backend.answering.plan import QueryPlan
from backend.answering.route import SUM_ASK, Route, asks_computation, names_a_measure
from backend.answering.table_rows import UNITS_IN_LABEL, squash
from backend.domain.text import CJK
from backend.store.tables import RowHit

#: Arithmetic between rows the question names: "the difference (in X) between A and B", "A as
#: compared to B"; a sum as the router reads one ("A and B combined"), or "the total of A and B".
BETWEEN = re.compile(r"\bdifference\b|\bas compared (?:to|with)\b|差额|相差", re.I)
ADDED = re.compile(rf"{SUM_ASK.pattern}|\b(?:total|sum) of\b|之和", re.I)
#: The return on an investment between two dates of a performance table ("the roi of an
#: investment in the Nasdaq Composite from March 2007 to March 2010"): the row's percent change.
ROI = re.compile(r"\broi\b|\breturn on (?:an |the )?investment\b", re.I)
#: Month names: a date's words, matched by the columns' dates ("3/31/2010"), not by row words.
MONTHS = frozenset(
    "january february march april may june july august september october november december".split()
)
TOTAL_ROW = re.compile(r"\s*total\b|\s*(?:合计|总计)", re.I)
#: An acronym in brackets after the words it stands for ("Non-performing loan ratio (NPL)").
ACRONYM = re.compile(r"\(([A-Z][A-Za-z]{1,5})\)")
NET_CHANGE = re.compile(r"\bnet (?:change|increase|decrease)\b", re.I)
#: Words that join the part to the whole in a share question ("what percentage of A is due to B").
SHARE_LINK = re.compile(
    r"\b(?:due to|attributable to|related to|accounted for by|represented by|made up of|comes? "
    r"from|came from)\b",
    re.I,
)
#: One row as a share of another: "what percentage of A were B", "B as a % of A", "B占A的比例";
#: the row quoted first after the marker is the whole.
SHARE = re.compile(
    r"\b(?:percent(?:age)?|%|portion|proportion|share|fraction)\s+of\b|%\s+of\b|占(?![用有据])",
    re.I,
)


def change_span(plan: QueryPlan, route: Route) -> tuple[int, int] | None:
    """The two years a change or an average is over: the first and last asked, or the year
    before the one asked ("the growth rate of X in 2009": over 2009)."""
    if len(plan.years) >= 2:
        return min(plan.years), max(plan.years)
    if plan.years and route.change and not route.average:
        return plan.years[0] - 1, plan.years[0]
    return None


def operation(question: str) -> str | None:
    """Arithmetic the question asks between rows it names: "share", "difference" or "sum"."""
    if SHARE.search(question):
        return "share"
    if BETWEEN.search(question):
        return "difference"
    return "sum" if ADDED.search(question) else None


def year_of_total(plan: QueryPlan, table: list[RowHit]) -> list[RowHit] | None:
    """[the row labelled with the one year asked, the table's total row] of a maturity table
    ("2017 | 290 … Total | 1,941": "what percentage of future minimum rental payments are due
    in 2017"); None unless exactly one of each, under the same parents."""
    if len(plan.years) != 1:
        return None
    year = [r for r in table if r.label.strip() == str(plan.years[0])]
    if len(year) != 1:
        return None
    totals = [r for r in table if TOTAL_ROW.match(r.label) and r.path == year[0].path]
    return [year[0], totals[0]] if len(totals) == 1 else None


def part_then_whole(question: str, rows: list[RowHit]) -> list[RowHit] | None:
    """The two rows of a share as [part, whole]: the whole is the row quoted first after "…
    percentage of" / "占" ("what percentage of A were B", "B as a % of A", "B占A")."""
    marker = SHARE.search(question)
    if marker is None or len(rows) != 2:
        return None
    tail = question[marker.end() :]

    def where(row: RowHit) -> int:
        if CJK.search(row.label):
            at = tail.replace(" ", "").find(UNITS_IN_LABEL.sub("", row.label).replace(" ", ""))
        else:
            at = f" {squash(tail)} ".find(f" {squash(row.label)} ")
        return at if at >= 0 else len(question)

    whole = min(rows, key=where)
    if where(whole) == len(question):
        return None
    return [r for r in rows if r is not whole] + [whole]


def printed_measure(question: str, route: Route) -> str:
    """A measure the question asks for that a table may print as a row, though the routing
    reads it as a computation: "metric" — one the statements would compute ("adjusted EBITDA"),
    answered only from the row whose whole label the question quotes; "ratio" — a ratio it
    names ("the value of the non-performing loan ratio"), answered only from a row of
    percentages; "" — neither (a change, a sum, a ratio of two named rows …)."""
    if route.metric is not None:
        return "metric" if not asks_computation(question) else ""
    return "ratio" if names_a_measure(question) else ""
