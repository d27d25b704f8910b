"""The deterministic facts route: answers written from the statement facts with no model.

When a question names a company and a statement item or a known metric (see
:func:`backend.answering.route.takes_facts_route`), :meth:`FactsRoute.answer` calls ``get_fact``
(and ``calculate``) and writes the answer itself: a single lookup, a year-over-year change, a
metric with its formula and every input with its page, or a comparison table across companies.
It returns False whenever it cannot answer exactly (a missing year, an item with no formula), and
the agent goes on to search.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backend.answering.answer import Answer, Citation
from backend.answering.plan import QueryPlan
from backend.answering.route import STANDS_FOR, Route, asks_cagr, asks_decimals, asks_sum
from backend.answering.tools import Toolbox
from backend.domain import format as fmt
from backend.domain.calculator import CalculationError, calculate
from backend.domain.items import EXPENSE_ITEMS, OUTFLOW_ITEMS, item_label
from backend.domain.metrics import Metric
from backend.records import Fact

FACTS_MODEL = "facts table (no model needed)"
_WITH_NCI = re.compile(r"non-?controlling|minority|including|consolidated net income", re.I)
_FAILED_CHECK = {
    "zh": "\n\n⚠ 该报表未通过会计勾稽校验（如资产=负债+所有者权益），请对照原页核实。",
    "en": "\n\n⚠ This statement failed an accounting check (e.g. assets = liabilities + equity) "
    "when it was read; verify the figure on the cited page.",
}


@dataclass
class CheckedFact(Fact):
    """A fact from a tool result, remembering whether its statement passed the accounting
    checks (None: no check could run)."""

    checked: bool | None = None


def row_fact(r: dict[str, Any]) -> CheckedFact:
    """A ``get_fact`` result row as a fact (label cleaned for display)."""
    return CheckedFact(
        r["doc_id"],
        r["company"],
        r["year"],
        r["statement"],
        r["scope"],
        fmt.display_label(r["label"]),
        r["item"],
        r["value"],
        r["scale"],
        r["unit"],
        r["currency"],
        r["page"],
        raw=r.get("raw", ""),
        checked=r.get("checked"),
    )


@dataclass
class _Delta:
    """A difference between two facts, formatted like them."""

    value: float
    like: Fact

    def __getattr__(self, name: str) -> Any:
        return getattr(self.like, name)


@dataclass
class MetricResult:
    year: int
    value: float
    expression: str
    inputs: list[Fact]


@dataclass
class _Ask:
    """One question as the facts route sees it: plan, route, the answer to write, the company's
    names and the target years."""

    plan: QueryPlan
    route: Route
    answer: Answer
    names: Sequence[str]
    years: list[int]


def _metric_of(q: _Ask) -> tuple[Metric, int, str, str]:
    """The metric asked, the decimals and language of the answer, and the company's name."""
    metric = q.route.metric
    assert metric is not None
    return metric, q.route.decimals, q.plan.language, q.plan.companies[0]


def percent_change(toolbox: Toolbox, old: float, new: float) -> tuple[float, str] | None:
    """The percent change from ``old`` to ``new`` computed by the ``calculate`` tool (so the
    trace and the answer show it), with its expression; None for a zero base or a failed call."""
    if old == 0:
        return None
    expr = fmt.change_expression(old, new, percent=True)
    calc = toolbox.call("calculate", {"expression": expr})
    return None if calc.error else (calc.result["value"], expr)


def change_sentence(
    lang: str, subject: str, years: tuple[int, int], shown: tuple[str, str], delta: str,
    pct: float, expr: str, decimals: int = 2,
) -> str:  # fmt: skip
    """ "<subject> went from A in FYy0 to B in FYy1, a change of Δ (p%). Calculation: …" (or
    its Chinese form): one wording for every change the deterministic routes state."""
    (y0, y1), (a0, a1), d = years, shown, decimals
    if lang == "zh":
        return (
            f"{subject}由{y0}年的{a0}变为{y1}年的{a1}，变动{delta}（{pct:+.{d}f}%）。"
            f"计算：{expr} = {pct:.{d}f}%。"
        )
    return (
        f"{subject} went from {a0} in FY{y0} to {a1} in FY{y1}, a change of {delta} "
        f"({pct:+.{d}f}%). Calculation: {expr} = {pct:.{d}f}%."
    )


