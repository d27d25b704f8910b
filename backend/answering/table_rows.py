"""Reading the rows a question names: its words (without the words of what to do with a figure),
a row label quoted whole, the one column its year and header words pick, a misspelt word one
letter from a row's. Used by the table route (:mod:`backend.answering.table_route`).
"""

from __future__ import annotations

import re

from backend.answering.plan import QueryPlan
from backend.domain.text import CJK
from backend.records import Cell
from backend.store.keywords import tokens
from backend.store.tables import RowHit

#: Words that say what to do with a figure, not which figure it is.
QUESTION_WORDS = frozenset(
    """what which how much many was were is are did does do has have had the a an of in on for
    to from by at and or as per between during year years fiscal fy ended ending end company both
    company's its
    their report reports annual amount value total reported respectively change changes changed
    increase increased decrease decreased difference growth grow grew percentage percent rate
    average mean ratio proportion share compared compare versus vs than million millions billion
    thousand thousands usd dollar dollars figure figures number according give provide please
    state round rounded decimal place places two one nearest show shown table period period-end
    year-end inc corp ltd plc llc""".split()
)
PERCENT_ASK = re.compile(r"percent|percentage|%|rate|growth|百分|增长率|比例|占比|比重", re.I)
UNITS_IN_LABEL = re.compile(r"[（(][^）)]{0,12}[）)]")
ZH_TOTALS = frozenset({"合计", "总计", "小计", "总额"})  # a total row is no operand of a sum


def norm(tok: str) -> str:
    """A word as the table route compares it: lower case, no possessive, English singular."""
    tok = re.sub(r"['’]s$", "", tok.lower())
    return tok[:-1] if len(tok) > 3 and tok.endswith("s") and not tok.endswith("ss") else tok


_PERIOD_TOKEN = re.compile(r"fy'?\d{2,4}", re.I)


def terms(text: str) -> set[str]:
    """Normalised content words of ``text`` (English singular forms; Chinese jieba words)."""
    out = set()
    for tok in tokens(text):
        tok = norm(tok)
        if tok and not tok[0].isdigit() and tok not in QUESTION_WORDS and len(tok) > 1:
            if not _PERIOD_TOKEN.fullmatch(tok):  # "FY2023": when, not which row
                out.add(tok)
    return out


#: a column of a quarter's figures ("Three Months Ended June 30, 2023", "Q4", "第四季度")
QUARTER_COLUMN = re.compile(
    r"\b(?:three|3)\s+months\b|\bquarter\b|\bq[1-4]\b|\b(?:thirteen|13)\s+weeks\b|季度", re.I
)


def quarterly(row: RowHit) -> bool:
    """Every figure of the row is a quarter's (an earnings release's three-month table)."""
    columns = [c.column for c in row.cells if c.value is not None]
    return bool(columns) and all(QUARTER_COLUMN.search(c) for c in columns)


def has_year(column: str, year: int) -> bool:
    return bool(re.search(rf"(?<!\d){year}(?!\d)", column)) or (
        bool(re.search(rf"(?<!\d)FY\s?'?{year % 100:02d}(?!\d)", column, re.I))
    )


def squash(text: str) -> str:
    """Lower case, singular, one space between words: for finding a label quoted in a question
    ("total net revenue" quotes "Total net revenues")."""
    return " ".join(norm(w) for w in re.findall(r"\w+", text.lower()))


def quoted_rows(question: str, rows: list[RowHit]) -> list[RowHit]:
    """Rows whose whole label the question quotes, one per quoted place (the longest label
    there), in the question's order; [] when two rows with one label differ (ambiguous). A row
    named by the table's title ("Net Sales" under "Net sales of products by category") is what
    the rows measure, not one of them."""
    q = f" {squash(question)} "
    flat = question.replace(" ", "")
    spans: list[tuple[int, int, RowHit]] = []
    for row in rows:
        label = UNITS_IN_LABEL.sub("", row.label) if CJK.search(row.label) else row.label
        if CJK.search(label):
            core = label.replace(" ", "")
            at = flat.find(core) if len(core) >= 2 and core not in ZH_TOTALS else -1
            size = len(core)
        else:
            core = squash(label)
            own = terms(label)  # not "Total" alone, nor the table's own measure ("Net sales")
            at = q.find(f" {core} ") if own and not own <= terms(row.title) else -1
            size = len(core) + 2
        if at >= 0:
            spans.append((at, at + size, row))
    spans.sort(key=lambda s: s[0] - s[1])  # longest first
    chosen: list[tuple[int, int, RowHit]] = []
    for start, end, row in spans:
        same = [c for c in chosen if (c[0], c[1]) == (start, end)]
        if same:
            if [c.value for c in same[0][2].cells] != [c.value for c in row.cells]:
                return []
            continue
        if all(end <= c[0] or start >= c[1] for c in chosen):
            chosen.append((start, end, row))
    return [row for _, _, row in sorted(chosen, key=lambda c: c[0])]


def shared_column(plan: QueryPlan, rows: list[RowHit], named: set[str]) -> list[Cell] | None:
    """One cell per row in the one column the question picks: its year (when asked), then the
    header words the question uses besides the rows' labels; amounts before percentages."""
    by_column: dict[str, list[Cell]] = {}
    for row in rows:
        for c in row.cells:
            if c.value is not None:
                by_column.setdefault(c.column, []).append(c)
    columns = [col for col, cs in by_column.items() if len(cs) == len(rows)]
    if plan.years:
        columns = [col for col in columns if has_year(col, plan.years[0])]
    if not PERCENT_ASK.search(plan.question):
        columns = [col for col in columns if not by_column[col][0].percent] or columns
    if len(columns) > 1:
        asked = {norm(w) for w in tokens(plan.question)} - named
        fit = {col: len({norm(w) for w in tokens(col)} & asked) for col in columns}
        best = max(fit.values())
        columns = [col for col in columns if fit[col] == best]
    return by_column[columns[0]] if len(columns) == 1 else None


def printed_decimals(text: str) -> int:
    """How many decimals a cell prints ("1,234.50" → 2)."""
    m = re.search(r"\.(\d+)", text)
    return len(m.group(1)) if m else 0


def one_edit(a: str, b: str) -> bool:
    """``a`` and ``b`` differ by exactly one letter changed, added or dropped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :]
    return a[i:] == b[i + 1 :]
