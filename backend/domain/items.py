"""Canonical financial-statement items and their synonyms (English 10-K labels + Chinese 年报 labels).

One small, documented table shared by ingestion (which maps statement rows to item keys) and the
backend (which finds the items a question mentions). Importing this module is cheap: regular
expressions only.

How a statement row gets an item key (:func:`match_item`): its label is normalised
(:func:`normalize_label`: lower case, parentheticals, punctuation, enumerators such as 一、 or
（一）, 其中：/加：/减：, "(loss shown with -)" remarks dropped) and compared with the item's
``en`` patterns (regular expressions that must match the whole normalised label) or ``zh`` labels
(exact match after normalisation). Only the item's own statement is searched: "Accounts
receivable" in a cash-flow statement is a change, not the balance, so it gets no key there. When
two rows of one statement column claim the same key, the earlier synonym in the list wins ("Total
revenues" before "Net sales").

How a question gets item keys (:func:`items_in`): the ``ask`` phrases (en + zh) are searched in the
question, longest first, without overlaps, so 归属于上市公司股东的净利润 yields
``net_income_parent`` and not also ``net_income``.

Table (key → statement; English labels; Chinese labels):

========================== ========= ================================================ =====================
key                        statement English row labels (examples)                   中文科目
========================== ========= ================================================ =====================
revenue                    income    Total revenues, Net sales, Net revenues          营业收入
total_revenue              income    —                                                营业总收入
cost_of_revenue            income    Cost of sales, Cost of revenues, COGS            营业成本
gross_profit               income    Gross profit, Gross margin                       —
rd_expense                 income    Research and development (expenses)              研发费用
selling_expense            income    Selling and marketing, Sales and marketing       销售费用
admin_expense              income    General and administrative                       管理费用
sga_expense                income    Selling, general and administrative              —
finance_expense            income    —                                                财务费用
total_operating_expenses   income    Total operating expenses, Total costs and exp.   营业总成本
operating_income           income    Operating income, Income from operations         营业利润
interest_expense           income    Interest expense                                 利息费用
pretax_income              income    Income before income taxes                       利润总额
income_tax                 income    Provision for income taxes, Income tax expense   所得税费用
net_income                 income    Net income, Net earnings, Net income (loss)      净利润
net_income_parent          income    Net income attributable to <company>             归属于母公司所有者的净利润
minority_interest_income   income    Net income attributable to noncontrolling int.   少数股东损益
eps_basic / eps_diluted    income    Basic / Diluted earnings per share               基本/稀释每股收益
cash                       balance   Cash and cash equivalents                        货币资金
accounts_receivable        balance   Accounts receivable, net                         应收账款
notes_receivable           balance   —                                                应收票据
inventory                  balance   Inventories, Merchandise inventories             存货
prepayments                balance   —                                                预付款项
total_current_assets       balance   Total current assets                             流动资产合计
ppe_net                    balance   Property, plant and equipment, net               固定资产
construction_in_progress   balance   —                                                在建工程
goodwill                   balance   Goodwill                                         商誉
intangible_assets          balance   Intangible assets, net                           无形资产
total_noncurrent_assets    balance   Total non-current assets                         非流动资产合计
total_assets               balance   Total assets                                     资产总计
short_term_debt            balance   Short-term borrowings                            短期借款
accounts_payable           balance   Accounts payable                                 应付账款
notes_payable              balance   —                                                应付票据
total_current_liabilities  balance   Total current liabilities                        流动负债合计
long_term_debt             balance   Long-term debt                                   长期借款
total_noncurrent_liab.     balance   Total non-current liabilities                    非流动负债合计
total_liabilities          balance   Total liabilities                                负债合计
share_capital              balance   —                                                股本 / 实收资本
capital_reserve            balance   Additional paid-in capital                       资本公积
retained_earnings          balance   Retained earnings                                未分配利润
equity_parent              balance   Total <company> shareholders' equity             归属于母公司所有者权益合计
minority_interest          balance   Noncontrolling interest(s)                       少数股东权益
total_equity               balance   Total equity, Total shareholders' equity         所有者权益合计
total_liabilities_equity   balance   Total liabilities and (shareholders') equity     负债和所有者权益总计
operating_cash_flow        cashflow  Net cash provided by operating activities        经营活动产生的现金流量净额
investing_cash_flow        cashflow  Net cash used in investing activities            投资活动产生的现金流量净额
financing_cash_flow        cashflow  Net cash used in financing activities            筹资活动产生的现金流量净额
capex                      cashflow  Purchases of property, plant and equipment       购建固定资产、无形资产和其他长期资产支付的现金
depreciation_amortization  cashflow  Depreciation and amortization                    —
dividends_paid             cashflow  Dividends paid                                   —
share_repurchase           cashflow  Purchases of treasury stock, Repurchases of ...  —
fx_effect_on_cash          cashflow  Effect of exchange rate changes on cash          汇率变动对现金及现金等价物的影响
net_change_in_cash         cashflow  Net increase (decrease) in cash                  现金及现金等价物净增加额
cash_begin / cash_end      cashflow  Cash ... at beginning / end of year              期初/期末现金及现金等价物余额
========================== ========= ================================================ =====================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

STATEMENTS = ("income", "balance", "cashflow")
#: Items reported per share (scale 1, not the statement's "in millions").
PER_SHARE_ITEMS = frozenset({"eps_basic", "eps_diluted"})
#: Cash-flow lines printed as negatives (outflows) that questions ask about as positive amounts.
OUTFLOW_ITEMS = frozenset({"capex", "dividends_paid", "share_repurchase"})
#: Cost and expense lines: some statements print them in parentheses (Boeing's "Cost of products
#: (53,969)"); in a formula they are amounts of cost, so their magnitude is used.
EXPENSE_ITEMS = frozenset(
    {
        "cost_of_revenue", "rd_expense", "selling_expense", "admin_expense", "sga_expense",
        "finance_expense", "total_operating_expenses", "interest_expense",
        "depreciation_amortization",
    }
)  # fmt: skip
SCOPES = ("consolidated", "parent")


@dataclass(frozen=True)
class Item:
    """A canonical statement item. ``en``: full-match regexes on normalised English labels;
    ``zh``: normalised Chinese labels; ``ask``: phrases that name the item in a question."""

    key: str
    statement: str
    description: str
    en: tuple[str, ...] = ()
    zh: tuple[str, ...] = ()
    ask: tuple[str, ...] = ()


_SH = r"(?:share|stock)holders?|shareowners?|owners?|members?|partners?"
_NCI = r"non ?controlling|minority|redeemable non ?controlling"

ITEMS: tuple[Item, ...] = (
    # --- income statement ---------------------------------------------------------------------
    Item(
        "revenue",
        "income",
        "Revenue / net sales (营业收入)",
        en=(
            r"total (?:net )?revenues?",
            r"(?:net )?revenues?",
            r"total net sales(?: and revenues?)?",
            r"net sales",
            r"total (?:net )?sales",
            r"sales",
            r"(?:total )?operating revenues?",
            r"revenues? net",
            r"sales to customers",
            r"turnover",
            r"(?:total )?net revenues? including net interest income",
        ),
        zh=("营业收入",),
        ask=(
            "revenue",
            "revenues",
            "net sales",
            "total sales",
            "sales",
            "turnover",
            "top line",
            "营业收入",
            "营收",
            "销售收入",
            "主营业务收入",
        ),
    ),
    Item(
        "total_revenue",
        "income",
        "Total operating revenue incl. financial-business income (营业总收入)",
        zh=("营业总收入",),
        ask=("营业总收入", "total operating revenue"),
    ),
    Item(
        "cost_of_revenue",
        "income",
        "Cost of revenue / cost of sales (营业成本)",
        en=(
            r"(?:total )?cost of (?:net )?(?:revenues?|sales|goods sold|products sold|products)"
            r"(?: (?:excluding|including|exclusive of|inclusive of) .*)?",
        ),
        zh=("营业成本",),
        ask=(
            "cost of revenue",
            "cost of revenues",
            "cost of sales",
            "cost of goods sold",
            "cogs",
            "营业成本",
            "销售成本",
        ),
    ),
    Item(
        "gross_profit",
        "income",
        "Gross profit",
        en=(r"gross (?:profit|margin)(?: on (?:net )?sales)?",),
        ask=("gross profit", "gross margin", "毛利", "毛利润"),
    ),
    Item(
        "rd_expense",
        "income",
        "Research and development expense (研发费用)",
        en=(
            r"research(?: and)? development(?: and (?:related|engineering))?(?: expenses?| costs?)?",
            r"research development and related expenses",
            r"product development",
            r"technology and development",
            r"research and development expenses? net",
        ),
        zh=("研发费用",),
        ask=(
            "research and development",
            "r&d",
            "research & development",
            "研发费用",
            "研发经费",
            "研发投入",
            "研发支出",
        ),
    ),
    Item(
        "selling_expense",
        "income",
        "Selling / sales and marketing expense (销售费用)",
        en=(
            r"(?:selling|sales) and marketing(?: expenses?)?",
            r"selling(?: expenses?)?",
            r"marketing and sales",
        ),
        zh=("销售费用",),
        ask=(
            "selling expense",
            "selling expenses",
            "sales and marketing",
            "selling and marketing",
            "marketing and sales",
            "销售费用",
        ),
    ),
    Item(
        "admin_expense",
        "income",
        "General and administrative expense (管理费用)",
        en=(r"general and administrative(?: expenses?)?", r"administrative expenses?"),
        zh=("管理费用",),
        ask=(
            "general and administrative",
            "administrative expense",
            "administrative expenses",
            "管理费用",
        ),
    ),
    Item(
        "sga_expense",
        "income",
        "Selling, general and administrative expense",
        en=(
            r"selling general and administrative(?: expenses?)?",
            r"marketing selling and administrative expenses?",
            r"selling marketing and administrative expenses?",
            r"selling general administrative and other expenses?",
        ),
        ask=("selling, general and administrative", "sg&a", "sga"),
    ),
    Item(
        "finance_expense",
        "income",
        "Finance expense, net (财务费用)",
        zh=("财务费用",),
        ask=("财务费用", "finance expense", "finance costs"),
    ),
    Item(
        "total_operating_expenses",
        "income",
        "Total operating costs and expenses (营业总成本)",
        en=(
            r"total operating (?:costs and )?expenses",
            r"total costs and expenses",
            r"total operating costs",
        ),
        zh=("营业总成本",),
        ask=("total operating expenses", "total costs and expenses", "营业总成本"),
    ),
    Item(
        "operating_income",
        "income",
        "Operating income (营业利润)",
        en=(
            r"operating (?:income|profit)(?: loss)?",
            r"operating (?:loss|earnings)",
            r"(?:income|earnings|loss|profit) (?:loss )?from operations",
            r"(?:total )?operating income loss",
        ),
        zh=("营业利润",),
        ask=("operating income", "operating profit", "income from operations", "营业利润"),
    ),
    Item(
        "interest_expense",
        "income",
        "Interest expense (利息费用)",
        en=(r"interest expense(?: net)?",),
        zh=("利息费用",),
        ask=("interest expense", "利息费用", "利息支出"),
    ),
    Item(
        "pretax_income",
        "income",
        "Income before income taxes (利润总额)",
        en=(
            r"(?:income|earnings|profit|loss) (?:loss )?before (?:provision for )?income tax(?:es)?",
            r"(?:income|earnings|profit|loss) (?:loss )?before taxes",
            r"(?:income|earnings) (?:loss )?from continuing operations before (?:provision for )?"
            r"income tax(?:es)?",
            r"profit before tax(?:ation)?",
        ),
        zh=("利润总额",),
        ask=(
            "income before income taxes",
            "pretax income",
            "pre-tax income",
            "earnings before income taxes",
            "profit before tax",
            "利润总额",
            "税前利润",
        ),
    ),
    Item(
        "income_tax",
        "income",
        "Income tax expense (所得税费用)",
        en=(
            r"provision for income taxes",
            r"(?:provision for|benefit from) income taxes",
            r"income tax (?:expense|provision)(?: benefit)?",
            r"income taxes",
            r"income tax expense benefit",
            r"provision benefit for income taxes",
            r"income tax benefit expense",
            r"income tax benefit",
        ),
        zh=("所得税费用",),
        ask=(
            "income tax expense",
            "provision for income taxes",
            "income taxes",
            "所得税费用",
            "所得税",
        ),
    ),
    Item(
        "net_income",
        "income",
        "Net income incl. minority interests (净利润)",
        en=(
            r"(?:consolidated )?net (?:income|earnings)(?: loss)?",
            r"net loss(?: income)?",
            r"net (?:income|earnings) including non ?controlling interests?",
            r"net (?:income|earnings) loss including non ?controlling interests?",
            r"profit (?:loss )?for the (?:year|period)",
            r"net profit(?: loss)?",
            r"profit (?:loss )?after (?:income )?tax(?:ation)?(?: expense)?(?: benefit)?"
            r"(?: for the (?:year|period))?",
        ),
        zh=("净利润",),
        ask=("net income", "net earnings", "net profit", "net loss", "净利润", "净利"),
    ),
    Item(
        "net_income_parent",
        "income",
        "Net income attributable to the parent's shareholders (归属于母公司所有者的净利润)",
        en=(
            rf"(?:consolidated )?net (?:income|earnings|loss)(?: loss)? attributable to (?!{_NCI}).+",
            rf"(?:net )?(?:profit|income|earnings)(?: loss)?(?: after (?:income )?tax)?(?: for the "
            rf"(?:year|period))?(?: is)? attributable to (?:the )?(?:owners|equity holders|"
            rf"shareholders|members|ordinary shareholders)\b(?!.*{_NCI}).*",
        ),
        zh=(
            "归属于母公司所有者的净利润",
            "归属于母公司股东的净利润",
            "归属于母公司普通股股东的净利润",
            "归属于母公司的净利润",
            "归属于母公司所有者股东的净利润",
        ),
        ask=(
            "net income attributable to",
            "net earnings attributable to",
            "归属于母公司所有者的净利润",
            "归属于母公司股东的净利润",
            "归属于上市公司股东的净利润",
            "归母净利润",
            "归属于母公司的净利润",
        ),
    ),
    Item(
        "minority_interest_income",
        "income",
        "Net income attributable to noncontrolling interests (少数股东损益)",
        en=(
            rf"(?:less )?(?:consolidated )?net (?:income|earnings|loss)(?: loss)? attributable to "
            rf"(?:{_NCI}).*",
            rf"(?:net )?(?:profit|income|earnings)(?: loss)?(?: after (?:income )?"
            rf"tax)?(?: for the (?:year|period))?(?: is)? attributable to (?:the )?(?:{_NCI}).*",
        ),
        zh=("少数股东损益",),
        ask=("少数股东损益", "noncontrolling interest income"),
    ),
    Item(
        "eps_basic",
        "income",
        "Basic earnings per share (基本每股收益)",
        en=(
            r"basic(?: and diluted)?(?: earnings| net income| net earnings| income)?(?: loss)? per "
            r"(?:common |ordinary )?share(?: attributable to .*)?",
            r"(?:basic )?(?:earnings|net income|net earnings|income|profit)\b.*\bper (?:common |"
            r"ordinary )?share\b.* basic",
            r"per share basic",
            r"basic (?:earnings|net income|income)(?: loss)? per (?:common |ordinary )?share "
            r"(?:net income|net earnings|earnings|net loss)\b.*",
        ),
        zh=("基本每股收益",),
        ask=("basic earnings per share", "basic eps", "基本每股收益"),
    ),
    Item(
        "eps_diluted",
        "income",
        "Diluted earnings per share (稀释每股收益)",
        en=(
            r"diluted(?: earnings| net income| net earnings| income)?(?: loss)? per "
            r"(?:common |ordinary )?share(?: attributable to .*)?",
            r"(?:diluted )?(?:earnings|net income|net earnings|income|profit)\b.*\bper (?:common |"
            r"ordinary )?share\b.* diluted",
            r"per share diluted",
            r"diluted (?:earnings|net income|income)(?: loss)? per (?:common |ordinary )?share "
            r"(?:net income|net earnings|earnings|net loss)\b.*",
        ),
        zh=("稀释每股收益",),
        ask=("diluted earnings per share", "diluted eps", "稀释每股收益"),
    ),
    # --- balance sheet ------------------------------------------------------------------------
    Item(
        "cash",
        "balance",
        "Cash and cash equivalents (货币资金)",
        en=(
            r"cash and (?:cash )?equivalents",
            r"cash and cash equivalents at carrying value",
            r"cash",
            r"cash and due from banks",
        ),
        zh=("货币资金",),
        ask=("cash and cash equivalents", "货币资金"),
    ),
    Item(
        "accounts_receivable",
        "balance",
        "Accounts receivable, net (应收账款)",
        en=(
            r"(?:trade )?accounts(?: and notes)? receivable(?: trade)?(?: net)?(?: (?:of|less) "
            r"(?:allowances?|reserves?)\b.*)?",
            r"(?:trade )?receivables? net(?: of (?:allowances?|reserves?)\b.*)?",
            r"trade receivables?",
            r"receivables?(?: net)?",
        ),
        zh=("应收账款",),
        ask=("accounts receivable", "trade receivables", "应收账款"),
    ),
    Item(
        "notes_receivable",
        "balance",
        "Notes receivable (应收票据)",
        zh=("应收票据",),
        ask=("应收票据",),
    ),
    Item(
        "inventory",
        "balance",
        "Inventories (存货)",
        en=(r"(?:total |merchandise )?inventor(?:y|ies)(?: net)?",),
        zh=("存货",),
        ask=("inventory", "inventories", "存货"),
    ),
    Item(
        "prepayments",
        "balance",
        "Prepayments to suppliers (预付款项)",
        zh=("预付款项", "预付账款"),
        ask=("预付款项", "预付账款"),
    ),
    Item(
        "total_current_assets",
        "balance",
        "Total current assets (流动资产合计)",
        en=(r"total current assets",),
        zh=("流动资产合计",),
        ask=("total current assets", "current assets", "流动资产合计", "流动资产"),
    ),
    Item(
        "ppe_net",
        "balance",
        "Property, plant and equipment, net (固定资产)",
        en=(
            r"property(?: plant)? and equipment(?: at cost)? net(?: of .*)?",
            r"net property(?: plant)? and equipment",
            r"property and equipment net",
            r"property plant and equipment net",
            r"total property plant and equipment net",
        ),
        zh=("固定资产",),
        ask=("property, plant and equipment", "pp&e", "fixed assets", "固定资产"),
    ),
    Item(
        "construction_in_progress",
        "balance",
        "Construction in progress (在建工程)",
        zh=("在建工程",),
        ask=("在建工程",),
    ),
    Item(
        "goodwill",
        "balance",
        "Goodwill (商誉)",
        en=(r"goodwill(?: net)?",),
        zh=("商誉",),
        ask=("goodwill", "商誉"),
    ),
    Item(
        "intangible_assets",
        "balance",
        "Intangible assets (无形资产)",
        en=(r"(?:other )?intangible assets(?: net)?(?: of .*)?",),
        zh=("无形资产",),
        ask=("intangible assets", "无形资产"),
    ),
    Item(
        "total_noncurrent_assets",
        "balance",
        "Total non-current assets (非流动资产合计)",
        en=(r"total non ?current assets",),
        zh=("非流动资产合计",),
        ask=("total non-current assets", "非流动资产合计"),
    ),
    Item(
        "total_assets",
        "balance",
        "Total assets (资产总计)",
        en=(r"total assets",),
        zh=("资产总计", "资产合计", "资产总额"),
        ask=("total assets", "资产总计", "总资产", "资产总额"),
    ),
    Item(
        "short_term_debt",
        "balance",
        "Short-term borrowings (短期借款)",
        en=(
            r"short term (?:borrowings|debt)",
            r"short term borrowings and current portion of long"
            r" term debt",
            r"notes payable and current portion of long term debt",
        ),
        zh=("短期借款",),
        ask=("short-term borrowings", "short-term debt", "短期借款"),
    ),
    Item(
        "accounts_payable",
        "balance",
        "Accounts payable (应付账款)",
        en=(
            r"(?:trade )?accounts payable(?: trade)?",
            r"trade payables?",
            r"trade and other payables",
        ),
        zh=("应付账款",),
        ask=("accounts payable", "trade payables", "应付账款"),
    ),
    Item(
        "notes_payable", "balance", "Notes payable (应付票据)", zh=("应付票据",), ask=("应付票据",)
    ),
    Item(
        "total_current_liabilities",
        "balance",
        "Total current liabilities (流动负债合计)",
        en=(r"total current liabilities",),
        zh=("流动负债合计",),
        ask=("total current liabilities", "current liabilities", "流动负债合计", "流动负债"),
    ),
    Item(
        "long_term_debt",
        "balance",
        "Long-term debt / borrowings (长期借款)",
        en=(
            r"long term debt(?: net)?(?: excluding current (?:portion|maturities))?(?: less current"
            r" (?:portion|maturities))?",
            r"long term borrowings",
            r"long term debt due after one "
            r"year",
        ),
        zh=("长期借款",),
        ask=("long-term debt", "long-term borrowings", "长期借款"),
    ),
    Item(
        "total_noncurrent_liabilities",
        "balance",
        "Total non-current liabilities (非流动负债合计)",
        en=(r"total non ?current liabilities",),
        zh=("非流动负债合计",),
        ask=("total non-current liabilities", "非流动负债合计"),
    ),
    Item(
        "total_liabilities",
        "balance",
        "Total liabilities (负债合计)",
        en=(r"total liabilities",),
        zh=("负债合计", "负债总计"),
        ask=("total liabilities", "负债合计", "总负债", "负债总额"),
    ),
    Item(
        "share_capital",
        "balance",
        "Share capital (股本)",
        zh=("股本", "实收资本"),
        ask=("股本", "实收资本", "share capital"),
    ),
    Item(
        "capital_reserve",
        "balance",
        "Capital reserve / additional paid-in capital (资本公积)",
        en=(
            r"additional paid in capital",
            r"capital in excess of par value(?: of stock)?",
            r"paid in capital",
        ),
        zh=("资本公积",),
        ask=("additional paid-in capital", "资本公积"),
    ),
    Item(
        "retained_earnings",
        "balance",
        "Retained earnings (未分配利润)",
        en=(
            r"retained earnings(?: accumulated deficit)?",
            r"reinvested earnings",
            r"earnings reinvested in the business",
            r"accumulated deficit",
        ),
        zh=("未分配利润",),
        ask=("retained earnings", "accumulated deficit", "未分配利润"),
    ),
    Item(
        "equity_parent",
        "balance",
        "Equity attributable to the parent's shareholders (归属于母公司所有者权益合计)",
        en=(
            rf"total (?!liabilities\b)(?!equity\b).+ (?:{_SH}) equity(?: deficit)?",
            rf"total equity attributable to (?!{_NCI}).+",
            rf"total (?:{_SH}) equity attributable to (?!{_NCI}).+",
            r"(?:total )?equity attributable to (?:the )?(?:owners|equity holders|shareholders|"
            r"members)\b.*",
        ),
        zh=(
            "归属于母公司所有者权益合计",
            "归属于母公司股东权益合计",
            "归属于母公司所有者权益",
            "归属于母公司股东权益",
        ),
        ask=(
            "归属于母公司所有者权益",
            "归属于母公司股东权益",
            "归属于上市公司股东的净资产",
            "shareholders' equity",
            "stockholders' equity",
        ),
    ),
    Item(
        "minority_interest",
        "balance",
        "Noncontrolling interests (少数股东权益)",
        en=(rf"(?:{_NCI}) interests?(?: in subsidiaries)?",),
        zh=("少数股东权益",),
        ask=("少数股东权益", "noncontrolling interests", "minority interest"),
    ),
    Item(
        "total_equity",
        "balance",
        "Total equity incl. minority interests (所有者权益合计)",
        en=(
            r"total equity(?: deficit)?",
            r"total (?:share|stock)holders? equity(?: deficit)?",
            r"total shareowners? equity",
            r"total (?:share|stock)holders? deficit",
        ),
        zh=("所有者权益合计", "股东权益合计", "所有者权益总计", "股东权益总计"),
        ask=("total equity", "所有者权益合计", "股东权益合计", "净资产", "所有者权益", "股东权益"),
    ),
    Item(
        "total_liabilities_equity",
        "balance",
        "Total liabilities and equity (负债和所有者权益总计)",
        en=(
            rf"total liabilities(?: redeemable .*)? and (?:(?:{_SH}) )?(?:equity|investment|"
            r"deficit|capital).*",
            r"total liabilities and equity.*",
            r"total liabilities and capitalization",
            r"total capitalization and liabilities",
            r"total liabilities .*and (?:share|stock)holders equity.*",
        ),
        zh=(
            "负债和所有者权益总计",
            "负债和股东权益总计",
            "负债及所有者权益总计",
            "负债及股东权益总计",
            "负债和所有者权益合计",
            "负债和股东权益合计",
        ),
        ask=("total liabilities and equity", "负债和所有者权益总计", "负债和股东权益总计"),
    ),
    # --- cash-flow statement ------------------------------------------------------------------
    Item(
        "operating_cash_flow",
        "cashflow",
        "Net cash from operating activities (经营活动产生的现金流量净额)",
        en=(
            r"net cash (?:provided by|from|generated from|generated by|used in|provided by used "
            r"in|used in provided by|provided)(?: used in)? operating activities(?: of)?(?: continuing operations)?",
            r"cash (?:provided by|from|generated from|generated by) operating activities",
            r"net cash flows? (?:from|provided by|used in) operating activities(?: of)?(?: continuing operations)?",
            r"(?:net )?cash flows? (?:provided by|from) operations",
            r"(?:net )?cash (?:provided by|from|generated (?:by|from)) operations",
        ),
        zh=("经营活动产生的现金流量净额", "经营活动现金流量净额"),
        ask=(
            "operating cash flow",
            "cash from operations",
            "cash flow from operating activities",
            "cash provided by operating activities",
            "cash from operating activities",
            "经营活动产生的现金流量净额",
            "经营活动现金流量净额",
            "经营现金流",
        ),
    ),
    Item(
        "investing_cash_flow",
        "cashflow",
        "Net cash from investing activities (投资活动产生的现金流量净额)",
        en=(
            r"net cash (?:provided by|from|used in|used for|provided by used in|used in provided "
            r"by|generated from)(?: used in)? investing activities(?: of)?(?: continuing operations)?",
            r"net cash flows? (?:from|used in|provided by) investing activities(?: of)?(?: continuing operations)?",
            r"cash (?:used in|provided by|from) investing activities",
        ),
        zh=("投资活动产生的现金流量净额", "投资活动现金流量净额"),
        ask=(
            "investing cash flow",
            "cash used in investing activities",
            "投资活动产生的现金流量净额",
        ),
    ),
    Item(
        "financing_cash_flow",
        "cashflow",
        "Net cash from financing activities (筹资活动产生的现金流量净额)",
        en=(
            r"net cash (?:provided by|from|used in|used for|provided by used in|used in provided "
            r"by|generated from)(?: used in)? financing activities(?: of)?(?: continuing operations)?",
            r"net cash flows? (?:from|used in|provided by) financing activities(?: of)?(?: continuing operations)?",
            r"cash (?:used in|provided by|from) financing activities",
        ),
        zh=("筹资活动产生的现金流量净额", "筹资活动现金流量净额"),
        ask=(
            "financing cash flow",
            "cash used in financing activities",
            "筹资活动产生的现金流量净额",
        ),
    ),
    Item(
        "capex",
        "cashflow",
        "Capital expenditure: purchases of property, plant and equipment "
        "(购建固定资产、无形资产和其他长期资产支付的现金)",
        en=(
            r"(?:purchases?|acquisitions?|additions?|payments?) (?:of|to|for) property(?: plant)? "
            r"and equipment(?: and .*| including .*)?",
            r"capital expenditures?(?: net)?",
            r"purchases? of property plant and equipment pp ?e",
            r"capital spending",
            r"purchases? of property equipment and .*",
            r"payments for (?:acquisition of )?"
            r"property plant and equipment",
            r"purchases? of premises and equipment",
            r"expenditures for property(?: plant)? and equipment",
            r"purchases? of fixed assets",
            r"purchases? of property leasehold improvements and equipment",
            r"capital expenditures? net of .*",
            r"property(?: plant)? and equipment additions",
        ),
        zh=(
            "购建固定资产、无形资产和其他长期资产支付的现金",
            "购建固定资产无形资产和其他长期资产支付的现金",
            "购建固定资产、无形资产和其他长期资产所支付的现金",
        ),
        ask=(
            "capital expenditure",
            "capital expenditures",
            "capex",
            "capital spending",
            "purchases of property, plant and equipment",
            "资本支出",
            "资本性支出",
            "购建固定资产、无形资产和其他长期资产支付的现金",
        ),
    ),
    Item(
        "depreciation_amortization",
        "cashflow",
        "Depreciation and amortization (cash-flow statement)",
        en=(
            r"depreciation(?: depletion)? and amortization(?: expense)?",
            r"depreciation amortization and .*",
            r"depreciation and amortization of .*",
        ),
        ask=("depreciation and amortization", "d&a"),
    ),
    Item(
        "dividends_paid",
        "cashflow",
        "Dividends paid",
        en=(
            r"(?:cash )?dividends paid(?: to (?:share|stock)holders)?",
            r"dividends paid to (?:common )?(?:share|stock)holders",
            r"payments? of (?:cash )?"
            r"dividends(?: to (?:share|stock)holders)?",
            r"cash dividends",
        ),
        ask=("dividends paid", "cash dividends"),
    ),
    Item(
        "share_repurchase",
        "cashflow",
        "Purchases of own shares (buybacks)",
        en=(
            r"purchases? of treasury stock",
            r"repurchases? of (?:common|ordinary) (?:stock|shares)",
            r"purchases? of (?:common|company) stock(?: for treasury)?",
            r"repurchase of common stock",
            r"common stock repurchased",
        ),
        ask=("share repurchase", "share repurchases", "buyback", "buybacks", "repurchase"),
    ),
    Item(
        "fx_effect_on_cash",
        "cashflow",
        "Effect of exchange rates on cash (汇率变动对现金及现金等价物的影响)",
        en=(
            r"(?:the )?(?:net )?effects? of (?:changes? in )?(?:foreign )?(?:currency )?(?:exchange )?"
            r"(?:rates? )?(?:changes? |fluctuations? |movements? )?on cash.*",
            r"(?:foreign )?(?:currency|exchange rate|exchange)s? (?:translation )?(?:effects?|impact|"
            r"adjustments?) on cash.*",
            r"effects? of .*(?:exchange|currency).* on .*cash.*",
            r"(?:net )?effects? of (?:changes in )?(?:foreign )?(?:currency )?exchange(?: rates?)?"
            r"(?: changes?| movements?| fluctuations?)?(?: on .*)?",
        ),
        zh=("汇率变动对现金及现金等价物的影响",),
    ),
    Item(
        "net_change_in_cash",
        "cashflow",
        "Net change in cash (现金及现金等价物净增加额)",
        en=(
            r"net (?:increase|decrease|change)(?: decrease| increase)? in cash.*",
            r"(?:increase|decrease)(?: decrease| increase)? in cash and cash equivalents.*",
        ),
        zh=("现金及现金等价物净增加额", "现金及现金等价物净减少额"),
        ask=("net change in cash", "现金及现金等价物净增加额"),
    ),
    Item(
        "cash_begin",
        "cashflow",
        "Cash at beginning of year (期初现金及现金等价物余额)",
        en=(
            r"cash.* (?:at |as of )?(?:the )?beginning of (?:the )?(?:fiscal )?(?:year|period)",
            r"(?:balance )?(?:at )?(?:the )?(?:beginning|start) of (?:the )?(?:fiscal )?(?:year|period)",
        ),
        zh=("期初现金及现金等价物余额", "年初现金及现金等价物余额"),
    ),
    Item(
        "cash_end",
        "cashflow",
        "Cash at end of year (期末现金及现金等价物余额)",
        en=(
            r"cash.* (?:at |as of )?(?:the )?end of (?:the )?(?:fiscal )?(?:year|period)",
            r"(?:balance )?(?:at )?(?:the )?end of (?:the )?(?:fiscal )?(?:year|period)",
        ),
        zh=("期末现金及现金等价物余额", "年末现金及现金等价物余额"),
        ask=("期末现金及现金等价物余额", "cash at end of year"),
    ),
)

ITEMS_BY_KEY: dict[str, Item] = {i.key: i for i in ITEMS}


# --- label normalisation ------------------------------------------------------------------------
_PARENS = re.compile(r"\([^()]*\)|（[^（）]*）|\([^()]*）|（[^（）]*\)")
_ZH_ENUM = re.compile(
    r"^(?:[（(]?[一二三四五六七八九十]+[)）、.．]|[（(]\d+[)）]|\d+[、.．)）](?!\d))"
)
_ZH_PREFIX = re.compile(r"^(?:其中|加|减|其中：|包括)[:：]")
_EN_FOOTNOTE = re.compile(r"(?<=[a-z])\d$")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def is_chinese(text: str) -> bool:
    return bool(_CJK.search(text))


def normalize_label(label: str) -> str:
    """Comparable form of a row label (see the module docstring)."""
    if is_chinese(label):
        s = re.sub(r"\s+", "", label)
        prev = None
        while prev != s:
            prev = s
            s = _PARENS.sub("", s)
            s = _ZH_ENUM.sub("", s)
            s = _ZH_PREFIX.sub("", s)
            s = s.strip("：:;；,，.。 ")
        return s.replace("“", "").replace("”", "")
    s = label.lower().replace("&", " and ").replace("’", "'")
    prev = None
    while prev != s:
        prev = s
        s = _PARENS.sub(" ", s)
    s = s.replace("'s", "s").replace("s'", "s")
    s = re.sub(r"[^a-z0-9]+", " ", s).strip()
    s = re.sub(r"(?: (?:notes? )?[a-z]?\d{1,2})+$", "", s)  # trailing note references
    s = _EN_FOOTNOTE.sub("", s).strip()
    return s


@lru_cache(maxsize=1)
def _compiled() -> dict[str, list[tuple[int, Item, re.Pattern[str]]]]:
    out: dict[str, list[tuple[int, Item, re.Pattern[str]]]] = {s: [] for s in STATEMENTS}
    for item in ITEMS:
        for prio, pat in enumerate(item.en):
            out[item.statement].append((prio, item, re.compile(pat)))
    return out


@lru_cache(maxsize=1)
def _zh_index() -> dict[tuple[str, str], tuple[int, Item]]:
    out: dict[tuple[str, str], tuple[int, Item]] = {}
    for item in ITEMS:
        for prio, label in enumerate(item.zh):
            out[(item.statement, normalize_label(label))] = (prio, item)
    return out


def match_item(label: str, statement: str, per_share: bool | None = None) -> tuple[str, int] | None:
    """``(item key, priority)`` for a statement row label, else None.

    Items are tried in table order, so the first item whose pattern matches wins; ``priority`` is
    the index of the matching synonym (0 = preferred) and decides between two rows of one column.
    ``per_share``: when given, only per-share items (True) or only amounts (False) can match.
    """
    norm = normalize_label(label)
    if not norm:
        return None
    if is_chinese(norm):
        hit = _zh_index().get((statement, norm))
        if hit and (per_share is None or (hit[1].key in PER_SHARE_ITEMS) == per_share):
            return hit[1].key, hit[0]
        return None
    for prio, item, rx in _compiled().get(statement, []):
        if per_share is not None and (item.key in PER_SHARE_ITEMS) != per_share:
            continue
        if rx.fullmatch(norm):
            return item.key, prio
    return None


def canonical_items() -> dict[str, str]:
    """Every canonical key with a one-line description."""
    return {i.key: i.description for i in ITEMS}


# --- question parsing ---------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _ask_phrases() -> list[tuple[str, str]]:
    pairs = [(p.lower(), i.key) for i in ITEMS for p in i.ask]
    return sorted(pairs, key=lambda kv: -len(kv[0]))


def item_label(key: str, language: str = "en") -> str:
    """A readable name of an item key: "Cost of revenue", "营业成本"."""
    item = ITEMS_BY_KEY.get(key)
    if item is None:
        return key
    if language == "zh" and item.zh:
        return item.zh[0]
    return item.description.split(" (")[0]


def item_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, key) of every item phrase in ``text``, longest phrase first, no overlaps,
    in text order."""
    low = text.lower()
    taken = [False] * len(low)
    found: list[tuple[int, int, str]] = []
    for phrase, key in _ask_phrases():
        start = 0
        while True:
            i = low.find(phrase, start)
            if i < 0:
                break
            j = i + len(phrase)
            start = i + 1
            if any(taken[i:j]):
                continue
            if phrase.isascii() and phrase[0].isalnum():
                # whole words only for English phrases ("sales" must not match "wholesales")
                if (i > 0 and low[i - 1].isalnum()) or (j < len(low) and low[j].isalnum()):
                    continue
            for k in range(i, j):
                taken[k] = True
            found.append((i, j, key))
    return sorted(found)


def items_in(text: str) -> list[str]:
    """Canonical item keys a question mentions (en + zh), longest phrase first, no overlaps.

    Keys come back in the order they appear in the text, without duplicates.
    """
    return list(dict.fromkeys(key for _, _, key in item_spans(text)))


_PARENT_EN = re.compile(r"\bparent[- ]company\b|\bparent[- ]only\b|\bregistrant only\b", re.I)
_PARENT_ZH = re.compile(r"母公司(?!所有者|股东|普通股|的净利润)")


def scope_in(text: str) -> str | None:
    """'parent' when a question asks about the parent-company statements (母公司报表), else None.

    归属于母公司所有者的净利润 is a consolidated figure, so it does not count.
    """
    if _PARENT_EN.search(text):
        return "parent"
    stripped = re.sub(r"归属于?母公司[\u4e00-\u9fff]{0,8}", "", text)
    if _PARENT_ZH.search(stripped):
        return "parent"
    return None
