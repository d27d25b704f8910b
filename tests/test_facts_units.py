"""Financial-statement facts, the pieces without PDFs: amounts, units, currencies, the synonym
table and question parsing."""

from __future__ import annotations

import pytest

from backend.domain.items import (
    ITEMS,
    ITEMS_BY_KEY,
    canonical_items,
    items_in,
    match_item,
    normalize_label,
    scope_in,
)
from ingestion.facts.locate import classify_en_title, classify_zh_title
from ingestion.facts.units import (
    currency_row,
    decimals,
    detect_currency,
    detect_scale,
    is_dash,
    parse_amount,
)


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("1,577", 1577.0),
        ("(1,577)", -1577.0),  # parentheses: negative
        ("-438,416,032.45", -438416032.45),  # 年报 minus sign
        ("−12.5", -12.5),  # unicode minus
        ("（1,234.00）", -1234.0),  # full-width parentheses
        ("$121,711", 121711.0),  # a dollar sign stuck to the number
        ("(737", -737.0),  # "(737 )": the closing parenthesis printed apart
        ("0.5932", 0.5932),
        ("992,955,495.15", 992955495.15),
    ],
)
def test_amounts_parse_with_their_sign(token: str, value: float) -> None:
    assert parse_amount(token) == pytest.approx(value)


@pytest.mark.parametrize("token", ["—", "abc", "2019年", "12%", "1,57", "F-4", "", "C1(c)", "737)"])
def test_non_amounts_are_refused(token: str) -> None:
    assert parse_amount(token) is None


def test_dashes_mean_nil_and_are_not_amounts() -> None:
    assert all(is_dash(t) for t in ("—", "–", "-", "——"))
    assert not is_dash("0") and not is_dash("(1)")
    assert decimals("1,048,976,368.69") == 2 and decimals("1,577") == 0


@pytest.mark.parametrize(
    ("heading", "scale", "label"),
    [
        ("(Millions, except per share amounts) 2018 2017 2016", 1e6, "millions"),
        ("(Dollars in millions, except per share amount)", 1e6, "millions"),
        ("$ in millions, except per share amounts", 1e6, "millions"),
        ("(In thousands, except par value)", 1e3, "thousands"),
        ("(amounts in thousands, except shares)", 1e3, "thousands"),
        ("All figures in USD ‘000, except share and per share amount", 1e3, "thousands"),
        ("Note £000’s £000’s", 1e3, "thousands"),
        ("Note $’m $’m", 1e6, "millions"),
        ("Millions of yen", 1e6, "millions"),
        ("单位：元", 1.0, "元"),
        ("单位：万元", 1e4, "万元"),
        ("单位：人民币亿元", 1e8, "亿元"),
        ("单位：千元", 1e3, "千元"),
    ],
)
def test_scale_is_read_from_the_heading(heading: str, scale: float, label: str) -> None:
    language = "zh" if "单位" in heading else "en"
    assert detect_scale(heading, language) == (scale, label)


def test_thousands_and_millions_are_not_confused() -> None:
    assert detect_scale("(in thousands)", "en")[0] == 1e3
    assert detect_scale("(in millions)", "en")[0] == 1e6
    assert detect_scale("单位：元", "zh")[0] == 1.0
    assert detect_scale("单位：万元", "zh")[0] == 1e4  # 万元 is not 元
    assert detect_scale("CONSOLIDATED BALANCE SHEETS", "en") is None  # nothing named: no guess


def test_currency_rows_under_the_years_state_the_unit() -> None:
    assert currency_row(["$", "$"]) == (1.0, "units")
    assert currency_row(["Note", "$", "$"]) == (1.0, "units")
    assert currency_row(["$'000", "$'000"]) == (1e3, "thousands")
    assert currency_row(["$’m", "$’m"]) == (1e6, "millions")
    assert currency_row(["2022", "2021"]) is None


def test_currency_detection() -> None:
    assert detect_currency("(in millions)", "en", "Net sales $ 32,765") == "USD"
    assert detect_currency("Millions of yen", "en") == "JPY"
    assert detect_currency("€m", "en") == "EUR"
    assert detect_currency("单位：元", "zh") == "CNY"
    assert detect_currency("(in thousands of Canadian dollars)", "en") == "CAD"


def test_label_normalisation() -> None:
    assert normalize_label("五、净利润（净亏损以“－”号填列）") == "净利润"
    assert normalize_label(" 其中：营业收入") == "营业收入"
    assert normalize_label("1.归属于母公司所有者的净利润") == "归属于母公司所有者的净利润"
    assert normalize_label("实收资本（或股本）") == "实收资本"
    assert normalize_label("Purchases of property, plant and equipment (PP&E)") == (
        "purchases of property plant and equipment"
    )
    assert normalize_label("Cash and cash equivalents C1(c)") == "cash and cash equivalents"
    assert normalize_label("Net income attributable to 3M") == "net income attributable to 3m"


