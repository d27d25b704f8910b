"""The routing decision: what a question asks of the facts table, and whether the deterministic
facts route answers it or it goes to search and the model.

:func:`analyse` reads the question (items, metric, scope, the kind of computation, decimals);
:func:`takes_facts_route` is THE routing rule. The agent and the few-shot generator both call
these two functions, so training items teach the route the live agent takes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backend.answering.plan import QueryPlan, narrow_question
from backend.domain.items import item_label, item_spans, items_in, scope_in
from backend.domain.metrics import METRICS, Metric, find_metric, metric_spans
from backend.domain.text import CJK, instructions_aside
from backend.domain.written import written_metric


def _terms(en: str, zh: str) -> re.Pattern[str]:
    """English words (whole words, any case: ``en`` is an alternation) or Chinese terms."""
    return re.compile(rf"\b(?:{en})\b|{zh}", re.I)


_COMPUTE = _terms(
    r"difference|differ|change[sd]?|growth|grow|grew|increase[sd]?|decrease[sd]?|ratio|average|"
    r"mean|sum|combined|percent(?:age)?|proportion|margin|how much (?:more|less|higher|lower)|"
    r"cagr|turnover|times|divided|rate",
    "增长|变动|变化|比值|比率|比例|平均|合计|差额|同比|周转率|百分比|占比|多少倍",
)
_CHANGE = _terms(
    r"chang\w*|grow\w*|grew|increas\w*|decreas\w*|year[- ]over[- ]year|yoy",
    "增长|变动|变化|同比|增减",
)
_AVERAGE = _terms("average|mean", "平均")
_COMPARE = _terms(r"compare|comparison|versus|vs\.?|higher|lower|larger|smaller", "比较|对比")
_DECIMALS = re.compile(
    r"\b(one|two|three|four|\d)\s+decimal|小数点后\s*(一|两|二|三|四|\d)\s*位|保留\s*(一|两|二|三|四|\d)\s*位",
    re.I,
)
_NARRATIVE = _terms(
    r"why|explain\w*|describe\w*|discuss\w*|reasons?|drove|drivers?|driven|impact\w*|affect\w*|"
    r"risks?|strateg\w*|outlook|plans?|policy|policies|how (?:does|did|do|is|are|will)|"
    r"what (?:are|were) the (?:main|key|primary)|summari[sz]\w*|overview",
    "为什么|原因|说明|介绍|描述|风险|战略|主要业务|影响",
)
#: The question asks for reasons, not (only) a figure: "what drove", "why did", "原因".
_REASONS = _terms(
    r"why|explain\w*|reasons?|drove|drivers?|driven|caus\w*|factors?|impact\w*|effects?|"
    r"contribut\w* to|led to",
    "为什么|为何|原因|驱动|导致|归因|影响",
)
_YES_NO = re.compile(r"^\s*(?:does|do|did|is|are|was|were|has|have|had|can)\b|是否|有没有", re.I)
_TREND_UP = _terms(r"improv\w*|increas\w*|grow\w*|higher|rising", "上升|改善|提高")
_TREND_DOWN = _terms(r"declin\w*|decreas\w*|worsen\w*|lower|falling", "下降|恶化")
_POSITIVE = _terms("positive", "为正|盈利")
_NEGATIVE = _terms("negative", "为负|亏损")
_DEFINED = re.compile(r"\bdefined\s+as\b|\bcalculated\s+as\b|定义为|计算公式|[=＝]", re.I)
_RATIO_WORDS = re.compile(r"%|\bpercent|\bmargin\b|\bratio\b|率|比例|占比", re.I)
_PERCENT_WORDS = re.compile(
    r"%|\bpercent\w*|\bgrow\w*|\bgrew\b|\brate of\b|\byear[- ]over[- ]year\b|\byoy\b|"
    r"增长率|增幅|百分比|同比",
    re.I,
)
#: A percentage can be the answer: the percent words, or a rate, margin, change, share …
_PERCENT_OK = re.compile(
    _PERCENT_WORDS.pattern + r"|\brates?\b|\bmargins?\b|\bchang\w*|\bincreas\w*|\bdecreas\w*|"
    r"\bdeclin\w*|\byields?\b|\breturns?\b|\bshare of\b|\bproportion\b|\bportion\b|\bfraction\b|"
    r"率|比例|占比|比重|增长|百分|变动|下降",
    re.I,
)
_ZH_AMOUNT_CHANGE = re.compile(r"差额|增加额|减少额|增加了多少元|减少了多少元|金额变动")
_SPAN = re.compile(
    r"(?:19|20)\d\d\s*(?:-|–|—|to|through|until|至|到)\s*(?:FY)?\s*(?:19|20)\d\d", re.I
)
_WORDNUM = {"one": 1, "two": 2, "three": 3, "four": 4, "一": 1, "两": 2, "二": 2, "三": 3, "四": 4}


def requested_decimals(question: str, default: int = 2) -> int:
    """Decimals the question asks for ("round to one decimal place", "保留两位小数")."""
    m = _DECIMALS.search(question)
    if not m:
        return default
    word = next(g for g in m.groups() if g)
    return _WORDNUM.get(word.lower(), int(word) if word.isdigit() else default)


def asks_computation(question: str) -> bool:
    """Does the question ask for a computation (a change, a ratio, an average …)?"""
    return bool(_COMPUTE.search(question))


_MEASURE_WORDS = frozenset({"ratio", "margin", "rate", "percent", "percentage", "proportion"})


def names_a_measure(question: str) -> bool:
    """The question's only computing words name a measure ("the value of the non-performing loan
    ratio", "net interest margin"): no change, sum, average or difference is asked of it."""
    words = {m.group(0).lower() for m in _COMPUTE.finditer(question)}
    return bool(words) and words <= _MEASURE_WORDS


