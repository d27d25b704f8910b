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


def check_statement(
    facts: Sequence[Fact], doc_id: str, statement: str, scope: str, fiscal_year: int
) -> list[StatementCheck]:
    """Checks for one statement column (facts of one statement, scope and year)."""
    by_item: dict[str, Fact] = {}
    for f in facts:
        if f.item and f.item not in by_item:
            by_item[f.item] = f
    values = {k: f.value for k, f in by_item.items()}
    page = min((f.page for f in facts), default=0)
    out: list[StatementCheck] = []

    def add(name: str, used: list[Fact], got: float, want: float) -> None:
        ok = abs(got - want) <= _tol(*used)
        detail = f"{_fmt(got)} vs {_fmt(want)}" + ("" if ok else f" (off by {_fmt(got - want)})")
        out.append(StatementCheck(doc_id, statement, scope, fiscal_year, name, ok, detail, page))

    for name, needs, fn in _RULES.get(statement, []):
        if all(k in values for k in needs):
            got, want = fn(values)
            add(name, [by_item[k] for k in needs], got, want)

    if statement == "balance" and all(
        k in values for k in ("total_assets", "total_liabilities", "total_equity")
    ):
        used = [by_item[k] for k in ("total_assets", "total_liabilities", "total_equity")]
        got = values["total_liabilities"] + values["total_equity"]
        name = "total assets = total liabilities + total equity"
        if abs(got - values["total_assets"]) > _tol(*used):
            # temporary (mezzanine) equity printed between liabilities and equity
            rows = list(facts)
            start = rows.index(by_item["total_liabilities"]) + 1
            run = 0.0
            for f in rows[start : start + 3]:
                if f.item is not None:
                    break
                run += f.value
                if abs(got + run - values["total_assets"]) <= _tol(*used):
                    got += run
                    name += " + temporary equity"
                    break
        add(name, used, got, values["total_assets"])
    if (
        statement == "income"
        and all(k in values for k in ("pretax_income", "income_tax", "net_income"))
        and any("\u4e00" <= ch <= "\u9fff" for ch in by_item["net_income"].label)
    ):
        used = [by_item[k] for k in ("pretax_income", "income_tax", "net_income")]
        add(
            "pre-tax income - income tax = net income",
            used,
            values["pretax_income"] - values["income_tax"],
            values["net_income"],
        )
    if (
        statement == "cashflow"
        and all(
            k in values
            for k in ("cash_begin", "net_change_in_cash", "cash_end", "fx_effect_on_cash")
        )
        and not any(c.name.startswith("cash at beginning") and c.passed for c in out)
    ):
        # IFRS layouts print the FX effect after the opening balance
        used = [
            by_item[k]
            for k in ("cash_begin", "net_change_in_cash", "cash_end", "fx_effect_on_cash")
        ]
        got = values["cash_begin"] + values["net_change_in_cash"] + values["fx_effect_on_cash"]
        if abs(got - values["cash_end"]) <= _tol(*used):
            out = [c for c in out if not c.name.startswith("cash at beginning")]
            add("cash at beginning + net change + FX = cash at end", used, got, values["cash_end"])
    if statement == "cashflow":
        flows = ("operating_cash_flow", "investing_cash_flow", "financing_cash_flow")
        if all(k in values for k in (*flows, "net_change_in_cash")):
            used = [by_item[k] for k in (*flows, "net_change_in_cash")]
            got = sum(values[k] for k in flows)
            want = values["net_change_in_cash"]
            fx = values.get("fx_effect_on_cash")
            if fx is not None and abs(got - want) > _tol(*used):
                got += fx
            add("operating + investing + financing (+ FX) = net change in cash", used, got, want)
    return out
