"""The routing decision: what a question asks of the facts table, and whether the deterministic
facts route answers it or it goes to search and the model.

:func:`analyse` reads the question (items, metric, scope, the kind of computation, decimals);
:func:`takes_facts_route` is THE routing rule. The agent and the few-shot generator both call
these two functions, so training items teach the route the live agent takes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backend.answering.plan import QueryPlan, narrow_question
from backend.domain.items import item_spans, items_in, scope_in
from backend.domain.metrics import Metric, find_metric

_CJK = re.compile(r"[\u4e00-\u9fff]")
_COMPUTE = re.compile(
    r"\b(difference|differ|change[sd]?|growth|grow|grew|increase[sd]?|decrease[sd]?|ratio|"
    r"average|mean|sum|combined|percent(?:age)?|proportion|margin|how much (?:more|less|higher|"
    r"lower)|cagr|turnover|times|divided|rate|ratio)\b|增长|变动|变化|比值|比率|比例|平均|合计|差额|"
    r"同比|周转率|百分比|占比|多少倍",
    re.I,
)
_CHANGE = re.compile(
    r"\b(chang\w*|grow\w*|grew|increas\w*|decreas\w*|year[- ]over[- ]year|yoy)\b|增长|变动|变化|"
    r"同比|增减",
    re.I,
)
_AVERAGE = re.compile(r"\b(average|mean)\b|平均", re.I)
_COMPARE = re.compile(
    r"\b(compare|comparison|versus|vs\.?|higher|lower|larger|smaller)\b|比较|对比", re.I
)
_DECIMALS = re.compile(
    r"\b(one|two|three|four|\d)\s+decimal|小数点后\s*(一|两|二|三|四|\d)\s*位|保留\s*(一|两|二|三|四|\d)\s*位",
    re.I,
)
_NARRATIVE = re.compile(
    r"\b(why|explain\w*|describe\w*|discuss\w*|reasons?|drove|drivers?|driven|impact\w*|"
    r"affect\w*|risks?|strateg\w*|outlook|plans?|policy|policies|how (?:does|did|do|is|are|will)|"
    r"what (?:are|were) the (?:main|key|primary)|summari[sz]\w*|overview)\b|为什么|原因|说明|介绍|"
    r"描述|风险|战略|主要业务|影响",
    re.I,
)
_YES_NO = re.compile(r"^\s*(?:does|do|did|is|are|was|were|has|have|had|can)\b|是否|有没有", re.I)
_TREND_UP = re.compile(
    r"\bimprov\w*|\bincreas\w*|\bgrow\w*|\bhigher\b|\brising\b|上升|改善|提高", re.I
)
_TREND_DOWN = re.compile(
    r"\bdeclin\w*|\bdecreas\w*|\bworsen\w*|\blower\b|\bfalling\b|下降|恶化", re.I
)
_POSITIVE = re.compile(r"\bpositive\b|为正|盈利", re.I)
_NEGATIVE = re.compile(r"\bnegative\b|为负|亏损", re.I)
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
    #: items of a formula the question defines itself ("X is defined as a / b"), else None
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
    """Items of a formula the question spells out ("… is defined as: DIO + DSO - DPO")."""
    m = _DEFINED.search(question)
    if not m:
        return None
    return items_in(question[m.end() :])


def analyse(question: str) -> Route:
    """Items, metric, scope and the kind of computation a (stand-alone) question asks for."""
    metric = find_metric(question)
    boolean, upward = _boolean(question)
    return Route(
        items=list(dict.fromkeys(key for _, _, key in _spans(question))) or items_in(question),
        metric=metric,
        scope=scope_in(question) or "consolidated",
        compute=asks_computation(question) or metric is not None,
        change=bool(_CHANGE.search(question)),
        average=bool(_AVERAGE.search(question)),
        compare=bool(_COMPARE.search(question)),
        decimals=requested_decimals(question),
        narrow=narrow_question(question),
        narrative=bool(_NARRATIVE.search(question)) and boolean is None,
        boolean=boolean,
        upward=upward,
        definition=_definition(question),
        ratio_words=bool(_RATIO_WORDS.search(question)),
        percent=bool(_PERCENT_WORDS.search(question))
        or (bool(_CJK.search(question)) and not _ZH_AMOUNT_CHANGE.search(question)),
        span=bool(_SPAN.search(question)),
        percent_ok=bool(_PERCENT_OK.search(question)),
    )


def takes_facts_route(plan: QueryPlan, route: Route) -> bool:
    """The routing rule: a named company and a statement item or metric, with no qualifier that
    makes the annual statement line the wrong answer (a quarter, a segment, a region, a product
    line, "excluding …"): then the item asked IS the statement line."""
    if not plan.companies or not (route.items or route.metric) or route.narrow:
        return False
    return route.metric is not None or not qualified(plan.question, plan.names)


#: Words that may stand between a company's name and a statement item without changing it.
_MODIFIERS = frozenset(
    """total net consolidated annual reported unadjusted gaap cash fiscal full overall entire
    year-end ending end""".split()
)
#: Words that end the search for a qualifier: whatever stands before them is another phrase.
_FUNCTION_WORDS = frozenset(
    """what which how much many was were is are did does do the a an its their our in of for from
    by and or to at on as per with change changes growth increase decrease ratio margin percent
    percentage average sum difference compute calculate report reported during between
    year years company company's amount value figure line item""".split()
)
_ZH_CONTEXT = re.compile(
    r"合并|母公司|利润表|资产负债表|现金流量表|报表|财务|项目|中|年末|年初|期末|期初|[“”\"'‘’《》]"
)
_YEARISH = re.compile(r"(?:fy|q[1-4])?'?\d+")
_AFTER = re.compile(r"^\s*(?:from|of|for|in|at|by)\s+((?:[\w&'’.-]+\s*){1,4})", re.I)


