"""Financial metrics computed from statement facts: a small, documented formula library.

Each metric is a formula over canonical item keys (the facts table's ``item`` column). ``key@-1``
means the same item one fiscal year earlier; ``avg(x, x@-1)`` is the average of opening and closing
balances (as the FinGLM gold answers do for 应收账款周转率). Names are matched in English and Chinese;
the longest name found in a question wins.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

#: Calculator functions a formula may call (not item keys).
_FUNCTIONS = frozenset({"avg", "growth", "abs"})


@dataclass(frozen=True)
class Metric:
    key: str
    formula: str  # arithmetic over item keys, key@-1, avg(), growth()
    unit: str  # "%", "x" (times), "days", "amount"
    names_en: tuple[str, ...]
    names_zh: tuple[str, ...] = ()
    label_zh: str = ""

    def items(self) -> list[tuple[str, int]]:
        """(item key, year offset) pairs the formula needs."""
        out = []
        for m in re.finditer(r"([a-z_]+)(?:@(-?\d+))?", self.formula):
            name = m.group(1)
            if name in _FUNCTIONS:
                continue
            pair = (name, int(m.group(2) or 0))
            if pair not in out:
                out.append(pair)
        return out

    def mentions(self) -> Counter[str]:
        """How often the formula names each item as a written formula would: an average of
        opening and closing balances once ("average inventory"), a growth rate three times
        ("(new - old) / old"). A definition the question writes that names an item more often
        (DPO over "COGS + change in inventory") is another formula, though its items are ours."""
        text = re.sub(r"avg\(\s*([a-z_]+)\s*,\s*\1@-1\s*\)", r"\1", self.formula)
        text = re.sub(r"growth\(\s*([a-z_]+)@-1\s*,\s*\1\s*\)", r"(\1 - \1) / \1", text)
        return Counter(n for n in re.findall(r"[a-z_]+", text) if n not in _FUNCTIONS)

    def substitute(self, numbers: Mapping[tuple[str, int], str]) -> str:
        """The formula with every ``(item, year offset)`` replaced by its number's text."""
        expr = self.formula
        for (item, offset), text in sorted(numbers.items(), key=lambda kv: -len(kv[0][0])):
            token = f"{item}@{offset}" if offset else item
            expr = re.sub(rf"(?<![a-z_@]){re.escape(token)}(?![a-z_@\d])", text, expr)
        return expr