#: "Which year has a higher …", "In which year was … less than 500 thousands?": a comparison of
#: the years a table prints, not a lookup of one year.
_WHICH_YEAR = re.compile(r"\b(?:in )?which (?:fiscal )?year\b|哪一?年|哪个年度", re.I)


#: The figures of several years added up ("total gross profit altogether for 2018 and 2019").
SUM_ASK = re.compile(r"\baltogether\b|\bcombined\b|\bsum\b|\bin total\b|合计|总和|累计|共计", re.I)


def asks_sum(question: str) -> bool:
    """The question asks its figures added up — with the statement items' own names set aside
    ("负债合计" is a line, not a sum)."""
    bare = _blank(question, [(start, end) for start, end, _ in item_spans(question)])
    return bool(SUM_ASK.search(bare))


_CAGR = re.compile(r"\bcagr\b|compound(?:ed)? annual growth|年均复合增长率|复合增长率", re.I)


def asks_cagr(question: str) -> bool:
    """The question asks a compound annual growth rate."""
    return bool(_CAGR.search(question))


def asks_which_year(question: str) -> bool:
    """The question asks which year a figure was higher, lower or past a threshold."""
    return bool(_WHICH_YEAR.search(question))


def asks_decimals(question: str) -> bool:
    return bool(_DECIMALS.search(question))


@dataclass
class Route:
    """What the deterministic analysis found in the question."""

    items: list[str]
    metric: Metric | None
    scope: str
    compute: bool
    change: bool
    average: bool
    compare: bool
    decimals: int
    narrow: bool = False
    narrative: bool = False
    #: a yes/no question about a figure: "sign" (positive?) or "trend" (improving?), else None
    boolean: str | None = None
    #: the direction the yes/no question asks about (positive / improving / increasing)
    upward: bool = True
    #: items of a formula the question defines itself ("X is defined as a / b"), one per
    #: mention, else None
    definition: list[str] | None = None
    #: the question asks for a percentage, margin or ratio
    ratio_words: bool = False
    #: a change is asked in percent ("percentage change", "growth rate")
    percent: bool = False
    #: the years were given as a range ("2016–2018", "2016 to 2018")
    span: bool = False
    #: a percentage can be what is asked (percent, growth, rate, margin, change, share …); not
    #: for a difference, an amount or a plain ratio ("current ratio" is 1.5, not 150 %)
    percent_ok: bool = True
    #: the question asks why, what drove or explain (outside a conditional clause)
    reasons: bool = False

    def to_trace(self) -> dict[str, Any]:
        return {
            "step": "route",
            "items": self.items,
            "metric": self.metric.key if self.metric else None,
            "scope": self.scope,
            "compute": self.compute,
        }


