"""A safe arithmetic evaluator for the agent's ``calculate`` tool.

The expression is parsed with :mod:`ast` (never ``eval``) and only numbers, + − × ÷, powers,
parentheses, percentages and a few named functions are accepted:
``avg``/``mean``, ``sum``, ``min``, ``max``, ``abs``, ``round``, ``growth(old, new)`` (percent
change), ``pct(part, whole)`` (percent share), ``ratio(a, b)``, ``cagr(first, last, years)``.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from backend.errors import AnnalystError


class CalculationError(AnnalystError):
    """The expression is not plain arithmetic or cannot be computed."""


def _avg(*xs: float) -> float:
    if not xs:
        raise CalculationError("avg() needs at least one number")
    return sum(xs) / len(xs)


def _growth(old: float, new: float) -> float:
    if old == 0:
        raise CalculationError("growth() from zero is undefined")
    return (new - old) / abs(old) * 100.0


def _pct(part: float, whole: float) -> float:
    if whole == 0:
        raise CalculationError("pct() of zero is undefined")
    return part / whole * 100.0


def _ratio(a: float, b: float) -> float:
    if b == 0:
        raise CalculationError("division by zero")
    return a / b


def _cagr(first: float, last: float, years: float) -> float:
    if first <= 0 or years <= 0:
        raise CalculationError("cagr() needs a positive start value and period")
    return ((last / first) ** (1.0 / years) - 1.0) * 100.0


FUNCTIONS: dict[str, Callable[..., float]] = {
    "avg": _avg,
    "mean": _avg,
    "average": _avg,
    "sum": lambda *xs: float(sum(xs)),
    "min": lambda *xs: float(min(xs)),
    "max": lambda *xs: float(max(xs)),
    "abs": lambda x: float(abs(x)),
    "round": lambda x, n=0: float(round(x, int(n))),
    "growth": _growth,
    "pct": _pct,
    "ratio": _ratio,
    "cagr": _cagr,
}

_BINOPS: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_GROUPED = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+)(?!\d|,\d)")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")


@dataclass
class Calculation:
    expression: str
    value: float


def normalise(expression: str) -> str:
    expr = expression.strip()
    for a, b in (
        ("×", "*"),
        ("÷", "/"),
        ("−", "-"),
        ("–", "-"),
        ("（", "("),
        ("）", ")"),
        ("，", ","),
        ("^", "**"),
        ("$", ""),
        ("¥", ""),
        ("€", ""),
    ):
        expr = expr.replace(a, b)
    expr = _GROUPED.sub(lambda m: m.group(1).replace(",", ""), expr)
    expr = _PERCENT.sub(r"(\1/100)", expr)
    return expr


def calculate(expression: str) -> Calculation:
    """Evaluate plain arithmetic safely; raises :class:`CalculationError` on anything else."""
    if len(expression) > 500:
        raise CalculationError("expression too long")
    expr = normalise(expression)
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as err:
        raise CalculationError(f"cannot parse '{expression}': {err.msg}") from err

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Div) and right == 0:
                raise CalculationError("division by zero")
            if isinstance(node.op, ast.Pow) and abs(right) > 64:
                raise CalculationError("exponent too large")
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id.lower() in FUNCTIONS
            and not node.keywords
        ):
            args = [ev(a) for a in node.args]
            try:
                return float(FUNCTIONS[node.func.id.lower()](*args))
            except TypeError as err:
                raise CalculationError(f"{node.func.id}(): {err}") from err
        if isinstance(node, ast.Tuple | ast.List):
            raise CalculationError("use avg(a, b) or sum(a, b) for several numbers")
        raise CalculationError(
            f"'{expression}' is not plain arithmetic (allowed: numbers, + - * / ** ( ) %, "
            f"{', '.join(sorted(FUNCTIONS))})"
        )

    value = ev(tree)
    if math.isnan(value) or math.isinf(value):
        raise CalculationError(f"'{expression}' has no finite value")
    return Calculation(expression=expression.strip(), value=value)
