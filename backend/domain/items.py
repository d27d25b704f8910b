"""Canonical financial-statement items and their synonyms (English 10-K labels + Chinese 年报 labels).

One small, documented table (``items.toml``, data rather than code: a synonym is added there)
shared by ingestion (which maps statement rows to item keys) and the backend (which finds the
items a question mentions). Importing this module is cheap: it reads that file (a few milliseconds).

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
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from backend.domain.text import fixed_point, has_cjk

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
    ``zh``: normalised Chinese labels; ``ask``: phrases that name the item in a question;
    ``parts``: (part, other part) regexes — a label matching the part is not the item where
    its statement also prints the other part."""

    key: str
    statement: str
    description: str
    en: tuple[str, ...] = ()
    zh: tuple[str, ...] = ()
    ask: tuple[str, ...] = ()
    parts: tuple[tuple[str, str], ...] = ()


_SH = r"(?:share|stock)holders?|shareowners?|owners?|members?|partners?"
_NCI = r"non ?controlling|minority|redeemable non ?controlling"

ITEMS_FILE = Path(__file__).with_name("items.toml")


def load_items(path: Path = ITEMS_FILE) -> tuple[Item, ...]:
    """The item table of ``items.toml`` (data, not code: add a synonym there), its ``{SH}`` and
    ``{NCI}`` markers replaced by the alternations above."""
    with path.open("rb") as f:
        table = tomllib.load(f)["item"]

    def pattern(p: str) -> str:
        return p.replace("{SH}", _SH).replace("{NCI}", _NCI)

    return tuple(
        Item(
            d["key"],
            d["statement"],
            d["description"],
            en=tuple(pattern(p) for p in d.get("en", ())),
            zh=tuple(d.get("zh", ())),
            ask=tuple(d.get("ask", ())),
            parts=tuple((part, other) for part, other in d.get("parts", ())),
        )
        for d in table
    )


ITEMS: tuple[Item, ...] = load_items()

ITEMS_BY_KEY: dict[str, Item] = {i.key: i for i in ITEMS}


# --- label normalisation ------------------------------------------------------------------------
_PARENS = re.compile(r"\([^()]*\)|（[^（）]*）|\([^()]*）|（[^（）]*\)")
_ZH_ENUM = re.compile(
    r"^(?:[（(]?[一二三四五六七八九十]+[)）、.．]|[（(]\d+[)）]|\d+[、.．)）](?!\d))"
)
_ZH_PREFIX = re.compile(r"^(?:其中|加|减|其中：|包括)[:：]")
_EN_FOOTNOTE = re.compile(r"(?<=[a-z])\d$")


def _zh_label_step(s: str) -> str:
    """One pass of removing a Chinese label's remarks, enumerator and prefix."""
    return _ZH_PREFIX.sub("", _ZH_ENUM.sub("", _PARENS.sub("", s))).strip("：:;；,，.。 ")


def normalize_label(label: str) -> str:
    """Comparable form of a row label (see the module docstring)."""
    if has_cjk(label):
        s = fixed_point(_zh_label_step, re.sub(r"\s+", "", label))
        return s.replace("“", "").replace("”", "")
    s = label.lower().replace("&", " and ").replace("’", "'")
    s = fixed_point(lambda t: _PARENS.sub(" ", t), s)
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
    if has_cjk(norm):
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


def part_rows(labels: Sequence[str], statement: str) -> set[int]:
    """Indexes of the ``labels`` (one statement's rows) that are only one part of an item
    because the statement also prints its other part (:attr:`Item.parts`): such a row is not
    the item, its total is, when printed."""
    norm = [normalize_label(x) for x in labels]
    out: set[int] = set()
    for item in ITEMS:
        if item.statement != statement:
            continue
        for part, other in item.parts:
            if any(re.fullmatch(other, x) for x in norm):
                out |= {i for i, x in enumerate(norm) if re.fullmatch(part, x)}
    return out


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
