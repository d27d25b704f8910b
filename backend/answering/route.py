"""The routing decision: what a question asks of the facts table, and whether the deterministic
facts route answers it or it goes to search and the model.

:func:`analyse` reads the question (items, metric, scope, the kind of computation, decimals);
:func:`takes_facts_route` is THE routing rule. The agent and the few-shot generator both call
these two functions, so training items teach the route the live agent takes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from backend.answering.plan import QueryPlan, narrow_question
from backend.domain.items import items_in, scope_in
from backend.domain.metrics import Metric, find_metric

_COMPUTE = re.compile(
    r"\b(difference|differ|change[sd]?|growth|grow|grew|increase[sd]?|decrease[sd]?|ratio|"
    r"average|mean|sum|combined|percent(?:age)?|proportion|margin|how much (?:more|less|higher|"
    r"lower)|cagr|turnover|times|divided|rate|ratio)\b|增长|变动|变化|比值|比率|比例|平均|合计|差额|"
    r"同比|周转率|百分比|占比|多少倍",
    re.I,
)
_CHANGE = re.compile(
    r"\b(change|growth|grow|grew|increase|decrease|year[- ]over[- ]year|yoy)\b|增长|变动|变化|同比|增减",
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

    def to_trace(self) -> dict[str, Any]:
        return {
            "step": "route",
            "items": self.items,
            "metric": self.metric.key if self.metric else None,
            "scope": self.scope,
            "compute": self.compute,
        }


def analyse(question: str) -> Route:
    """Items, metric, scope and the kind of computation a (stand-alone) question asks for."""
    metric = find_metric(question)
    return Route(
        items=items_in(question),
        metric=metric,
        scope=scope_in(question) or "consolidated",
        compute=asks_computation(question) or metric is not None,
        change=bool(_CHANGE.search(question)),
        average=bool(_AVERAGE.search(question)),
        compare=bool(_COMPARE.search(question)),
        decimals=requested_decimals(question),
        narrow=narrow_question(question),
    )


def takes_facts_route(plan: QueryPlan, route: Route) -> bool:
    """The routing rule: a named company and a statement item or metric, with no qualifier that
    makes the annual statement line the wrong answer (a quarter, a segment, a region …)."""
    return bool(plan.companies and (route.items or route.metric) and not route.narrow)


def expression_fits(expr: str, route: Route) -> str:
    """'' when the model's expression has the shape the question asks for, else why not: an
    average adds and divides, a change subtracts (and divides, for a rate)."""
    e = expr.replace(" ", "")
    if route.average and not ("+" in e and "/" in e):
        return "the question asks for an average: (a + b) / n"
    if route.change and not route.average and "-" not in e.lstrip("-(") and "growth(" not in e:
        return "the question asks for a change: new - old"
    return ""


def calculation_route(question: str) -> Route:
    """The route of a question whose answer is a model-planned calculation (few-shot items)."""
    return Route([], None, "consolidated", True, False, False, False, requested_decimals(question))


__all__ = [
    "Route",
    "analyse",
    "asks_computation",
    "asks_decimals",
    "calculation_route",
    "expression_fits",
    "requested_decimals",
    "takes_facts_route",
]