def _boolean(question: str) -> tuple[str | None, bool]:
    """('sign' | 'trend' | None, upward) of a yes/no question about a figure."""
    if not _YES_NO.match(question):
        return None, True
    if _TREND_UP.search(question):
        return "trend", True
    if _TREND_DOWN.search(question):
        return "trend", False
    if _POSITIVE.search(question):
        return "sign", True
    if _NEGATIVE.search(question):
        return "sign", False
    return None, True


def _definition(question: str) -> list[str] | None:
    """Items of a formula the question spells out ("… is defined as: DIO + DSO - DPO"), one
    per mention: "COGS + change in inventory" names inventory once more than DIO does."""
    m = _DEFINED.search(question)
    if not m:
        return None
    return [key for _, _, key in item_spans(question[m.end() :])]


def _asks_reasons(question: str) -> bool:
    """The question asks why a figure is what it is ("What drove the gross margin change?",
    "毛利率下降的原因"): the facts route gives a number, not a reason. Words inside an item's
    own name ("effect of exchange rate changes on cash", "汇率变动…的影响") and a conditional
    clause ("if … is not a useful metric, explain why") ask no reason."""
    text = instructions_aside(question)
    return bool(_REASONS.search(_blank(text, [(s, e) for s, e, _key in item_spans(text)])))