@pytest.mark.parametrize(
    ("label", "statement", "key"),
    [
        ("Net sales", "income", "revenue"),
        ("Total net revenues", "income", "revenue"),
        ("Net income attributable to 3M", "income", "net_income_parent"),
        (
            "Less: Net income attributable to noncontrolling interest",
            "income",
            "minority_interest_income",
        ),
        ("Research, development and related expenses", "income", "rd_expense"),
        (
            "Accounts receivable — net of allowances of $95 and $103",
            "balance",
            "accounts_receivable",
        ),
        ("Total 3M Company shareholders’ equity", "balance", "equity_parent"),
        ("Total equity", "balance", "total_equity"),
        ("Total liabilities and shareholders’ equity", "balance", "total_liabilities_equity"),
        ("Purchases of property, plant and equipment (PP&E)", "cashflow", "capex"),
        ("Purchases of land, buildings, and equipment", "cashflow", "capex"),
        # General Mills: the headline line, the company's share and the others' share
        (
            "Net earnings, including earnings attributable to redeemable and noncontrolling "
            "interests",
            "income",
            "net_income",
        ),
        ("Net earnings attributable to General Mills", "income", "net_income_parent"),
        (
            "Net earnings attributable to redeemable and noncontrolling interests",
            "income",
            "minority_interest_income",
        ),
        ("Net cash provided by (used in) operating activities", "cashflow", "operating_cash_flow"),
        (
            "Effect of exchange rate changes on cash and cash equivalents",
            "cashflow",
            "fx_effect_on_cash",
        ),
        ("营业收入", "income", "revenue"),
        ("营业总收入", "income", "total_revenue"),
        ("五、净利润（净亏损以“－”号填列）", "income", "net_income"),
        ("归属于母公司所有者的净利润", "income", "net_income_parent"),
        ("研发费用", "income", "rd_expense"),
        ("应收账款", "balance", "accounts_receivable"),
        ("资产总计", "balance", "total_assets"),
        ("购建固定资产、无形资产和其他长期资产支付的现金", "cashflow", "capex"),
        ("经营活动产生的现金流量净额", "cashflow", "operating_cash_flow"),
    ],
)
def test_synonyms_map_labels_to_canonical_items(label: str, statement: str, key: str) -> None:
    hit = match_item(label, statement)
    assert hit is not None and hit[0] == key


def test_items_belong_to_their_statement() -> None:
    # in a cash-flow statement "Accounts receivable" is a change, not the balance
    assert match_item("Accounts receivable", "cashflow") is None
    assert match_item("Net income", "cashflow") is None
    assert match_item("应收账款", "income") is None
    # the words alone would make this per-share row net income; the per-share filter (set by
    # the extractor from "per share" in the label) keeps amounts and per-share items apart
    label = "Net Income Attributable to PepsiCo per Common Share: Basic"
    assert match_item(label, "income")[0] == "net_income_parent"
    assert match_item(label, "income", per_share=True)[0] == "eps_basic"
    assert match_item("Net income attributable to 3M", "income", per_share=True) is None
    assert match_item("Gain on sale of businesses", "income") is None


def test_synonym_table_is_consistent() -> None:
    assert len(ITEMS_BY_KEY) == len(ITEMS)
    assert all(i.statement in ("income", "balance", "cashflow") for i in ITEMS)
    items = canonical_items()
    for key in (
        "revenue",
        "net_income",
        "net_income_parent",
        "total_assets",
        "total_liabilities",
        "total_equity",
        "operating_cash_flow",
        "capex",
        "rd_expense",
        "accounts_receivable",
        "inventory",
        "cash",
    ):
        assert items.get(key)


@pytest.mark.parametrize(
    ("question", "keys"),
    [
        ("What is the FY2018 capital expenditure amount (in USD millions) for 3M?", ["capex"]),
        ("华锦股份2019年归属于上市公司股东的净利润是多少？", ["net_income_parent"]),
        ("航天电器2019年的应收账款周转率是多少次？", ["accounts_receivable"]),
        ("北方华锦化学工业股份有限公司在2019年的研发经费与利润的比值是多少？", ["rd_expense"]),
        ("What was Netflix's total revenue and net income in FY2017?", ["revenue", "net_income"]),
        ("资产负债率=负债合计/资产总计", ["total_liabilities", "total_assets"]),
        ("Who is the CEO?", []),
        ("What were wholesales?", []),  # whole words only
    ],
)
def test_items_named_in_questions(question: str, keys: list[str]) -> None:
    assert items_in(question) == keys


def test_parent_scope_in_questions() -> None:
    assert scope_in("华锦股份2019年母公司净利润") == "parent"
    assert scope_in("归属于母公司所有者的净利润") is None  # a consolidated figure
    assert scope_in("What is the parent company only net income?") == "parent"
    assert scope_in("What was 3M's net income?") is None


def test_statement_titles() -> None:
    assert classify_en_title("Consolidated Statement of Incom e") == ("income", "consolidated")
    assert classify_en_title("CONSOLIDATED BALANCE SHEETS") == ("balance", "consolidated")
    assert classify_en_title("Consolidated Statements of Cash Flows") == (
        "cashflow",
        "consolidated",
    )
    assert classify_en_title("CASH FLOWS STATEMENTS") == ("cashflow", "consolidated")
    assert classify_en_title("Statement of financial position") == ("balance", "consolidated")
    assert classify_en_title("Parent Company Balance Sheet")[1] == "parent"
    for title in (
        "Condensed Consolidating Balance Sheets",
        "Selected Financial Data",
        "Consolidated Statements of Comprehensive Income",
        "Consolidated Statements of Shareholders' Equity",
        "Notes to Consolidated Financial Statements",
    ):
        assert classify_en_title(title) is None, title
    assert classify_zh_title("1、合并资产负债表") == ("balance", "consolidated")
    assert classify_zh_title("4、母公司利润表") == ("income", "parent")
    assert classify_zh_title("合并现金流量表") == ("cashflow", "consolidated")
    assert classify_zh_title("受影响的合并资产负债表项目和金额：") is None


def test_labels_are_shown_without_enumerators_remarks_or_dot_leaders() -> None:
    from backend.domain.format import display_label

    assert display_label("Interest expense . . . . . . .") == "Interest expense"
    assert display_label("五、净利润（净亏损以“－”号填列）") == "净利润"
    assert display_label("其中：营业收入") == "营业收入"
    assert display_label("Sales to U.S.") == "Sales to U.S."