METRICS: tuple[Metric, ...] = (
    Metric(
        "gross_margin",
        "(revenue - cost_of_revenue) / revenue * 100",
        "%",
        ("gross margin", "gross profit margin"),
        ("毛利率", "销售毛利率"),
        "毛利率",
    ),
    Metric(
        "operating_margin",
        "operating_income / revenue * 100",
        "%",
        ("operating margin", "operating profit margin", "operating income margin"),
        ("营业利润率",),
        "营业利润率",
    ),
    Metric(
        "net_margin",
        "net_income / revenue * 100",
        "%",
        ("net profit margin", "net margin", "net income margin", "profit margin"),
        ("销售净利率", "净利率", "净利润率"),
        "销售净利率",
    ),
    Metric(
        "revenue_growth",
        "growth(revenue@-1, revenue)",
        "%",
        (
            "revenue growth",
            "growth in revenue",
            "change in revenue",
            "revenue change",
            "sales growth",
            "growth in net sales",
            "change in net sales",
        ),
        ("营业收入增长率", "营收增长率", "营业收入同比增长"),
        "营业收入增长率",
    ),
    Metric(
        "net_income_growth",
        "growth(net_income@-1, net_income)",
        "%",
        ("net income growth", "change in net income", "growth in net income"),
        ("净利润增长率", "净利润同比增长"),
        "净利润增长率",
    ),
    Metric(
        "current_ratio",
        "total_current_assets / total_current_liabilities",
        "x",
        ("current ratio", "working capital ratio"),
        ("流动比率",),
        "流动比率",
    ),
    Metric(
        "quick_ratio",
        "(total_current_assets - inventory) / total_current_liabilities",
        "x",
        ("quick ratio", "acid test ratio", "acid-test ratio"),
        ("速动比率",),
        "速动比率",
    ),
    Metric(
        "working_capital",
        "total_current_assets - total_current_liabilities",
        "amount",
        ("net working capital", "working capital"),
        ("营运资金", "营运资本"),
        "营运资金",
    ),
    Metric(
        "debt_ratio",
        "total_liabilities / total_assets * 100",
        "%",
        ("debt ratio", "liabilities to assets", "debt-to-assets"),
        ("资产负债率",),
        "资产负债率",
    ),
    Metric(
        "debt_to_equity",
        "total_liabilities / total_equity",
        "x",
        ("debt to equity", "debt-to-equity", "liabilities to equity"),
        ("产权比率",),
        "产权比率",
    ),
    Metric(
        "roa",
        "net_income / avg(total_assets, total_assets@-1) * 100",
        "%",
        ("return on assets", "roa"),
        ("总资产收益率", "总资产净利率"),
        "总资产收益率",
    ),
    Metric(
        "roe",
        "net_income / avg(total_equity, total_equity@-1) * 100",
        "%",
        ("return on equity", "roe"),
        ("净资产收益率",),
        "净资产收益率",
    ),
    Metric(
        "asset_turnover",
        "revenue / avg(total_assets, total_assets@-1)",
        "x",
        ("total asset turnover", "asset turnover"),
        ("总资产周转率",),
        "总资产周转率",
    ),
    Metric(
        "fixed_asset_turnover",
        "revenue / avg(ppe_net, ppe_net@-1)",
        "x",
        ("fixed asset turnover",),
        ("固定资产周转率",),
        "固定资产周转率",
    ),
    Metric(
        "receivables_turnover",
        "revenue / avg(accounts_receivable, accounts_receivable@-1)",
        "x",
        ("receivables turnover", "receivable turnover", "accounts receivable turnover"),
        ("应收账款周转率",),
        "应收账款周转率",
    ),
    Metric(
        "inventory_turnover",
        "cost_of_revenue / avg(inventory, inventory@-1)",
        "x",
        ("inventory turnover",),
        ("存货周转率",),
        "存货周转率",
    ),
    Metric(
        "days_inventory",
        "365 * avg(inventory, inventory@-1) / cost_of_revenue",
        "days",
        ("days inventory outstanding", "days of inventory", "dio"),
        ("存货周转天数",),
        "存货周转天数",
    ),
    Metric(
        "days_payable",
        "365 * avg(accounts_payable, accounts_payable@-1) / cost_of_revenue",
        "days",
        ("days payable outstanding", "dpo"),
        ("应付账款周转天数",),
        "应付账款周转天数",
    ),
    Metric(
        "days_sales_outstanding",
        "365 * avg(accounts_receivable, accounts_receivable@-1) / revenue",
        "days",
        ("days sales outstanding", "dso"),
        ("应收账款周转天数",),
        "应收账款周转天数",
    ),
    Metric(
        "cash_conversion_cycle",
        "365 * avg(inventory, inventory@-1) / cost_of_revenue"
        " + 365 * avg(accounts_receivable, accounts_receivable@-1) / revenue"
        " - 365 * avg(accounts_payable, accounts_payable@-1) / cost_of_revenue",
        "days",
        ("cash conversion cycle", "cash cycle", "ccc"),
        ("现金转换周期", "现金循环周期", "现金周期"),
        "现金转换周期",
    ),
    Metric(
        "capex_to_revenue",
        "capex / revenue * 100",
        "%",
        (
            "capex as a % of revenue",
            "capex as a percent of revenue",
            "capex to revenue",
            "capital expenditure as a % of revenue",
            "capex as % of revenue",
        ),
        ("资本支出占营业收入",),
        "资本支出/营业收入",
    ),
    Metric(
        "free_cash_flow",
        "operating_cash_flow - capex",
        "amount",
        ("free cash flow", "fcf"),
        ("自由现金流",),
        "自由现金流",
    ),
    Metric(
        "rd_to_revenue",
        "rd_expense / revenue",
        "x",
        ("r&d to revenue", "r&d intensity", "r&d as a % of revenue"),
        (
            "研发经费与营业收入的比值",
            "研发经费与营业收入比值",
            "研发费用与营业收入",
            "研发经费与营业收入",
        ),
        "企业研发经费与营业收入比值",
    ),
    Metric(
        "rd_to_net_income",
        "rd_expense / net_income",
        "x",
        ("r&d to net income",),
        ("研发经费与利润的比值", "研发经费与利润比值", "研发费用与净利润", "研发经费与净利润"),
        "企业研发经费与利润比值",
    ),
    Metric(
        "dividend_payout",
        "dividends_paid / net_income * 100",
        "%",
        ("dividend payout ratio", "payout ratio"),
        ("股利支付率", "分红率"),
        "股利支付率",
    ),
    Metric(
        "retention_ratio",
        "(net_income - dividends_paid) / net_income",
        "x",
        ("retention ratio", "plowback ratio"),
        ("留存比率", "利润留存率"),
        "利润留存率",
    ),
    Metric(
        "effective_tax_rate",
        "income_tax / pretax_income * 100",
        "%",
        ("effective tax rate",),
        ("实际税率",),
        "实际税率",
    ),
    Metric(
        "interest_coverage",
        "operating_income / interest_expense",
        "x",
        ("interest coverage", "times interest earned"),
        ("利息保障倍数",),
        "利息保障倍数",
    ),
    Metric(
        "ebitda_margin",
        "(operating_income + depreciation_amortization) / revenue * 100",
        "%",
        ("ebitda margin", "ebitda % margin", "ebitda percent margin"),
        ("EBITDA利润率", "EBITDA率"),
        "EBITDA利润率",
    ),
    Metric(
        "ebitda",
        "operating_income + depreciation_amortization",
        "amount",
        ("ebitda",),
        (),
        "EBITDA",
    ),
    Metric(
        "cash_conversion",
        "operating_cash_flow / net_income",
        "x",
        ("cash conversion", "operating cash flow to net income"),
        ("净现比",),
        "净现比",
    ),
)


def metric_spans(text: str, metric: Metric) -> list[tuple[int, int]]:
    """Where ``metric``'s names are written in ``text``: (start, end) of each, in text order, a
    longer name winning over a name inside it. English names match in any case as whole words,
    Chinese names as written."""
    spans: list[tuple[int, int]] = []
    for name in sorted((*metric.names_en, *metric.names_zh), key=len, reverse=True):
        if name in metric.names_zh:
            found = re.finditer(re.escape(name), text)
        else:
            found = re.finditer(r"(?<![a-z])" + re.escape(name) + r"(?![a-z])", text, re.I)
        for m in found:
            if all(m.end() <= s or m.start() >= e for s, e in spans):
                spans.append((m.start(), m.end()))
    return sorted(spans)


def find_metric(text: str) -> Metric | None:
    """The metric named in ``text`` (longest name first), or None."""
    best: tuple[int, Metric] | None = None
    for metric in METRICS:
        longest = max((e - s for s, e in metric_spans(text, metric)), default=0)
        if longest and (best is None or longest > best[0]):
            best = (longest, metric)
    return best[1] if best else None