class FactsRoute:
    """Answers one question from the facts table through its scoped ``toolbox``."""

    def __init__(self, toolbox: Toolbox) -> None:
        self.toolbox = toolbox

    # -- entry point --------------------------------------------------------------------------
    def answer(self, plan: QueryPlan, route: Route, answer: Answer) -> bool:
        """Write ``answer`` from the facts and return True, or return False (not answerable
        exactly from the statements)."""
        if not self._fits(plan, route):
            return False
        if plan.named > 1 and route.items and not route.metric:
            return self._compare(plan, route, answer, plan.years)
        years = self._target_years(plan)
        if not years:
            return False
        names = plan.companies if plan.named <= 1 else plan.companies[:1]
        q = _Ask(plan, route, answer, names, years)
        if route.boolean:
            return self._boolean_route(q)
        if route.metric is not None:
            return self._metric_route(q)
        if route.change and len(years) >= 2:
            return self._change_route(q)
        summed = len(set(route.items)) == 1 and len(years) > 1 and asks_sum(plan.question)
        if summed:
            return self._sum_route(q)
        if len(set(route.items)) == 1 and len(years) > 1 and asks_cagr(plan.question):
            return self._cagr_route(q)
        if route.compute:
            return False  # a ratio or computation we have no formula for: not a single lookup
        if len(route.items) > 1 or len(years) > 1:
            return self._several_route(q)
        return self._lookup_route(q)

    @staticmethod
    def _fits(plan: QueryPlan, route: Route) -> bool:
        """The question is one the statements answer as asked (a formula the question writes
        itself is checked by the routing rule, :func:`~backend.answering.route.other_formula`):
        a percentage or margin asked of an amount metric, or several items in one computation
        without a known formula, are not ours to answer."""
        if route.metric is not None and route.metric.unit == "amount" and route.ratio_words:
            return False
        return not (route.compute and not route.metric and len(set(route.items)) > 1)

    # -- routes -------------------------------------------------------------------------------
    def _metric_route(self, q: _Ask) -> bool:
        route, years = q.route, q.years
        assert route.metric is not None
        targets = years
        if route.average and len(years) >= 2:
            targets = list(range(min(years), max(years) + 1))
        elif (route.change or route.compare) and len(years) > 1:
            targets = [min(years), max(years)]
        elif len(years) > 1:
            targets = [max(years)]
        results = []
        for year in targets:
            res = self._metric(q, year)
            if res is None:
                return False
            results.append(res)
        if len(results) == 2 and not route.average:
            self._metric_change_answer(q, results)
        else:
            self._metric_answer(q, results)
        return True

    def _change_route(self, q: _Ask) -> bool:
        plan, route, answer, years = q.plan, q.route, q.answer, q.years
        item, lang, company = route.items[0], plan.language, plan.companies[0]
        y0, y1 = min(years), max(years)
        f0 = self._headline(q, item, y0)
        f1 = self._headline(q, item, y1)
        if not f0 or not f1 or f0.base_value == 0:
            return False
        change = percent_change(self.toolbox, f0.value, f1.value)
        if change is None:
            return False
        pct, expr = change
        diff = f1.value - f0.value
        d = route.decimals if asks_decimals(plan.question) else 2
        shown = (fmt.amount(f0, lang), fmt.amount(f1, lang))
        delta = fmt.amount(_Delta(diff, f1), lang)
        subject = f"{company}{f1.label}" if lang == "zh" else f"{company}'s {f1.label}"
        text = change_sentence(lang, subject, (y0, y1), shown, delta, pct, expr, d)
        if route.percent:
            self._set(answer, text, [f0, f1], value=round(pct, d), unit="%")
        else:
            self._set(answer, text, [f0, f1], value=diff, unit=f1.unit_label)
        return True

    def _several_route(self, q: _Ask) -> bool:
        """Several items and/or years ("net sales, operating income and net income for 2016–2018
        as a table"): a table of every figure found, and a line naming each one not found."""
        plan, route, lang = q.plan, q.route, q.plan.language
        years = sorted(set(q.years)) if len(q.years) > 1 else q.years
        if len(years) == 2 and route.span:
            years = list(range(years[0], years[1] + 1))
        found: list[Fact] = []
        missing: list[str] = []
        for item in dict.fromkeys(route.items):
            for year in years:
                f = self._headline(q, item, year)
                if f is None:
                    missing.append(f"{item_label(item, lang)} FY{year}")
                else:
                    found.append(f)
        if not found:
            return False
        head = "| 项目 | 年度 | 数值 | 来源 |" if lang == "zh" else "| Item | FY | Value | Source |"
        lines = [head, "|---|---|---|---|"]
        for f in found:
            shown = fmt.amount(f, lang, magnitude=f.item in OUTFLOW_ITEMS)
            lines.append(
                f"| {f.label} | {f.fiscal_year} | {shown} | [{self._file(f)} p.{f.page}] |"
            )
        company = plan.companies[0]
        lead = f"{company}：" if lang == "zh" else f"{company}:"
        text = lead + "\n\n" + "\n".join(lines)
        if missing:
            gone = "、".join(missing) if lang == "zh" else ", ".join(missing)
            text += (
                f"\n\n在已索引的报告中未找到：{gone}。"
                if lang == "zh"
                else f"\n\nNot found in the indexed reports: {gone}."
            )
        first = found[0]
        self._set(q.answer, text, found, value=first.value, unit=first.unit_label, inline=False)
        q.answer.parts = [
            {"item": f.label, "year": f.fiscal_year, "value": f.value, "page": f.page}
            for f in found
        ] + [{"part": m, "found": False} for m in missing]
        return True

    def _sum_route(self, q: _Ask) -> bool:
        """One item added up over the years asked ("total gross profit altogether for 2018 and
        2019"): every year's figure with its page and the sum by the calculator; nothing when a
        year is missing or the figures come in different units."""
        plan, route, lang = q.plan, q.route, q.plan.language
        years = sorted(set(q.years))
        if len(years) == 2 and route.span:
            years = list(range(years[0], years[1] + 1))
        found = [self._headline(q, route.items[0], year) for year in years]
        if any(f is None for f in found) or len({(f.scale, f.unit_label) for f in found}) > 1:
            return False
        facts: list[Fact] = [f for f in found if f is not None]
        expr = " + ".join(fmt.plain(f.value) for f in facts)
        call = self.toolbox.call("calculate", {"expression": expr})
        if call.error:
            return False
        total = call.result["value"]
        shown = fmt.amount(_Delta(total, facts[-1]), lang)
        label, company = facts[-1].label, plan.companies[0]
        inputs = self._inputs(facts, lang)
        span = (
            "、".join(str(y) for y in years)
            if lang == "zh"
            else " and ".join(f"FY{y}" for y in years)
        )
        if lang == "zh":
            text = f"{company}{span}年{label}合计为{shown}。计算：{expr} = {total:,.2f}。数据：{inputs}。"
        else:
            text = (
                f"{company}'s {label} for {span} together is {shown}. "
                f"Calculation: {expr} = {total:,.2f}. Inputs: {inputs}."
            )
        self._set(q.answer, text, facts, value=total, unit=facts[-1].unit_label, inline=False)
        return True

    def _cagr_route(self, q: _Ask) -> bool:
        """One item's compound annual growth rate from the first to the last year asked, by the
        calculator's ``cagr(first, last, years)``, with both figures cited."""
        plan, route, lang = q.plan, q.route, q.plan.language
        y0, y1 = min(q.years), max(q.years)
        f0 = self._headline(q, route.items[0], y0)
        f1 = self._headline(q, route.items[0], y1)
        if not f0 or not f1 or f0.value <= 0 or f1.value <= 0:
            return False
        same = f0.scale == f1.scale
        first, last = (f0.value, f1.value) if same else (f0.base_value, f1.base_value)
        expr = f"cagr({fmt.plain(first)}, {fmt.plain(last)}, {y1 - y0})"
        call = self.toolbox.call("calculate", {"expression": expr})
        if call.error:
            return False
        rate = call.result["value"]
        d = route.decimals if asks_decimals(plan.question) else 2
        shown = f"{rate:.{d}f}%"
        inputs = self._inputs([f0, f1], lang)
        company = plan.companies[0]
        if lang == "zh":
            text = (
                f"{company}{f1.label}{y0}–{y1}年的年均复合增长率为{shown}。"
                f"计算：{expr} = {rate:.{d + 2}f}%。数据：{inputs}。"
            )
        else:
            text = (
                f"{company}'s {f1.label} grew at a compound annual rate of {shown} from FY{y0} to "
                f"FY{y1}. Calculation: {expr} = ((last / first) ** (1 / {y1 - y0}) - 1) × 100 = "
                f"{rate:.{d + 2}f}%. Inputs: {inputs}."
            )
        self._set(q.answer, text, [f0, f1], value=round(rate, d), unit="%", inline=False)
        return True

    def _boolean_route(self, q: _Ask) -> bool:
        """A yes/no question about a sign ("positive working capital?") or a trend ("improving
        gross margin?"): the answer, then the figures it rests on."""
        plan, route, lang = q.plan, q.route, q.plan.language
        year = max(q.years)
        if route.metric is not None:
            years = [year - 1, year] if route.boolean == "trend" else [year]
            results = [self._metric(q, y) for y in years]
            if any(r is None for r in results):
                return False
            values = [r.value for r in results]
            inputs = [f for r in results for f in r.inputs]
            name = route.metric.label_zh if lang == "zh" else route.metric.names_en[0]
            shown = [fmt.result(v, route.metric.unit, route.decimals) for v in values]
        elif route.items:
            years = [year - 1, year] if route.boolean == "trend" else [year]
            facts = [self._fact(q.names, route.items[0], y, route.scope) for y in years]
            if any(f is None for f in facts):
                return False
            values = [f.value for f in facts]
            inputs = facts
            name = facts[0].label
            shown = [fmt.amount(f, lang) for f in facts]
        else:
            return False
        if route.boolean == "trend":
            yes = (values[1] > values[0]) == route.upward
            figures = f"FY{years[0]}: {shown[0]}; FY{years[1]}: {shown[1]}"
        else:
            yes = (values[0] > 0) == route.upward
            figures = f"FY{years[0]}: {shown[0]}"
        verdict = ("是" if yes else "否") if lang == "zh" else ("Yes" if yes else "No")
        text = (
            f"{verdict}。{plan.companies[0]}的{name}——{figures}。"
            if lang == "zh"
            else (f"{verdict}. {plan.companies[0]}'s {name} — {figures}.")
        )
        self._set(q.answer, text, inputs, value=None, unit="", inline=False)
        return True

    def _lookup_route(self, q: _Ask) -> bool:
        plan, route, answer, year = q.plan, q.route, q.answer, max(q.years)
        f = self._headline(q, route.items[0], year)
        if f is None:
            return False
        lang, company = plan.language, plan.companies[0]
        magnitude = f.item in OUTFLOW_ITEMS
        shown = fmt.amount(f, lang, magnitude=magnitude)
        if lang == "zh":
            scope = "母公司" if f.scope == "parent" else ""
            text = f"{company}{year}年{scope}{f.label}为{shown}。"
        else:
            scope = " (parent company only)" if f.scope == "parent" else ""
            text = f"{company}'s {f.label} in FY{year}{scope} was {shown}."
        value = abs(f.value) if magnitude else f.value
        self._set(answer, text, [f], value=value, unit=f.unit_label)
        return True

    def _compare(self, plan: QueryPlan, route: Route, answer: Answer, years: list[int]) -> bool:
        args: dict[str, Any] = {
            "item": route.items[0],
            "companies": plan.companies,
            "scope": route.scope,
        }
        if years:
            args["years"] = [max(years)]
        rows = self.toolbox.call("compare", args).result or []
        if len({r["company"] for r in rows}) < 2:
            return False
        facts = [row_fact(r) for r in rows]
        lang = plan.language
        header = (
            "| 公司 | 年度 | 项目 | 数值 | 来源 |"
            if lang == "zh"
            else "| Company | FY | Item | Value | Source |"
        )
        lines = [header, "|---|---|---|---|---|"]
        for f in facts:
            lines.append(
                f"| {f.company} | {f.fiscal_year} | {f.label} | {fmt.amount(f, lang)} "
                f"| [{self._file(f)} p.{f.page}] |"
            )
        top = max(facts, key=lambda f: f.base_value)
        lead = (
            f"{top.company}的{top.label}最高。"
            if lang == "zh"
            else f"{top.company} has the highest {top.label}."
        )
        self._set(
            answer, lead + "\n\n" + "\n".join(lines), facts, value=None, unit="", inline=False
        )
        return True

    # -- metrics --------------------------------------------------------------------------------
    def _metric(self, q: _Ask, year: int) -> MetricResult | None:
        """The metric asked in ``year`` from its formula's facts. An input the question names
        more narrowly than the formula ("using … net income attributable to shareholders") is
        taken as named, where the statement shows it."""
        metric, scope = q.route.metric, q.route.scope
        assert metric is not None
        narrower = {wide: key for key, wide in STANDS_FOR.items() if key in q.route.items}
        values: dict[tuple[str, int], Fact] = {}
        for item, offset in metric.items():
            f = None
            if item in narrower:
                f = self._fact(q.names, narrower[item], year + offset, scope)
            f = f or self._fact(q.names, item, year + offset, scope)
            if f is None:
                return None
            values[(item, offset)] = f
        use_base = len({f.scale for f in values.values()}) > 1
        as_expense = self._signed_taxes(q, values, scope)
        # cost lines printed in parentheses (Boeing's "Cost of products (53,969)") are amounts of
        # cost; where the statement prints its costs as positive amounts, a negative one is an
        # income (a net finance income, 财务费用 -9,854,947.13) and keeps its sign
        costs = [f.value for f in values.values() if f.item in EXPENSE_ITEMS and f.value]
        printed_negative = sum(v < 0 for v in costs) > sum(v > 0 for v in costs)

        def number(key: tuple[str, int], f: Fact) -> str:
            v = f.base_value if use_base else f.value
            if f.item in OUTFLOW_ITEMS or (f.item in EXPENSE_ITEMS and printed_negative):
                v = abs(v)
            elif key in as_expense:
                v = -v
            return fmt.plain(v)

        expr = metric.substitute({key: number(key, f) for key, f in values.items()})
        try:
            calc = calculate(expr)
        except CalculationError:
            return None
        self.toolbox.call("calculate", {"expression": expr})
        return MetricResult(year, calc.value, expr, list(values.values()))

    def _signed_taxes(
        self, q: _Ask, values: dict[tuple[str, int], Fact], scope: str
    ) -> set[tuple[str, int]]:
        """The income-tax inputs printed with the sign of their effect on income (Corning's
        "Provision for income taxes (491)"): their expense is minus the printed value. Told by
        the statement's own arithmetic: pretax income + tax as printed is nearer its net income
        than pretax income - tax."""
        out = set()
        for (item, offset), tax in values.items():
            pretax = values.get(("pretax_income", offset))
            if item != "income_tax" or pretax is None or tax.value == 0:
                continue
            net = self._fact(q.names, "net_income", tax.fiscal_year, scope)
            if net is None or net.doc_id != tax.doc_id:
                continue
            p, t, n = pretax.base_value, tax.base_value, net.base_value
            if abs(p + t - n) < abs(p - t - n):
                out.add((item, offset))
        return out

    def _metric_answer(self, q: _Ask, results: list[MetricResult]) -> None:
        """A metric in one year, or its average over several, with its formula and inputs."""
        metric, d, lang, company = _metric_of(q)
        value = sum(r.value for r in results) / len(results)
        inputs = [f for r in results for f in r.inputs]
        shown = fmt.result(value, metric.unit, d)
        name_en = metric.names_en[0]
        name_zh = metric.label_zh or name_en
        labels = {STANDS_FOR.get(f.item, f.item): f.label for f in inputs if f.item}
        words = re.sub(
            r"([a-z_]+)(@-1)?",
            lambda m: (
                (labels.get(m.group(1), m.group(1)) + (" (prior year)" if m.group(2) else ""))
                if m.group(1) in labels
                else m.group(0)
            ),
            metric.formula,
        )
        calcs, inputs_text = self._workings(results, lang)
        years = (
            f"{results[0].year}–{results[-1].year}" if len(results) > 1 else str(results[0].year)
        )
        if lang == "zh":
            text = (
                f"{company}{years}年的{name_zh}为{shown}。公式：{name_zh}={words}；计算：{calcs}。"
                f"数据：{inputs_text}。"
            )
        else:
            avg = "average " if len(results) > 1 else ""
            text = (
                f"{company}'s {avg}{name_en} for FY{years} is {shown}. Formula: {words}. "
                f"Calculation: {calcs}. Inputs: {inputs_text}."
            )
        self._set(q.answer, text, inputs, value=round(value, d), unit=metric.unit, inline=False)

    def _metric_change_answer(self, q: _Ask, results: list[MetricResult]) -> None:
        """A metric in two years and how it changed (percentage points for a percentage)."""
        metric, d, lang, company = _metric_of(q)
        r0, r1 = results
        diff = r1.value - r0.value
        unit = "pp" if metric.unit == "%" else metric.unit
        s0, s1 = fmt.result(r0.value, metric.unit, d), fmt.result(r1.value, metric.unit, d)
        step = f"{diff:+,.{d}f}" + (" percentage points" if unit == "pp" else "")
        inputs = [f for r in results for f in r.inputs]
        calcs, cites = self._workings(results, lang)
        if lang == "zh":
            name = metric.label_zh or metric.names_en[0]
            text = (
                f"{company}的{name}由{r0.year}年的{s0}变为{r1.year}年的{s1}，变动{diff:+,.{d}f}"
                f"{'个百分点' if unit == 'pp' else ''}。计算：{calcs}。数据：{cites}。"
            )
        else:
            name = metric.names_en[0]
            text = (
                f"{company}'s {name} went from {s0} in FY{r0.year} to {s1} in FY{r1.year}, a "
                f"change of {step}. Calculation: {calcs}. Inputs: {cites}."
            )
        self._set(q.answer, text, inputs, value=round(diff, d), unit=unit, inline=False)

    def _workings(self, results: Sequence[MetricResult], lang: str) -> tuple[str, str]:
        """The calculation of each year and every input with its page, as the answer shows them."""
        calcs = "; ".join(f"FY{r.year}: {r.expression} = {r.value:,.4g}" for r in results)
        return calcs, self._inputs([f for r in results for f in r.inputs], lang)

    def _inputs(self, facts: Sequence[Fact], lang: str) -> str:
        """Every input with its year, value and page: "Revenues FY2016 = $8,830,669 thousand
        [netflix.pdf p.42]; …"."""
        return "; ".join(
            f"{f.label} FY{f.fiscal_year} = {fmt.amount(f, lang)} [{self._file(f)} p.{f.page}]"
            for f in facts
        )

    # -- helpers --------------------------------------------------------------------------------
    def _target_years(self, plan: QueryPlan) -> list[int]:
        """The years asked about, else the fiscal year of the newest selected report."""
        if plan.years:
            return plan.years
        years = sorted(
            {
                d.fiscal_year
                for d in self.toolbox.documents(plan.doc_ids or [])
                if d.fiscal_year is not None
            }
        )
        return years[-1:]

    def _headline(self, q: _Ask, item: str, year: int) -> CheckedFact | None:
        """The figure an analyst means by the item: "net income" in an English question is the
        net income attributable to the company (its label says so) when the statement shows it,
        unless the question asks for the figure including noncontrolling interests."""
        if (
            item == "net_income"
            and q.plan.language == "en"
            and not _WITH_NCI.search(q.plan.question)
        ):
            f = self._fact(q.names, "net_income_parent", year, q.route.scope)
            if f is not None:
                return f
        return self._fact(q.names, item, year, q.route.scope)

    def _fact(
        self, company: str | Sequence[str], item: str, year: int, scope: str
    ) -> CheckedFact | None:
        """The fact, asking under each of the company's names in turn (a renamed company has
        reports under both: "Adobe Systems Incorporated" 2016, "Adobe Inc." 2022)."""
        for name in [company] if isinstance(company, str) else company:
            call = self.toolbox.call(
                "get_fact", {"company": name, "item": item, "year": year, "scope": scope}
            )
            if call.result:
                return row_fact(call.result[0])
        return None

    def _file(self, f: Fact) -> str:
        return self.toolbox.file_name(f.doc_id)

    def _set(
        self,
        answer: Answer,
        text: str,
        inputs: Sequence[Fact],
        *,
        value: float | None,
        unit: str,
        inline: bool = True,
    ) -> None:
        """Write the answer: text (with its citations appended when ``inline``), the citations
        of every input, the stated value, and a warning for a statement that failed a check."""
        cites: list[Citation] = []
        for f in inputs:
            if all((c.doc_id, c.page) != (f.doc_id, f.page) for c in cites):
                cites.append(Citation(f.doc_id, self._file(f), f.page))
        if inline and cites:
            end = "。" if text.endswith("。") else "."
            text = text.rstrip("。.") + " " + " ".join(c.tag for c in cites) + end
        if any(getattr(f, "checked", None) is False for f in inputs):
            text += _FAILED_CHECK["zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"]
        answer.answer = text
        answer.citations = cites
        answer.value, answer.unit = value, unit
        answer.unverified_numbers = []
        answer.model = answer.model or FACTS_MODEL
