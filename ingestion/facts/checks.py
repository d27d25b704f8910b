"""Accounting identities checked on each parsed statement column.

A failed check means the statement parsed badly (a row in the wrong column, a missed row) or the
report itself is unusual (mezzanine equity between liabilities and equity); either way the UI and
the agent can warn. Checks run only where every operand was found.

balance   total assets = total liabilities and equity
          total assets = total liabilities + total equity (+ redeemable/temporary equity rows)
          流动资产合计 + 非流动资产合计 = 资产总计; 流动负债合计 + 非流动负债合计 = 负债合计
          equity attributable to parent + minority interests = total equity
income    net income = attributable to parent + attributable to minority interests
          利润总额 − 所得税费用 = 净利润; revenue − cost of revenue = gross profit
cashflow  operating + investing + financing (+ FX effect) = net change in cash
          cash at beginning + net change = cash at end
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from backend.records import Fact, StatementCheck


def _tol(*facts: Fact) -> float:
    decimals = 0
    for f in facts:
        m = re.search(r"\.(\d+)\)?$", f.raw.strip())
        decimals = max(decimals, len(m.group(1)) if m else 0)
    unit = 10.0**-decimals
    big = max(abs(f.value) for f in facts)
    return max(3 * unit, 2e-6 * big)


def _fmt(v: float) -> str:
    return f"{v:,.2f}".rstrip("0").rstrip(".")


Rule = tuple[str, list[str], Callable[[dict[str, float]], tuple[float, float]]]

_RULES: dict[str, list[Rule]] = {
    "balance": [
        (
            "total assets = total liabilities and equity",
            ["total_assets", "total_liabilities_equity"],
            lambda v: (v["total_assets"], v["total_liabilities_equity"]),
        ),
        (
            "current + non-current assets = total assets",
            ["total_current_assets", "total_noncurrent_assets", "total_assets"],
            lambda v: (v["total_current_assets"] + v["total_noncurrent_assets"], v["total_assets"]),
        ),
        (
            "current + non-current liabilities = total liabilities",
            ["total_current_liabilities", "total_noncurrent_liabilities", "total_liabilities"],
            lambda v: (
                v["total_current_liabilities"] + v["total_noncurrent_liabilities"],
                v["total_liabilities"],
            ),
        ),
        (
            "parent equity + minority interests = total equity",
            ["equity_parent", "minority_interest", "total_equity"],
            lambda v: (v["equity_parent"] + v["minority_interest"], v["total_equity"]),
        ),
    ],
    "income": [
        (
            "net income = parent share + minority share",
            ["net_income", "net_income_parent", "minority_interest_income"],
            # "Less: attributable to noncontrolling interests (14)" may be printed negative
            lambda v: (
                v["net_income_parent"]
                + abs(v["minority_interest_income"])
                * (1 if v["net_income"] >= v["net_income_parent"] else -1),
                v["net_income"],
            ),
        ),
        (
            "revenue - cost of revenue = gross profit",
            ["revenue", "cost_of_revenue", "gross_profit"],
            lambda v: (v["revenue"] - abs(v["cost_of_revenue"]), v["gross_profit"]),
        ),
    ],
    "cashflow": [
        (
            "cash at beginning + net change = cash at end",
            ["cash_begin", "net_change_in_cash", "cash_end"],
            lambda v: (v["cash_begin"] + v["net_change_in_cash"], v["cash_end"]),
        ),
    ],
}


class _Column:
    """The facts of one statement column, by item, and the checks found so far."""

    def __init__(
        self, facts: Sequence[Fact], doc_id: str, statement: str, scope: str, fiscal_year: int
    ) -> None:
        self.facts = list(facts)
        self.by_item: dict[str, Fact] = {}
        for f in facts:
            if f.item and f.item not in self.by_item:
                self.by_item[f.item] = f
        self.values = {k: f.value for k, f in self.by_item.items()}
        self.key = (doc_id, statement, scope, fiscal_year)
        self.page = min((f.page for f in facts), default=0)
        self.out: list[StatementCheck] = []

    def has(self, *items: str) -> bool:
        return all(k in self.values for k in items)

    def used(self, *items: str) -> list[Fact]:
        return [self.by_item[k] for k in items]

    def add(self, name: str, used: list[Fact], got: float, want: float) -> None:
        ok = abs(got - want) <= _tol(*used)
        detail = f"{_fmt(got)} vs {_fmt(want)}" + ("" if ok else f" (off by {_fmt(got - want)})")
        self.out.append(StatementCheck(*self.key, name, ok, detail, self.page))


def _balance_identity(col: _Column) -> None:
    """Assets = liabilities + equity, allowing temporary (mezzanine) equity printed between."""
    items = ("total_assets", "total_liabilities", "total_equity")
    if not col.has(*items):
        return
    used, v = col.used(*items), col.values
    got = v["total_liabilities"] + v["total_equity"]
    name = "total assets = total liabilities + total equity"
    if abs(got - v["total_assets"]) > _tol(*used):
        start = col.facts.index(col.by_item["total_liabilities"]) + 1
        run = 0.0
        for f in col.facts[start : start + 3]:
            if f.item is not None:
                break
            run += f.value
            if abs(got + run - v["total_assets"]) <= _tol(*used):
                got += run
                name += " + temporary equity"
                break
    col.add(name, used, got, v["total_assets"])


def _income_tax_zh(col: _Column) -> None:
    """利润总额 - 所得税费用 = 净利润 (Chinese statements print all three)."""
    items = ("pretax_income", "income_tax", "net_income")
    if col.has(*items) and any(
        "\u4e00" <= ch <= "\u9fff" for ch in col.by_item["net_income"].label
    ):
        v = col.values
        name = "pre-tax income - income tax = net income"
        col.add(name, col.used(*items), v["pretax_income"] - v["income_tax"], v["net_income"])


def _cash_with_fx(col: _Column) -> None:
    """IFRS layouts print the FX effect after the opening balance: replace the failed plain
    opening + change = closing check by the one with FX when that one holds."""
    items = ("cash_begin", "net_change_in_cash", "cash_end", "fx_effect_on_cash")
    if not col.has(*items) or any(
        c.name.startswith("cash at beginning") and c.passed for c in col.out
    ):
        return
    used, v = col.used(*items), col.values
    got = v["cash_begin"] + v["net_change_in_cash"] + v["fx_effect_on_cash"]
    if abs(got - v["cash_end"]) <= _tol(*used):
        col.out = [c for c in col.out if not c.name.startswith("cash at beginning")]
        col.add("cash at beginning + net change + FX = cash at end", used, got, v["cash_end"])


def _cash_flows_sum(col: _Column) -> None:
    """Operating + investing + financing (+ FX) = net change in cash."""
    flows = ("operating_cash_flow", "investing_cash_flow", "financing_cash_flow")
    if not col.has(*flows, "net_change_in_cash"):
        return
    used, v = col.used(*flows, "net_change_in_cash"), col.values
    got = sum(v[k] for k in flows)
    want = v["net_change_in_cash"]
    fx = v.get("fx_effect_on_cash")
    if fx is not None and abs(got - want) > _tol(*used):
        got += fx
    col.add("operating + investing + financing (+ FX) = net change in cash", used, got, want)


_IDENTITIES = {
    "balance": (_balance_identity,),
    "income": (_income_tax_zh,),
    "cashflow": (_cash_with_fx, _cash_flows_sum),
}


def check_statement(
    facts: Sequence[Fact], doc_id: str, statement: str, scope: str, fiscal_year: int
) -> list[StatementCheck]:
    """Checks for one statement column (facts of one statement, scope and year)."""
    col = _Column(facts, doc_id, statement, scope, fiscal_year)
    for name, needs, fn in _RULES.get(statement, []):
        if col.has(*needs):
            got, want = fn(col.values)
            col.add(name, col.used(*needs), got, want)
    for identity in _IDENTITIES.get(statement, ()):
        identity(col)
    return col.out