def _blank(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` with each span written over in spaces: positions kept, the words gone."""
    for start, end in spans:
        text = text[:start] + " " * (end - start) + text[end:]
    return text


def analyse(question: str) -> Route:
    """Items, metric, scope and the kind of computation a (stand-alone) question asks for."""
    metric = find_metric(question)
    boolean, upward = _boolean(question)
    spans = _spans(question)
    # what the question asks of its items, their names set aside: "负债合计" is a line, not a sum
    asks = _blank(question, [(start, end) for start, end, _ in spans])
    # "average" or "change" inside the question's own definition is the formula's, not the ask
    ask_text = _without_definition(question)
    route = Route(
        items=list(dict.fromkeys(key for _, _, key in spans)) or items_in(question),
        metric=metric,
        scope=scope_in(question) or "consolidated",
        compute=asks_computation(asks) or metric is not None,
        change=bool(_CHANGE.search(ask_text)),
        average=bool(_AVERAGE.search(ask_text)),
        compare=bool(_COMPARE.search(ask_text)),
        decimals=requested_decimals(question),
        narrow=narrow_question(question),
        narrative=bool(_NARRATIVE.search(question)) and boolean is None,
        boolean=boolean,
        upward=upward,
        definition=_definition(question),
        ratio_words=bool(_RATIO_WORDS.search(question)),
        percent=bool(_PERCENT_WORDS.search(question))
        or (bool(CJK.search(question)) and not _ZH_AMOUNT_CHANGE.search(question)),
        span=bool(_SPAN.search(question)),
        percent_ok=bool(_PERCENT_OK.search(question)),
        reasons=_asks_reasons(question),
    )
    if other_formula(route):  # the question's own formula, where it reads as statement items
        route.metric = written_metric(question) or route.metric
    if route.metric is None:
        route.metric = item_margin(question, spans)
        route.compute = route.compute or route.metric is not None
    return route


#: "operating income % margin", "D&A (from the cash flow statement) % margin": right after an
#: item's name.
_ITEM_MARGIN = re.compile(r"^(?:\s*\([^)]{0,60}\))?\s*%?\s*margin\b", re.I)


def item_margin(question: str, spans: Sequence[tuple[int, int, str]]) -> Metric | None:
    """An item's margin (the item over revenue, in percent) where the question asks "<item> %
    margin" of one statement item that has no margin metric of its own."""
    found = [key for _, end, key in spans if _ITEM_MARGIN.match(question[end:])]
    if len(found) != 1 or found[0] in ("revenue", "total_revenue"):
        return None
    key = found[0]
    label, zh = item_label(key), item_label(key, "zh")
    return Metric(
        f"{key}_margin",
        f"{key} / revenue * 100",
        "%",
        (f"{label} margin",),
        (),
        f"{zh}率" if CJK.search(zh) else "",
    )


def _without_definition(question: str) -> str:
    """``question`` without the sentences that define its formula ("Inventory turnover ratio is
    defined as: (FY2019 COGS) / (average inventory between FY2018 and FY2019)."; every one of
    "CCC is defined as: DIO + DSO - DPO. DIO is defined as: …")."""
    text = question
    while m := _DEFINED.search(text):
        start = max(text.rfind(p, 0, m.start()) for p in (". ", "? ", "。", "？", "（", "("))
        end = min(
            (i for i in (text.find(p, m.end()) for p in (". ", "。", "）")) if i >= 0),
            default=len(text),
        )
        head = text[: start + 1] if start >= 0 else ""
        text = head + " " + text[end + 1 :]
    return text


def takes_facts_route(plan: QueryPlan, route: Route) -> bool:
    """The routing rule: a named company and a statement item or metric, with no qualifier that
    makes the annual statement line (or the company-wide metric) the wrong answer (a quarter, a
    segment, a region, a product line, a unit, "excluding …"): then the item asked IS the
    statement line, the metric asked IS the one computed from the statements. Not when the
    question asks for reasons, writes or names inputs of another formula than ours, or asks
    an unknown figure as a share of a known one ("wages expense as a percent of net sales")."""
    if not plan.companies or not (route.items or route.metric) or route.narrow or route.reasons:
        return False
    question, names = plan.question, plan.names
    if other_formula(route) or unnamed_share(question, route.metric) or asks_which_year(question):
        return False
    if route.metric is not None and other_inputs(question, names, route.metric):
        return False
    return not qualified(question, names, route.metric)


def other_formula(route: Route) -> bool:
    """The question defines its own formula ("X is defined as …") and it is not ours: another
    set of items, or an item named more often than our formula names it (DPO over "COGS +
    change in inventory" is not DPO over COGS); a formula and no metric of ours is never ours."""
    if route.definition is None:
        return False
    if route.metric is None:
        return True
    said, ours = Counter(route.definition), route.metric.mentions()
    return set(said) != set(ours) or any(n > ours[key] for key, n in said.items())


#: "using FY2022 Adjusted EBIT as the numerator", "based on FY2022 data", "(using total cash
#: dividends paid and net income …)": up to the end of the clause.
_INPUTS = re.compile(
    r"\b(?:using|based\s+on|with)\s+(.+?)(?=[,;:?!()（），；：？！]|\.(?:\s|$)|$)", re.I
)
#: An item that stands for one of a formula's items: net income attributable to the company.
STANDS_FOR = {"net_income_parent": "net_income"}
#: Figures no statement line is: the company's own adjusted measures, EBIT and its kin.
_NOT_A_LINE = re.compile(
    r"\b(?:adjusted|non-?gaap|pro[- ]forma|normali[sz]ed|underlying|core|organic|"
    r"ebit(?:da|dar)?|nopat)\b",
    re.I,
)


def other_inputs(question: str, names: Sequence[str], metric: Metric) -> bool:
    """The question names, with "using …", "based on …" or "with …", an input the metric's
    formula does not use: "interest coverage using Adjusted EBIT" is not operating income over
    interest expense. An input is ours when it is one of the formula's items (unqualified) or
    a metric computed from them ("EBITDA margin using EBITDA")."""
    ours = {key for key, _ in metric.items()}
    within = [m for m in METRICS if {key for key, _ in m.items()} <= ours]
    for found in _INPUTS.finditer(question):
        phrase = found.group(1)
        for m in within:  # our own names leave what is left to check
            phrase = _blank(phrase, metric_spans(phrase, m))
        if _NOT_A_LINE.search(phrase) or find_metric(phrase) is not None:
            return True
        if any(STANDS_FOR.get(key, key) not in ours for key in items_in(phrase)):
            return True
        if qualified(phrase, names):
            return True
    return False


#: "… as a percent of net sales", "as a % of revenue", "占营业收入的比例": a share of an item.
_SHARE_OF = re.compile(
    r"\s*\bas\s+(?:an?\s+)?(?:%|percent(?:age)?|share|proportion|fraction)\s+of\b|\s*占(?![用有据])",
    re.I,
)
#: Words that may follow an item before "as a percent of" ("SG&A expenses as a % of …").
_ITEM_TAIL = re.compile(r"(?:\s+(?:expenses?|costs?|amounts?|spending|line))*$", re.I)


def unnamed_share(question: str, metric: Metric | None = None) -> bool:
    """The question asks a figure as a share of an item, and that figure is no item we know
    ("wages expense as a percent of net sales", "职工薪酬占营业收入的比例"): what is asked is
    the unknown figure, not the item after "of", so the facts route must not answer about it.
    A metric's own name ("capex as a % of revenue") is known."""
    spans = _spans(question)
    named = metric_spans(question, metric) if metric is not None else []
    for found in _SHARE_OF.finditer(question):
        if any(s <= found.start() and found.end() <= e for s, e in named):
            continue
        head = _ITEM_TAIL.sub("", question[: found.start()])
        if not any(end == len(head) for _, end, _key in spans):
            return True
    return False


#: Words that may stand between a company's name and a statement item without changing it.
_MODIFIERS = frozenset(
    """total net consolidated annual reported unadjusted gaap cash fiscal fy full overall entire
    year-end ending ended end year-over-year yoy twelve months weeks group 10-k 20-f prior
    previous preceding last current latest recent most usd dollars million millions billion
    billions thousand thousands""".split()
)
#: Words that end the search for a qualifier: whatever stands before them is another phrase.
_FUNCTION_WORDS = frozenset(
    """what which how much many was were is are did does do the a an its their our in of for from
    by and or to at on as per with change changes growth increase decrease ratio margin percent
    percentage average sum combined altogether together difference compute calculate report
    reported during between
    year years company company's amount value figure line item has have had be been being can
    could would should will may if then than not this that these those it like such about define
    defined using use based considering given changed changing compare compared improve improved
    improving decline declined declining increased increasing decreased decreasing grew grow
    growing rose rising fell falling drove drive driven positive negative higher lower respectively
    versus vs against over since until through when where while each both""".split()
)
#: Chinese words that leave a statement line as it is (the statement, the report, the period …).
_ZH_CONTEXT = re.compile(
    "|".join(
        """合并 母公司 利润表 资产负债表 现金流量表 报表 财务 项目 中 年末 年初 期末 期初 年度报告 年报
        公司 企业 整体 总体 综合 全年""".split()
    )
    + r"|[“”\"'‘’《》]"
)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
#: A day of a month ("December 31", "31 Dec."): the end of the period, not a month's figure.
_DATE = re.compile(rf"\b(?:{_MONTH}\s+\d{{1,2}}|\d{{1,2}}\s+{_MONTH})(?!\d)", re.I)
_WORD = r"[A-Za-z0-9][\w&'’.-]*"
_PARTS = re.compile(r"[^\W_]+")
_POSSESSIVE = re.compile(r"[\w.]['’]s?$")
_YEARISH = re.compile(r"(?:fy|q[1-4])?'?\d[\d.,]*")
#: What may follow the item and carry a qualifier: "revenue from Asia Pacific", "operating margin
#: of the Consumer segment", "revenue per day", "gross margin excluding fuel".
_CONNECTOR = r"from|of|for|in|at|by|per|excluding|excl\.?|without"
_AFTER = re.compile(rf"^\s*(?:{_CONNECTOR})\s+((?:[\w&'’.-]+\s*){{1,4}})", re.I)


def _spans(question: str) -> list[tuple[int, int, str]]:
    """Item phrases of the question outside parentheses ("净利润（含少数股东损益）" asks one item)."""
    return [s for s in item_spans(question) if _outside_parentheses(question, s[0])]


def _outside_parentheses(question: str, start: int) -> bool:
    head = question[:start]
    return head.count("(") + head.count("（") <= head.count(")") + head.count("）")


def _bare(word: str) -> str:
    """A word in lower case without its possessive ending or trailing dot: "Mills'" → "mills",
    "Inc.'s" → "inc"."""
    return re.sub(r"(?:['’]s?)$", "", word.lower().rstrip(".,")).rstrip(".,")


def qualified(question: str, names: Sequence[str], metric: Metric | None = None) -> bool:
    """What the question asks carries a qualifier the statement line lacks: "Pet segment net
    sales", "footwear revenues", "revenue from Asia Pacific", "柴油机营业收入"; or, for a
    ``metric``, one the company-wide metric lacks: "operating margin in Asia Pacific",
    "化工产品的毛利率", "adjusted EBITDA margin". A qualifier is told apart the same way for
    both: from the company's ``names``, years, and words that leave the line as it is (total,
    consolidated, annual, fiscal …)."""
    # a name's words, and the parts of each ("Coca-Cola" → coca-cola, coca, cola)
    name_words = {_bare(w) for n in names for w in re.findall(r"[\w&'’.-]+", n) + _PARTS.findall(n)}
    name_text = [n.replace(" ", "") for n in names if n]
    question = _DATE.sub(lambda m: " " * len(m.group()), question)  # positions kept
    if metric is not None:  # the metric's names, not the items inside them ("days sales …")
        spans = [s for s in metric_spans(question, metric) if _outside_parentheses(question, s[0])]
    else:
        spans = [(start, end) for start, end, _key in _spans(question)]
    for start, end in spans:
        before = re.sub(r"\([^()]*\)|（[^（）]*）", " ", question[:start])
        if CJK.search(question[start:end]):
            if _zh_qualifier(before, name_text):
                return True
        elif _en_qualifier(before, question[end:], name_words):
            return True
    return False


def _zh_qualifier(before: str, name_text: Sequence[str]) -> bool:
    """Two characters or more other than the company's name, a year or a context word stand
    right before a Chinese item: "柴油机营业收入", "化工产品的毛利率"."""
    tail = re.split(r"(?:19|20)\d{2}\s*年度?|的|，|,|、|\s|\?|？", before.rstrip("的 "))[-1]
    for n in sorted(name_text, key=len, reverse=True):
        tail = tail.replace(n, "")
    return len(CJK.findall(_ZH_CONTEXT.sub("", tail))) >= 2


def _en_qualifier(before: str, after: str, name_words: set[str]) -> bool:
    """A word that changes the item stands before it in its clause ("Pet segment net sales",
    "footwear revenues") or after it ("revenue from Asia Pacific", "revenue per day")."""

    def plain(word: str) -> bool:  # leaves the item as it is
        return word in _MODIFIERS or word in name_words or bool(_YEARISH.fullmatch(word))

    clause = re.split(r"[,.;:?!]\s|[/+*=×÷]", before)[-1]
    for raw in reversed(re.findall(_WORD, clause)):
        word = _bare(raw)
        if not plain(word):
            # a possessive is the owner, however the question calls it ("AMEX's", "JnJ's")
            if word not in _FUNCTION_WORDS and not _POSSESSIVE.search(raw):
                return True
            break
    m = _AFTER.match(after)
    return bool(m) and any(not plain(w) and w not in _FUNCTION_WORDS for w in _words(m.group(1)))


def _words(text: str) -> list[str]:
    """The words of ``text``, bare (:func:`_bare`): "3M's FY2018 revenue" → 3m, fy2018, revenue."""
    return [_bare(w) for w in re.findall(_WORD, text)]


def expression_fits(expr: str, route: Route) -> str:
    """'' when the model's expression has the shape the question asks for, else why not: an
    average adds and divides, a change subtracts (and divides, for a rate); a question that asks
    why is not answered by a calculation."""
    e = expr.replace(" ", "")
    if route.reasons:  # "What drove the reduction in SG&A as a % of sales?": a figure says no why
        return "the question asks why, which a calculation cannot answer"
    if route.average and not ("+" in e and "/" in e):
        return "the question asks for an average: (a + b) / n"
    if route.change and not route.average and "-" not in e.lstrip("-(") and "growth(" not in e:
        return "the question asks for a change: new - old"
    if not route.percent_ok and is_percent(e):
        return "a percentage, but the question asks for an amount, a difference or a ratio"
    return ""


def is_percent(expr: str) -> bool:
    """The expression computes a percentage (× 100, ``growth(…)``, ``pct(…)``)."""
    e = expr.replace(" ", "")
    return "*100" in e or e.startswith("100*") or "growth(" in e or "pct(" in e


def calculation_route(question: str) -> Route:
    """The route of a question whose answer is a model-planned calculation (few-shot items)."""
    return Route(
        [], None, "consolidated", True, False, False, False, requested_decimals(question),
        percent_ok=bool(_PERCENT_OK.search(question)),
    )  # fmt: skip


__all__ = [
    "STANDS_FOR",
    "SUM_ASK",
    "Route",
    "analyse",
    "asks_cagr",
    "asks_computation",
    "asks_decimals",
    "asks_sum",
    "asks_which_year",
    "calculation_route",
    "expression_fits",
    "is_percent",
    "other_formula",
    "other_inputs",
    "requested_decimals",
    "takes_facts_route",
    "unnamed_share",
]
