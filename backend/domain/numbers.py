"""Numbers in text: parse them with their scale words, and check an answer's numbers against the
evidence it cites.

Scale notations are interchangeable: "$1,577 million", "1.577 billion", "1,577" in a table headed
"(Millions)", "15.77亿元", "157,700万元" all denote the same amount, so comparisons try every power of
a thousand (and 万/亿) between the two sides and accept a match within a relative tolerance.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from backend.domain.text import CJK

_SCALE_WORDS = {
    "thousand": 1e3, "thousands": 1e3, "k": 1e3, "million": 1e6, "millions": 1e6, "mn": 1e6,
    "m": 1e6, "mm": 1e6, "billion": 1e9, "billions": 1e9, "bn": 1e9, "b": 1e9, "trillion": 1e12,
    "万": 1e4, "万元": 1e4, "亿": 1e8, "亿元": 1e8, "千": 1e3, "千元": 1e3, "百万": 1e6,
    "百万元": 1e6, "元": 1.0,
}  # fmt: skip

_NUM = re.compile(
    r"(?P<neg>[-−–(])?\s*(?P<cur>[$€£¥])?\s*"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:\s*(?P<pct>%|percent\b|个百分点))?"
    r"(?:\s*(?P<scale>thousands?|millions?|billions?|trillion|mn|bn|mm|k|m|b|万元|亿元|千元|百万元|万|亿|千|百万|元)(?![A-Za-z]))?",
    re.I,
)
_YEARISH = re.compile(r"^(19|20)\d\d$")
_MONTH_BEFORE = re.compile(
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+$", re.I
)
_MONTH_AFTER = re.compile(
    r"^\s*(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b", re.I
)


@dataclass(frozen=True)
class Number:
    value: float  # as written (sign applied), before the scale word
    scale: float  # multiplier of the scale word (1 when none)
    percent: bool
    text: str
    start: int

    @property
    def base(self) -> float:
        return self.value * self.scale


def parse_numbers(text: str, *, skip_years: bool = True) -> list[Number]:
    """Every number in ``text`` with its sign, percent flag and scale word."""
    out: list[Number] = []
    for m in _NUM.finditer(text):
        raw = m.group("num")
        after = text[m.end() : m.end() + 1]
        before = text[m.start("num") - 1 : m.start("num")] if m.start("num") > 0 else ""
        glued_after = after.isascii() and after.isalpha() and not m.group("scale")
        if glued_after or (before.isascii() and before.isalpha()) or before == ".":
            continue  # part of a word or code: "3M", "10-K", "Q2", "v1.5"
        if not m.group("cur") and not m.group("pct") and not m.group("scale") and "," not in raw:
            if _MONTH_BEFORE.search(text[max(0, m.start("num") - 12) : m.start("num")]):
                continue  # the day of a date: "March 21, 2022"
            if _MONTH_AFTER.match(text[m.end("num") : m.end("num") + 12]) or after in ("月", "日"):
                continue  # "21 March", "12月31日"
        try:
            value = float(raw.replace(",", ""))
        except ValueError:
            continue
        neg = m.group("neg")
        if neg in ("-", "−", "–") and m.start("neg") > 0 and text[m.start("neg") - 1].isalnum():
            neg = None  # a hyphen inside a word or range, not a sign
        if neg:
            value = -value
        pct = bool(m.group("pct"))
        scale_word = (m.group("scale") or "").lower()
        if scale_word in ("m", "b", "k") and not m.group("cur"):
            if m.end("num") == m.start("scale"):
                continue  # "3M", "5B": a name, not an amount
            scale_word = ""  # "5 m" is too ambiguous without a currency sign
        scale = _SCALE_WORDS.get(scale_word, 1.0)
        if skip_years and not pct and scale == 1.0 and _YEARISH.match(raw) and not m.group("cur"):
            continue
        out.append(Number(value, scale, pct, m.group(0).strip(), m.start()))
    return out


_SCALES = (1.0, 1e3, 1e6, 1e9, 1e-3, 1e-6, 1e-9)
_CN_SCALES = (1e4, 1e8, 1e-4, 1e-8)  # 万 / 亿: only where Chinese units are in play
_PCT_SCALES = (1.0, 1e2, 1e-2)  # 30.8% = 0.308


def same_amount(
    a: float,
    b: float,
    rel_tol: float = 0.005,
    *,
    signed: bool = True,
    chinese: bool = True,
    percent: bool = False,
) -> bool:
    """True when ``a`` and ``b`` agree up to a scale notation and rounding (and sign, unless
    ``signed`` is False: statements print outflows in parentheses, prose states them positive).

    ``chinese`` allows 万/亿 scale factors; ``percent`` compares a percentage, which may only
    equal a percentage or a ratio (×100), never an amount in another scale."""
    if not signed:
        a, b = abs(a), abs(b)
    if a == b:
        return True
    if a == 0 or b == 0:
        return abs(a - b) < 1e-9
    scales = _PCT_SCALES if percent else _SCALES + (_CN_SCALES if chinese else ())
    for s in scales:
        x = a * s
        if math.isclose(abs(x), abs(b), rel_tol=rel_tol) and (x > 0) == (b > 0):
            return True
    return False


def rounds_to(value: float, target: float) -> bool:
    """``target`` is ``value`` rounded to the precision ``target`` is written in."""
    text = f"{target}"
    decimals = len(text.split(".")[1]) if "." in text and not text.endswith(".0") else 0
    return round(value, decimals) == round(target, decimals)


def rounds_to_printed(value: float, printed: Number) -> bool:
    """``value``, in any scale notation, rounded to the decimals ``printed`` is written with
    (trailing zeros are formatting: "$382.00" is a whole number) is ``printed``: 5.43 for "5.4%",
    381,603 thousand for "382.00" million."""
    digits = re.search(r"\.(\d+)", printed.text)
    decimals = len(digits.group(1).rstrip("0")) if digits else 0
    scales = _PCT_SCALES if printed.percent else _SCALES
    return any(round(value * s, decimals) == round(printed.value, decimals) for s in scales)


def unverified_numbers(
    answer: str, evidence: list[str], extra_values: list[float] = ()
) -> list[str]:
    """Numbers stated in ``answer`` that appear in none of the ``evidence`` texts (nor in
    ``extra_values``, e.g. results of shown calculations). Small integers (≤ 10) that are not
    amounts and citation page numbers are ignored."""
    evidence_values: list[float] = list(extra_values)
    for text in evidence:
        evidence_values.extend(n.value for n in parse_numbers(text, skip_years=False))
        evidence_values.extend(n.base for n in parse_numbers(text, skip_years=False))
    chinese = bool(CJK.search(answer)) or any(CJK.search(t) for t in evidence)
    stripped = re.sub(r"\[[^\]]*\bp\.\s*\d+[^\]]*\]|\[\d+(?:\s*,\s*\d+)*\]", " ", answer)
    missing = []
    for n in parse_numbers(stripped):
        if abs(n.value) <= 10 and n.scale == 1.0 and not n.percent and float(n.value).is_integer():
            continue
        ok = any(
            same_amount(n.value, v, signed=False, chinese=chinese, percent=n.percent)
            or (not n.percent and same_amount(n.base, v, signed=False, chinese=chinese))
            or rounds_to(abs(v), abs(n.value))
            for v in evidence_values
        )
        if not ok:
            missing.append(n.text)
    return missing


_CITATION = re.compile(r"\[[^\]]*\]")


def strip_citations(text: str) -> str:
    """``text`` without its bracketed citations ("[file p.4]", "[2]"): their page numbers and
    file years are not amounts."""
    return _CITATION.sub(" ", text)


def primary_value(answer: str) -> tuple[float | None, str]:
    """The number an answer states (first non-year number) and its unit words, for evaluation."""
    stripped = strip_citations(answer)
    for n in parse_numbers(stripped):
        unit = "%" if n.percent else ""
        if n.scale != 1.0:
            unit = next((w for w, s in _SCALE_WORDS.items() if s == n.scale and len(w) > 1), "")
        return n.value, unit
    return None, ""
