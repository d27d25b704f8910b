"""The table route: answers read from a cell of a table printed in the report — or computed from
two cells of one row — with no model, when the question names that row exactly.

``find_rows`` returns candidate rows (label, parent labels, headers, cells, page). A row is taken
only when every content word of its own label is in the question (and, among the rows that
qualify, it matches the question best by label, parents and table title, without a tie between
different values); its column only when the question's year and other header words pick exactly
one. Otherwise nothing is answered here and the rows go to the model as evidence. A change between
two years is computed with the calculator from the two cells (difference, or percent change when
the question asks for a percentage). "Which year …" compares the years of the row named: the
highest or lowest cell, or the years past a threshold, every year's cell shown. "The difference
between A and B" / "the total of A and B" / "what percentage of A were B" (rows of one table,
each label quoted whole in the question, one column picked by the year and header words) is
computed from the rows' cells; so is a year's share of a maturity table's total row. Rows
labelled by a year under a parent the question names (an executive's "2019" in a compensation
table) give a value, a change, or two parents' difference in that year. What the question asks
of the rows is read by :mod:`backend.answering.table_asks`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from backend.answering.answer import Answer, Citation
from backend.answering.plan import QueryPlan, asks_quarter
from backend.answering.route import Route, asks_decimals, asks_which_year
from backend.answering.table_asks import (
    ACRONYM,
    MONTHS,
    NET_CHANGE,
    ROI,
    SHARE_LINK,
    change_span,
    operation,
    part_then_whole,
    printed_measure,
    year_of_total,
)
from backend.answering.table_rows import (
    PERCENT_ASK,
    UNITS_IN_LABEL,
    has_year,
    norm,
    one_edit,
    printed_decimals,
    quarterly,
    quoted_rows,
    shared_column,
    squash,
    terms,
)
from backend.answering.tools import Toolbox, search_query
from backend.domain import format as fmt
from backend.domain.numbers import parse_numbers
from backend.domain.text import CJK, YEAR
from backend.records import Cell
from backend.store.keywords import tokens
from backend.store.tables import RowHit

_ZH_QUESTION = re.compile(
    r"是多少|多少|分别|请问|请|年度|年末|年初|同比|增长率|增长|变动|变化|比较|较上年|上年|本年|本期|"
    r"的|了|是|为|元|万元|亿元|百分比|比例|占比|保留|小数|两位|一位"
)
_OPEN_ENDED = re.compile(r"\b(?:in )?which (?:year|period|quarter)|^\s*when\b|哪一?年|何时", re.I)
#: A comparison between the years of a row ("which year has a higher …").
_MORE = re.compile(
    r"\b(?:higher|highest|larger|largest|greater|greatest|more|most|bigger|biggest|above|over|"
    r"exceed\w*)\b|较高|更高|最高|更多|最多|大于|超过|高于",
    re.I,
)
_LESS = re.compile(
    r"\b(?:lower|lowest|smaller|smallest|less|least|fewer|below|under)\b|较低|更低|最低|更少|最少|"
    r"小于|低于",
    re.I,
)
_THAN = re.compile(
    r"(?:\bthan|\bbelow|\babove|\bover|\bunder|小于|低于|大于|高于|超过)\s*\$?\s*"
    r"(?P<amount>\d[\d,]*(?:\.\d+)?(?:\s*(?:thousands?|millions?|billions?))?)",
    re.I,
)
_NIL = frozenset({"-", "--", "—", "–", "— —", "-—"})


def _cjk_label_in(label: str, question: str) -> bool:
    """A Chinese label (units in brackets aside) appears in the question."""
    core = UNITS_IN_LABEL.sub("", label).replace(" ", "")
    q = _ZH_QUESTION.sub("", question.replace(" ", ""))
    return (len(core) >= 2 and core in question.replace(" ", "")) or (bool(core) and core in q)


@dataclass
class _Pick:
    row: RowHit
    score: tuple[int, int, float]


class TableRoute:
    """Answers one question from the tables through its scoped ``toolbox``."""

    def __init__(self, toolbox: Toolbox) -> None:
        self.toolbox = toolbox
        self._readings: list[tuple[str, str]] = []  # (word typed, row word read) of a question

    def answer(self, plan: QueryPlan, route: Route, answer: Answer) -> bool:
        self._readings = []
        if not self._answer(plan, route, answer):
            return False
        for typed, read in self._readings:  # say how a misspelt word of the question was read
            if plan.language == "zh":
                answer.answer += f"问题中的“{typed}”按“{read}”理解。"
            else:
                answer.answer += f" The question's “{typed}” was read as “{read}”."
        return True

    def _answer(self, plan: QueryPlan, route: Route, answer: Answer) -> bool:
        if self.toolbox.tables is None:
            return False
        which_year = asks_which_year(plan.question)
        if _OPEN_ENDED.search(plan.question) and not which_year:
            return False  # "when…", "which quarter…": not a lookup
        names = set()
        for name in plan.companies:
            names |= terms(name)
        q_terms = terms(plan.question) - names
        if NET_CHANGE.search(plan.question):
            q_terms.discard("net")  # "the net change in staff": how it changed, not "net staff"
        op = operation(plan.question)
        if op and len(plan.years) <= 1 and not which_year and q_terms:
            self._find(plan.question, q_terms)
            plan, q_terms = self._spelled(plan, q_terms)
            if self._between_rows(plan, route, answer, q_terms, op):
                return True
            if op == "difference" and self._year_rows(plan, route, answer, q_terms, op):
                return True
        # one row, two years: "the difference in X between 2015 and 2016", "the roi of X from
        # March 2007 to March 2010"
        roi = bool(ROI.search(plan.question)) and len(plan.years) == 2
        over_years = (op == "difference" and len(plan.years) == 2) or roi
        if roi:
            q_terms -= terms(" ".join(ROI.findall(plan.question))) | MONTHS | {"investment"}
        printed = printed_measure(plan.question, route)
        if printed == "ratio":  # "(NPL)" restates the words before it
            q_terms -= {a.lower() for a in ACRONYM.findall(plan.question)}
        if route.compute and not (route.change or route.average or over_years or printed):
            return False  # a ratio or a difference the rows do not name: the planner's job
        if which_year:  # the comparison's words and threshold do not name the row
            q_terms = terms(_THAN.sub(" ", _MORE.sub(" ", _LESS.sub(" ", plan.question)))) - names
        if not q_terms:
            return False
        self._find(plan.question, q_terms)
        plan, q_terms = self._spelled(plan, q_terms)
        row = self._row(
            plan.question, q_terms, [] if which_year else plan.years, printed == "ratio"
        )
        if row is not None and printed == "metric" and not quoted_rows(plan.question, [row]):
            return False  # a printed metric only from the row whose whole label is quoted
        if row is None:
            return not which_year and self._year_rows(plan, route, answer, q_terms, None)
        if which_year:
            return self._which_year(plan, answer, row)
        if route.change or route.average or over_years:
            return self._two_columns(plan, route, answer, row, q_terms)
        if len(plan.years) > 1:
            return self._several_years(plan, answer, row, q_terms)
        cell = self._column(row, plan, q_terms)
        if cell is None:
            return False
        self._lookup(plan, answer, row, cell)
        return True

    # -- choosing ---------------------------------------------------------------------------
    @staticmethod
    def _query(question: str, q_terms: set[str]) -> str:
        """The question's words that can name a row, as a row search."""
        return search_query(
            " ".join(w for w in dict.fromkeys(tokens(question)) if norm(w) in q_terms)
        )

    def _find(self, question: str, q_terms: set[str]) -> None:
        """``find_rows`` with the question's words that can name a row (once per query)."""
        query = self._query(question, q_terms)
        if not any(
            c.tool == "find_rows" and c.args.get("query") == query for c in self.toolbox.calls
        ):
            self.toolbox.call("find_rows", {"query": query})

    def _spelled(self, plan: QueryPlan, q_terms: set[str]) -> tuple[QueryPlan, set[str]]:
        """The question with a misspelt word ("ProBugs Kelir", "Luke Scrivanch") read as the one
        word of the rows found that is one letter away (words of five letters or more, not
        themselves a word of those rows): a row named with a typo is still named."""
        vocabulary: dict[str, str] = {}
        for row in self.toolbox.rows:
            for w in re.findall(r"[^\W\d_]{5,}", " ".join([row.label, *row.path, row.title])):
                vocabulary.setdefault(norm(w), w)
        question, terms_ = plan.question, set(q_terms)
        for term in q_terms:
            if len(term) < 5 or term in vocabulary or not term.isascii():
                continue
            near = [v for v in vocabulary if one_edit(term, v)]
            if len(near) != 1:
                continue
            written = re.search(rf"\b{re.escape(term)}\w*", question, re.I)
            if written is None:
                continue
            self._readings.append((written.group(0), vocabulary[near[0]]))
            question = question[: written.start()] + vocabulary[near[0]] + question[written.end() :]
            terms_ = (terms_ - {term}) | {near[0]}
        if question == plan.question:
            return plan, q_terms
        return replace(plan, question=question), terms_

    def _row(
        self, question: str, q_terms: set[str], years: list[int], percent: bool = False
    ) -> RowHit | None:
        """The row the question names: its own label's words all in the question, and the
        question's words covered by its label, parents, title and headers (a total row does not
        answer a question about one segment). A row with no value for a year asked is no
        candidate; among equals, the row whose whole label the question quotes ("cost of goods
        sold", not "total cost of goods sold") — the longest quoted label first. ``percent``: a
        ratio is asked, only a row of percentages answers."""
        picks = []
        quoted_in = squash(question)
        for rank, row in enumerate(self.toolbox.rows):
            if percent and not any(c.percent for c in row.cells if c.value is not None):
                continue
            own = terms(row.label)
            if CJK.search(row.label):
                if not _cjk_label_in(row.label, question):
                    continue
            elif not own or not own <= q_terms:
                continue
            around = terms(" ".join([*row.path, row.title, *row.columns, row.label]))
            covered = len((own | around) & q_terms)
            if covered < len(q_terms) - (1 if len(q_terms) >= 5 else 0):
                continue  # a word of the question (a qualifier) is nowhere in this row's table
            if years and not _year_values(row, years):
                continue  # no cell for the year asked: it cannot answer
            label = squash(row.label)
            quoted = len(label) if label and label in quoted_in else 0
            picks.append(_Pick(row, (covered, len(own), quoted, -rank)))
        # a year's figure is not a quarter's table of the same row (an earnings release prints
        # both), nor the other way round
        quarter = asks_quarter(question)
        picks = [p for p in picks if quarterly(p.row) == quarter] or picks
        if not picks:
            return None
        picks.sort(key=lambda p: p.score, reverse=True)
        best = picks[0]
        own = terms(best.row.label)
        rivals = [
            p
            for p in picks[1:]
            if p.score[:3] == best.score[:3]
            or (terms(p.row.label) == own and p.score[2] == best.score[2])
        ]
        if any(_cells_differ(p.row, best.row, years) for p in rivals):
            return None  # two rows answer as well with different numbers: ambiguous
        return best.row

    def _candidates(self, row: RowHit, plan: QueryPlan, q_terms: set[str]) -> list[Cell]:
        """Cells of the row with a value whose header fits the question's words."""
        cells = [c for c in row.cells if c.value is not None]
        words = [c for c in cells if terms(c.column) & q_terms]
        if words:
            cells = words
        if not PERCENT_ASK.search(plan.question):
            amounts = [c for c in cells if not c.percent]
            cells = amounts or cells
        return cells

    def _column(self, row: RowHit, plan: QueryPlan, q_terms: set[str]) -> Cell | None:
        cells = self._candidates(row, plan, q_terms)
        years = plan.years[-1:] if plan.years else []
        if years:
            cells = [c for c in cells if has_year(c.column, years[0])]
        elif len(cells) > 1:
            fiscal = [
                d.fiscal_year
                for d in self.toolbox.documents([row.doc_id])
                if d.fiscal_year is not None
            ]
            cells = [c for c in cells if fiscal and has_year(c.column, fiscal[0])] or cells
        return cells[0] if len(cells) == 1 else None

    def _several_years(
        self, plan: QueryPlan, answer: Answer, row: RowHit, q_terms: set[str]
    ) -> bool:
        """One cell per year asked ("in 2018 and 2019 respectively"), in the question's order."""
        cells = self._candidates(row, plan, q_terms)
        picked = []
        for year in plan.years:
            mine = [c for c in cells if has_year(c.column, year)]
            if len(mine) != 1:
                return False
            picked.append((year, mine[0]))
        shown = [(year, row.display(c)) for year, c in picked]
        text = _by_year(row, shown, plan.language)
        first = picked[0][1]
        self._set(answer, text, row, first.value, "%" if first.percent else row.unit_label)
        return True

    def _which_year(self, plan: QueryPlan, answer: Answer, row: RowHit) -> bool:
        """The year whose cell is the highest or lowest of the row, or the years past a
        threshold ("less than 500 thousands"), with every year's cell shown."""
        more, less = bool(_MORE.search(plan.question)), bool(_LESS.search(plan.question))
        if more == less:
            return False
        by_year: dict[int, Cell] = {}
        for c in row.cells:
            years = {int(y) for y in YEAR.findall(c.column)}
            if c.value is None and c.text.strip() in _NIL:
                c = replace(c, value=0.0)  # a dash is nil
            if c.value is not None and not c.percent and len(years) == 1:
                year = years.pop()
                if year in by_year and by_year[year].value != c.value:
                    return False  # two columns of one year (a quarter, a segment): unclear
                by_year.setdefault(year, c)
        if len(by_year) < 2:
            return False
        than = _THAN.search(plan.question)
        if than:
            threshold = parse_numbers(than.group("amount"), skip_years=False)[0]
            limit, scale = threshold.value, threshold.scale

            def size(c: Cell) -> float:  # the cell in the threshold's scale, where both known
                known = scale != 1.0 and row.unit_label
                return c.value * row.scale / scale if known else c.value

            picked = [
                y for y, c in by_year.items() if (size(c) > limit if more else size(c) < limit)
            ]
        else:
            values = {y: c.value for y, c in by_year.items()}
            best = (max if more else min)(values.values())
            picked = [y for y, v in values.items() if v == best]
            if len(picked) > 1:
                return False  # a tie: no one year
        if not picked:
            return False
        shown = [
            (y, f"{c.text} (nil)" if c.text.strip() in _NIL else row.display(c))
            for y, c in sorted(by_year.items())
        ]
        years = ", ".join(str(y) for y in sorted(picked))
        lead = f"{years}年。" if plan.language == "zh" else f"{years}. "
        text = lead + _by_year(row, shown, plan.language)
        first = by_year[sorted(picked)[0]]
        self._set(answer, text, row, first.value, row.unit_label)
        return True

    # -- answers ------------------------------------------------------------------------------
    def _lookup(self, plan: QueryPlan, answer: Answer, row: RowHit, cell: Cell) -> None:
        shown = row.display(cell)
        company = plan.companies[0] if plan.companies else ""
        where = f" ({cell.column})" if cell.column else ""
        if plan.language == "zh":
            text = f"{company}{cell.column}{row.full_label}为{shown}。"
        else:
            lead = f"{company}'s " if company else ""
            text = f"{lead}{row.full_label}{where} was {shown}."
        self._set(answer, text, row, cell.value, "%" if cell.percent else row.unit_label)

    def _two_columns(
        self, plan: QueryPlan, route: Route, answer: Answer, row: RowHit, q_terms: set[str]
    ) -> bool:
        span = change_span(plan, route)
        if span is None:
            return False
        cells = self._candidates(row, plan, q_terms)
        old = [c for c in cells if has_year(c.column, span[0])]
        new = [c for c in cells if has_year(c.column, span[1])]
        if len(old) != 1 or len(new) != 1:
            return False
        return self._change(
            plan, route, answer, (row, old[0], old[0].column), (row, new[0], new[0].column)
        )

    def _change(
        self,
        plan: QueryPlan,
        route: Route,
        answer: Answer,
        first: tuple[RowHit, Cell, str],
        second: tuple[RowHit, Cell, str],
    ) -> bool:
        """The change (or the average, or the return) from the first cell to the second, each
        given with its row and what to call it (its column, or the year of a row labelled so)."""
        (row_a, a, when_a), (row, b, when_b) = first, second
        rate = not route.average and not a.percent
        rate = rate and bool(PERCENT_ASK.search(plan.question) or ROI.search(plan.question))
        if rate and a.value == 0:
            return False
        expr = fmt.change_expression(a.value, b.value, average=route.average, percent=rate)
        unit = "%" if rate else row.unit_label
        calc = self.toolbox.call("calculate", {"expression": expr})
        if calc.error:
            return False
        value = calc.result["value"]
        d = 2  # a difference of printed amounts has their decimals; an average or a rate two
        if unit != "%" and not route.average:
            d = max(printed_decimals(a.text), printed_decimals(b.text))
        if asks_decimals(plan.question):
            d = route.decimals
        shown = fmt.result(value, unit if unit == "%" else "", d)
        sa, sb = row_a.display(a), row.display(b)
        label = row.full_label if row_a is row else f"{' > '.join(row.path)} > {b.column}"
        if plan.language == "zh":
            what = "平均值" if route.average else "变动"
            text = (
                f"{label}：{when_a}为{sa}，{when_b}为{sb}，{what}为{shown}。"
                f"计算：{expr} = {value:,.{d + 2}f}。"
            )
        else:
            what = "the average" if route.average else "the change"
            if ROI.search(plan.question) and not route.average:
                what = "the return"
            text = (
                f"{label}: {sa} ({when_a}) and {sb} ({when_b}); {what} is {shown}. "
                f"Calculation: {expr} = {value:,.{d + 2}f}."
            )
        self._set(answer, text, row, round(value, d), unit)
        if row_a is not row and row_a.page != row.page:
            answer.citations.insert(
                0, Citation(row_a.doc_id, row_a.file_name, row_a.page, row_a.full_label)
            )
        return True

    def _year_rows(
        self, plan: QueryPlan, route: Route, answer: Answer, q_terms: set[str], op: str | None
    ) -> bool:
        """Rows labelled by a year under a parent the question names ("Paul McNab" > "2019" in a
        summary compensation table): the years asked pick the rows, the question's other words
        pick one column; a value, a change between two such rows, or the difference between two
        parents' rows of the year asked ("… in 2018 between Oleg Khaykin and Amar Maletira")."""
        between = op == "difference" and len(plan.years) == 1
        span = (
            change_span(plan, route)
            if (route.change or route.average or len(plan.years) > 1)
            else None
        )
        wanted = list(span) if span and not between else plan.years[-1:]
        if not wanted or (len(plan.years) > 1 and span is None):
            return False
        groups: dict[tuple[int, tuple[str, ...]], dict[int, RowHit]] = {}
        for r in self.toolbox.rows:
            named = terms(" ".join(r.path))
            if YEAR.fullmatch(r.label.strip()) and named and named <= q_terms:
                groups.setdefault((r.table_id, tuple(r.path)), {})[int(r.label.strip())] = r
        found = [g for g in groups.values() if all(y in g for y in wanted)]
        if between and len(found) == 2:  # two parents named: their rows of the year, in order
            spoken = squash(plan.question)
            rows = sorted(
                (g[wanted[0]] for g in found), key=lambda r: spoken.find(squash(r.path[-1]))
            )
        elif len(found) == 1 and not between:
            rows = [found[0][y] for y in wanted]
        else:
            return False
        rest = q_terms - terms(" ".join(p for r in rows for p in r.path))
        fit: dict[str, int] = {}
        for c in rows[0].cells:
            if c.value is not None:
                fit[c.column] = len(terms(c.column) & rest)
        best = max(fit.values(), default=0)
        columns = [col for col, n in fit.items() if n == best]
        around = terms(" ".join([rows[0].title, *columns]))
        if best == 0 or len(columns) != 1 or len(rest - around) > (1 if len(rest) >= 5 else 0):
            return False  # no one column, or a word of the question is nowhere in this table
        cells = []
        for r in rows:
            mine = [c for c in r.cells if c.column == columns[0] and c.value is not None]
            if len(mine) != 1:
                return False
            cells.append(mine[0])
        if len(rows) == 1:
            self._lookup(plan, answer, rows[0], cells[0])
            return True
        if between:
            return self._rows_result(plan, route, answer, rows, cells, "difference")
        return self._change(
            plan,
            route,
            answer,
            (rows[0], cells[0], str(wanted[0])),
            (rows[1], cells[1], str(wanted[1])),
        )

    def _between_rows(
        self, plan: QueryPlan, route: Route, answer: Answer, q_terms: set[str], op: str
    ) -> bool:
        """Two (or, for a sum, more) rows of one table whose labels the question quotes whole,
        in one column: their difference in the question's order, their sum, or one as a
        percentage of the other (``op``: "difference", "sum", "share")."""
        whole = self.toolbox.whole_tables(self._query(plan.question, q_terms))
        for table_id in dict.fromkeys(r.table_id for r in whole):
            table = [r for r in whole if r.table_id == table_id]
            rows = quoted_rows(plan.question, table)
            pick = plan
            if op == "share" and len(rows) < 2:
                rows = year_of_total(plan, table) or []  # "… of total payments are due in 2017"
                pick = replace(plan, years=[])  # the year is the row's, not the column's
            if len(rows) < 2 or (len(rows) > 2 and op != "sum"):
                continue
            if op == "share" and pick is plan:
                rows = part_then_whole(plan.question, rows)
                if rows is None:
                    continue
            named: set[str] = set()
            for row in rows:
                named |= terms(row.label)
            rest = q_terms - named
            if op == "share":  # "… is due to B", "… attributable to B": how a part is said
                rest -= terms(" ".join(SHARE_LINK.findall(plan.question))) | {"due"}
            around = terms(" ".join([rows[0].title, *rows[0].columns, *rows[0].path]))
            if rest - around:
                continue  # a word of the question (a qualifier) is nowhere in this table
            cells = shared_column(pick, rows, named)
            if cells is None or (
                op == "share" and (any(c.percent for c in cells) or not cells[1].value)
            ):
                continue
            return self._rows_result(plan, route, answer, rows, cells, op)
        return False

    def _rows_result(
        self,
        plan: QueryPlan,
        route: Route,
        answer: Answer,
        rows: list[RowHit],
        cells: list[Cell],
        op: str,
    ) -> bool:
        values = [fmt.plain(c.value) for c in cells if c.value is not None]
        expr = {
            "sum": " + ".join(values),
            "difference": f"{values[0]} - {values[1]}",
            "share": f"{values[0]} / {values[1]} * 100",
        }[op]
        calc = self.toolbox.call("calculate", {"expression": expr})
        if calc.error:
            return False
        value = calc.result["value"]
        decimals = max(printed_decimals(c.text) for c in cells)
        if op == "share":
            decimals = 2
        if asks_decimals(plan.question):
            decimals = route.decimals
        row, column = rows[0], cells[0].column
        if op == "share":
            shown = fmt.result(value, "%", decimals)
        else:
            shown = row.display(Cell(column, f"{value:,.{decimals}f}", round(value, decimals)))
        twice = len({r.label for r in rows}) < len(rows)  # "2018" of two people: say whose
        parts = [
            f"{r.full_label if twice else r.label} {r.display(c)}"
            for r, c in zip(rows, cells, strict=True)
        ]
        if plan.language == "zh":
            what = {"sum": "合计", "difference": "差额", "share": "占比"}[op]
            text = (
                f"{column}："
                + "，".join(parts)
                + f"；{what}为{shown}。计算：{expr} = {fmt.plain(value)}。"
            )
        else:
            what = {"sum": "the total", "difference": "the difference", "share": "the share"}[op]
            where = f" ({column})" if column else ""
            text = (
                f"{'; '.join(parts)}{where}; {what} is {shown}. "
                f"Calculation: {expr} = {fmt.plain(value)}."
            )
        unit = "%" if op == "share" or cells[0].percent else row.unit_label
        self._set(answer, text, row, round(value, decimals), unit)
        return True

    def _set(self, answer: Answer, text: str, row: RowHit, value: float | None, unit: str) -> None:
        cite = Citation(row.doc_id, row.file_name, row.page, f"{row.full_label}")
        end = "。" if text.endswith("。") else "."
        answer.answer = text.rstrip("。.") + f" {cite.tag}" + end
        answer.citations = [cite]
        answer.value, answer.unit = value, unit
        answer.unverified_numbers = []
        answer.model = answer.model or "tables (no model needed)"
        answer.trace.append(
            {"step": "table_route", "row": row.full_label, "table": row.title, "page": row.page}
        )


def _by_year(row: RowHit, shown: list[tuple[int, str]], language: str) -> str:
    """ "Row label: 44 in 2018; 44 in 2019." (or 「…：2018年为…，2019年为…。」)"""
    if language == "zh":
        return f"{row.full_label}：" + "，".join(f"{y}年为{s}" for y, s in shown) + "。"
    return f"{row.full_label}: " + "; ".join(f"{s} in {y}" for y, s in shown) + "."


def _year_values(row: RowHit, years: list[int]) -> tuple[float | None, ...]:
    """The row's values in the columns of the years asked, in the years' order (a year with no
    single such cell gives nothing)."""
    values = []
    for year in years:
        mine = [c.value for c in row.cells if c.value is not None and has_year(c.column, year)]
        if not mine:
            return ()
        values.append(mine[0])
    return tuple(values)


def _cells_differ(a: RowHit, b: RowHit, years: list[int]) -> bool:
    """The two rows would answer with different numbers: their values in the years asked (all
    their values when no year is asked)."""
    if years:
        return _year_values(a, years) != _year_values(b, years)
    return tuple(c.value for c in a.cells) != tuple(c.value for c in b.cells)
