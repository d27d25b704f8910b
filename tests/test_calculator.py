"""The agent's calculator: arithmetic only, never eval."""

import pytest

from backend.domain.calculator import CalculationError, calculate


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("(2795 - 2780) / 2780 * 100", 0.5395683),
        ("growth(135,987, 177,866)", 30.7963261),
        ("avg(1,531,096,178.20, 1,448,864,848.39)", 1489980513.295),
        ("3533710584.98/((1531096178.20+1448864848.39)/2)", 2.3716489),
        ("15% * 200", 30.0),
        ("pct(1577, 32765)", 4.8130627),
        ("100209482.5 / 1048976368.69", 0.0955307),
        ("−3 × (2 ÷ 4)", -1.5),
        ("cagr(100, 121, 2)", 10.0),
        ("round(2.345, 2)", 2.35),
    ],
)
def test_arithmetic(expr, value):
    assert calculate(expr).value == pytest.approx(value, rel=1e-6)


@pytest.mark.parametrize(
    "expr",
    [
        "__import__('os').system('true')",
        "open('/etc/passwd')",
        "(1).__class__",
        "[1, 2]",
        "x + 1",
        "2 ** 1000",
        "1 / 0",
        "growth(0, 5)",
        "lambda: 1",
    ],
)
def test_rejects_anything_but_arithmetic(expr):
    with pytest.raises(CalculationError):
        calculate(expr)