def _spans(question: str) -> list[tuple[int, int, str]]:
    """Item phrases of the question outside parentheses ("净利润（含少数股东损益）" asks one item)."""
    out = []
    for start, end, key in item_spans(question):
        head = question[:start]
        if head.count("(") + head.count("（") <= head.count(")") + head.count("）"):
            out.append((start, end, key))
    return out


def _bare(word: str) -> str:
    """A word in lower case without its possessive ending or trailing dot: "Mills'" → "mills"."""
    return re.sub(r"(?:['’]s?)$", "", word.lower().rstrip(".,"))


def qualified(question: str, names: Sequence[str]) -> bool:
    """A statement item in the question carries a qualifier the statement line lacks: "Pet
    segment net sales", "footwear revenues", "revenue from Asia Pacific", "柴油机营业收入"."""
    name_words = {_bare(w) for n in names for w in re.findall(r"[\w&'’.-]+", n)}
    name_text = [n.replace(" ", "") for n in names if n]
    for start, end, _key in _spans(question):
        before = re.sub(r"\([^()]*\)|（[^（）]*）", " ", question[:start])
        if _CJK.search(question[start:end]):
            tail = re.split(r"(?:19|20)\d{2}\s*年度?|的|，|,|、|\s|\?|？", before)[-1]
            for n in sorted(name_text, key=len, reverse=True):
                tail = tail.replace(n, "")
            tail = _ZH_CONTEXT.sub("", tail)
            if len(_CJK.findall(tail)) >= 2:
                return True
            continue
        clause = re.split(r"[,.;:?!]\s", before)[-1]
        for word in reversed([_bare(w) for w in re.findall(r"[A-Za-z][\w&'’.-]*", clause)]):
            if word in _MODIFIERS or word in name_words or _YEARISH.fullmatch(word):
                continue
            if word not in _FUNCTION_WORDS:
                return True  # "Pet segment net sales", "footwear revenues"
            break
        after = _AFTER.match(question[end:])
        if after:
            rest = [_bare(w) for w in re.findall(r"[A-Za-z][\w&'’.-]*", after.group(1))]
            rest = [
                w
                for w in rest
                if w not in _MODIFIERS | _FUNCTION_WORDS | name_words and not _YEARISH.fullmatch(w)
            ]
            if rest:
                return True
    return False


def expression_fits(expr: str, route: Route) -> str:
    """'' when the model's expression has the shape the question asks for, else why not: an
    average adds and divides, a change subtracts (and divides, for a rate)."""
    e = expr.replace(" ", "")
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
    "Route",
    "analyse",
    "asks_computation",
    "asks_decimals",
    "calculation_route",
    "expression_fits",
    "is_percent",
    "requested_decimals",
    "takes_facts_route",
]
