"""A formula the question writes itself, read into a :class:`~backend.domain.metrics.Metric`.

"Operating cash flow ratio is defined as: cash from operations / total current liabilities.",
"DPO is defined as: 365 * (average accounts payable between FY2017 and FY2018) / (FY2018 COGS +
change in inventory between FY2017 and FY2018).", "（期间费用=销售费用+管理费用+研发费用+财务费用，
期间费用率=期间费用/营业收入）": each statement item the formula names becomes its item key,
"average X between FY2017 and FY2018" the average of its opening and closing balances, "change in
X between …" the closing minus the opening one, "FY2017 X" the item in that year (as an offset
from the year asked, the latest year the question names); a name another definition of the
question defines ("CCC is defined as: DIO + DSO - DPO. DIO is defined as: …") is replaced by
its formula. What is left must be plain arithmetic; a formula with any other word in it is not
read (None): it is not the product's to guess.
"""

from __future__ import annotations

import re

from backend.domain.items import item_spans
from backend.domain.metrics import Metric
from backend.domain.text import YEAR, has_cjk

_EN_DEFINED = re.compile(
    r"(?P<name>[^.?!:;]{1,80}?)\s+(?:here\s+)?(?:is\s+)?(?:defined|calculated)\s+as\s*:?\s*"
    r"(?P<formula>.+?)(?=\.\s|\.?$)",
    re.I,
)
_ZH_DEFINED = re.compile(
    r"(?P<name>[\u4e00-\u9fff]{2,16})\s*(?:=|＝|定义为)\s*(?P<formula>[^，,；;（）()。]+)"
)
_YEAR = r"(?:FY\s?)?'?((?:19|20)\d{2})"
_BEFORE_AVERAGE = re.compile(r"(?:\baverage|\bavg\.?|\bmean)\s+(?:of\s+)?(?:the\s+)?$|平均", re.I)
_BEFORE_CHANGE = re.compile(r"\bchange\s+in\s+(?:the\s+)?$|变动$", re.I)
_BEFORE_YEAR = re.compile(_YEAR + r"\s+$", re.I)
_AFTER_BETWEEN = re.compile(r"^\s+(?:between|from)\s+" + _YEAR + r"\s+(?:and|to)\s+" + _YEAR, re.I)
_AFTER_YEAR = re.compile(r"^\s+(?:in|for|of|at)\s+" + _YEAR, re.I)
_ARITHMETIC = re.compile(r"^[\s\d.+\-*/()×÷]*$")
_PERCENT = re.compile(r"%|\bpercent|百分")


def written_metric(question: str) -> Metric | None:
    """The formula the question defines for what it asks, as a Metric over item keys, or None
    when there is none or a word of it is not a statement item or arithmetic."""
    definitions = _definitions(question)
    if not definitions:
        return None
    name, text = definitions[0]
    others = dict(definitions[1:])
    for _ in range(3):  # names defined in terms of other names, a few levels deep
        for other, formula in others.items():
            text = re.sub(
                rf"(?<!\w){re.escape(other)}(?!\w)",
                lambda _m, f=formula: f"({f})",
                text,
                flags=re.I,
            )  # the formula as text, never as a replacement template ("\\1" in a question)
    years = [int(y) for y in YEAR.findall(question)]
    formula = _read(text, max(years) if years else None)
    if formula is None:
        return None
    if "/" in formula and _percent(question, name) and "100" not in formula:
        formula = f"({formula}) * 100"
    return Metric("written", formula, _unit(formula, name), (name,), (name,), name)


def _definitions(question: str) -> list[tuple[str, str]]:
    """(name, formula text) of every definition, the one asked about first (the first)."""
    out = []
    for m in _EN_DEFINED.finditer(question):
        name = re.split(r"[,(]\s*|\bthe\s+", m.group("name").strip(), flags=re.I)[-1].strip()
        if name:
            out.append((name, m.group("formula").strip()))
    for m in _ZH_DEFINED.finditer(question):
        out.append((m.group("name"), m.group("formula").strip()))
    if len(out) > 1 and has_cjk(
        question
    ):  # 期间费用=…，期间费用率=期间费用/营业收入: the last asks
        asked = [d for d in out if d[0] in question.split("（")[0].split("(")[0]]
        out.sort(key=lambda d: (d not in asked, -len(d[0])))
    return out


def _read(text: str, year: int | None) -> str | None:
    """``text`` with its items as keys (``key``, ``key@-1``, ``avg(key, key@-1)``), or None."""
    out, at = [], 0
    for start, end, key in item_spans(text):
        before, after = text[at:start], text[end:]
        offset, took = 0, 0
        if m := _BEFORE_AVERAGE.search(before):
            kind, before = "avg", before[: m.start()]
        elif m := _BEFORE_CHANGE.search(before):
            kind, before = "change", before[: m.start()]
        else:
            kind = "item"
        if m := _BEFORE_YEAR.search(before):
            offset, before = _offset(int(m.group(1)), year), before[: m.start()]
        if m := _AFTER_BETWEEN.match(after):
            y0, y1 = int(m.group(1)), int(m.group(2))
            if kind == "item" or y1 - y0 != 1:
                return None  # "X between 2017 and 2018" is neither one year nor an average
            offset, took = _offset(y1, year), m.end()
        elif m := _AFTER_YEAR.match(after):
            offset, took = _offset(int(m.group(1)), year), m.end()
        elif kind != "item":
            return None  # an average or a change needs its two years
        if offset is None or not _ARITHMETIC.match(before):
            return None
        out.append(before)
        out.append(_term(key, offset, kind))
        at = end + took
    if not out or not _ARITHMETIC.match(text[at:]):
        return None
    out.append(text[at:])
    formula = " ".join("".join(out).replace("×", "*").replace("÷", "/").split())
    return formula.rstrip(". ")


def _offset(y: int, year: int | None) -> int | None:
    return None if year is None or y > year else y - year


def _term(key: str, offset: int, kind: str) -> str:
    now = f"{key}@{offset}" if offset else key
    before = f"{key}@{offset - 1}"
    if kind == "avg":
        return f"avg({now}, {before})"
    if kind == "change":
        return f"({now} - {before})"
    return now


def _percent(question: str, name: str) -> bool:
    """The question asks a percentage, or names a Chinese rate that is one (期间费用率, not a
    turnover rate 周转率)."""
    return bool(_PERCENT.search(question)) or (name.endswith("率") and not name.endswith("周转率"))


def _unit(formula: str, name: str) -> str:
    if "100" in formula and "/" in formula:
        return "%"
    if re.match(r"^\(?\s*36[05]\s*\*", formula) or "days" in name.lower():
        return "days"
    return "x" if "/" in formula else "amount"
