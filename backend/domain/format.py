"""The one formatter of amounts, in English and Chinese. Every number Annalyst writes about a fact
(the agent's answers, the facts CLI, tool results, generated training data) goes through here, so
that a figure reads the same wherever it appears.

* :func:`amount` — a fact in a sentence: "$1,577 million", "$4.65 per share", "RMB 1,234 million",
  "1,048,976,368.69元", "11,692,713千美元" (a US filing quoted in a Chinese answer).
* :func:`compact` — a fact in a table cell or a CLI line: "-1,577 million USD", "992,955,495.15 元".
* :func:`as_printed` — the digits the statement prints, without separators: what a calculation copies.
* :func:`plain` — any float without exponent or grouping: 5959751175.87.
* :func:`result` — a computed value with its unit ("12.35%", "45.20 days", "1.87").
* :func:`display_label` — a statement row label without enumerators and remarks.

Decimals are those printed in the report (``Fact.raw``): "14,146,134,947.00" stays with two.
"""

from __future__ import annotations

import re
from typing import Protocol

from backend.domain.text import fixed_point

CURRENCY_SIGN = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "CAD": "C$",
    "AUD": "A$",
    "HKD": "HK$",
}
CURRENCY_ZH = {
    "USD": "美元", "EUR": "欧元", "GBP": "英镑", "JPY": "日元", "AUD": "澳元", "CAD": "加元",
    "HKD": "港元", "CNY": "元", "RMB": "元",
}  # fmt: skip
SCALE_EN = {1e3: "thousand", 1e6: "million", 1e9: "billion"}
SCALE_ZH = {1e3: "千", 1e6: "百万", 1e9: "十亿", 1e4: "万", 1e8: "亿"}
SCALE_COMPACT = {1.0: "", 1e3: "thousand", 1e4: "万", 1e6: "million", 1e8: "亿", 1e9: "billion"}
CN_UNITS = ("元", "千元", "万元", "百万元", "亿元")


class Amount(Protocol):
    """What the formatter needs of a fact (``backend.records.Fact`` and table cells have it)."""

    value: float
    scale: float
    unit_label: str
    currency: str
    raw: str


def printed_decimals(f: Amount) -> int:
    """Decimals of the value as printed ("14,146,134,947.00" → 2); else 2 for a fraction, 0."""
    m = re.search(r"\.(\d+)\)?\s*$", f.raw or "")
    if m:
        return len(m.group(1))
    return 2 if abs(f.value - round(f.value)) > 1e-9 else 0


def _per_share(f: Amount) -> bool:
    return "per share" in (f.unit_label or "").lower()


def amount(f: Amount, language: str, *, magnitude: bool = False) -> str:
    """The fact in an answer sentence of ``language`` ('en' or 'zh'), with its unit."""
    value = abs(f.value) if magnitude else f.value
    digits = f"{abs(value):,.{printed_decimals(f)}f}"
    neg = "-" if value < 0 else ""
    if f.currency in ("CNY", "RMB"):
        if _per_share(f):
            return f"每股{neg}{digits}元" if language == "zh" else f"RMB {neg}{digits} per share"
        unit = f.unit_label if f.unit_label in CN_UNITS else "元"
        if language == "en" and unit in ("元", "千元", "百万元"):
            word = {"元": "", "千元": " thousand", "百万元": " million"}[unit]
            return f"{neg}RMB {digits}{word}"
        return f"{neg}{digits}{unit}"
    if language == "zh":
        cur = CURRENCY_ZH.get(f.currency, f.currency)
        if _per_share(f):
            return f"每股{neg}{digits}{cur}"
        return f"{neg}{digits}{SCALE_ZH.get(f.scale, '')}{cur}"
    sign = CURRENCY_SIGN.get(f.currency, "")
    code = "" if sign or not f.currency else f" {f.currency}"
    if _per_share(f):
        return f"{neg}{sign}{digits}{code} per share"
    word = SCALE_EN.get(f.scale, "")
    return f"{neg}{sign}{digits}" + (f" {word}" if word else "") + code


def compact(f: Amount) -> str:
    """The fact for a table cell or a CLI line: '-1,577 million USD', '992,955,495.15 元',
    '9.09 USD per share'."""
    number = f"{f.value:,.{printed_decimals(f) if f.raw else 0}f}"
    if _per_share(f):
        unit = f.unit_label.replace("per share", "").strip()
        return f"{number} {unit or f.currency} per share".replace("  ", " ").strip()
    if f.currency in ("CNY", "RMB") and f.unit_label in CN_UNITS:
        return f"{number} {f.unit_label}"
    word = SCALE_COMPACT.get(f.scale, f"×{f.scale:g}")
    return " ".join(x for x in (number, word, f.currency) if x)


def plain(v: float) -> str:
    """A number without exponent or grouping, at most two decimals: 5959751175.87."""
    text = f"{v:.2f}" if abs(v - round(v)) > 1e-9 else f"{v:.0f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def change_expression(a: float, b: float, *, average: bool = False, percent: bool = False) -> str:
    """The calculator expression from ``a`` to ``b``: their change, its percent of ``a``, or
    their average ("(7.4 - 9.3) / 9.3 * 100")."""
    if average:
        return f"({plain(a)} + {plain(b)}) / 2"
    if percent:
        return f"({plain(b)} - {plain(a)}) / {plain(abs(a))} * 100"
    return f"{plain(b)} - {plain(a)}"


def as_printed(f: Amount, *, magnitude: bool = False) -> str:
    """The value as the statement prints it, without separators or currency ("(1,577)" →
    "-1577"); :func:`plain` of the value when the printed text does not match it."""
    raw = re.sub(r"[\s,$€£¥]", "", f.raw or "")
    if raw.startswith("(") and raw.endswith(")"):
        raw = "-" + raw[1:-1]
    raw = raw.replace("−", "-").replace("–", "-")
    try:
        ok = abs(float(raw) - f.value) <= 1e-9 * max(1.0, abs(f.value))
    except ValueError:
        ok = False
    if not ok:
        raw = plain(f.value)
    if magnitude:
        raw = raw.lstrip("-")
    return raw


def result(value: float, unit: str, decimals: int) -> str:
    """A computed value: '12.35%', '45.20 days', '1.87' (times and amounts carry no suffix)."""
    if unit == "%":
        return f"{value:,.{decimals}f}%"
    if unit == "days":
        return f"{value:,.{decimals}f} days"
    return f"{value:,.{decimals}f}"


_LABEL_NOISE = re.compile(
    r"^\s*(?:[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|\(?\d+\)|\d+[、.])\s*|"
    r"^\s*(?:其中|加|减)\s*[:：]\s*|[（(][^）)]*(?:填列|以|号)[^）)]*[）)]\s*$|"
    r"\s*(?:\.\s*){2,}$"  # dot leaders: "Interest expense . . . . . ."
)


def display_label(label: str) -> str:
    """A statement row label without enumerators, remarks and dot leaders: "五、净利润（净亏损以
    “－”号填列）" → "净利润", "其中：营业收入" → "营业收入", "Interest expense . . ." → "Interest
    expense"."""
    return fixed_point(lambda s: _LABEL_NOISE.sub("", s).strip(), label)
