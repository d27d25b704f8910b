"""Numbers, units and currencies as printed in financial statements.

* Amounts: ``1,577`` · ``(1,577)`` and ``-438,416,032.45`` are negative (also ``−``, ``–`` and full
  width ``（）``) · a lone dash ``—``/``–``/``-`` in a value column means nil and is read as 0 ·
  currency signs stuck to the number (``$1,234``) are dropped.
* Scale, from the statement heading: ``(in millions…)``/``(Millions)``/``$ in millions``/``$m``
  → 1e6, ``(in thousands)``/``$'000`` → 1e3, ``in billions`` → 1e9, ``单位：元`` → 1,
  ``单位：千元`` → 1e3, ``单位：万元`` → 1e4, ``单位：百万元`` → 1e6, ``单位：亿元`` → 1e8.
  Per-share rows keep scale 1 ("except per share amounts").
* Currency: USD for ``$``/``U.S. dollars`` unless another dollar is named; CNY for 元/人民币;
  EUR, GBP, JPY, AUD, CAD, CHF, HKD… when named in the heading.
"""

from __future__ import annotations

import re

_MINUS = "-−–—‐‑"
_AMOUNT = re.compile(
    r"^(?P<open>[(（])?(?P<minus>[-−–])?\s*(?:US\$|A\$|C\$|NZ\$|HK\$|R\$|\$|€|£|¥|RMB)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?P<close>[)）])?$"
)
_DASHES = {"—", "–", "-", "−", "——", "--", "―", "‒", "- -", "—-", "-—"}
CURRENCY_SIGNS = {"$", "US$", "€", "£", "¥", "A$", "C$", "RMB", "HK$", "NZ$", "R$", "US", "￥"}


def parse_amount(token: str) -> float | None:
    """A printed amount → signed float; None when the token is not an amount."""
    t = token.strip().replace("\u00a0", "")
    m = _AMOUNT.match(t)
    if not m:
        return None
    if bool(m.group("open")) != bool(m.group("close")):
        # "(1,577" or "1,577)" — a number split from its parenthesis is still negative when
        # the opening parenthesis is there; a lone closing one belongs to a label remark.
        if not m.group("open"):
            return None
    value = float(m.group("num").replace(",", ""))
    if m.group("open") or m.group("minus"):
        value = -value
    return value


def is_dash(token: str) -> bool:
    """A nil marker in a value column ("—", "–", "-")."""
    return token.strip() in _DASHES


def decimals(token: str) -> int:
    m = re.search(r"\.(\d+)", token)
    return len(m.group(1)) if m else 0


_SCALE_EN = [
    (
        re.compile(r"\bin\s+billions\b|\(\s*billions\b|\bbillions\s+of\b|\$\s*bn\b", re.I),
        1e9,
        "billions",
    ),
    (
        re.compile(
            r"\bin\s+millions\b|\(\s*millions\b|\bmillions\s+of\b|\bin\s+[$€£¥]\s*millions\b"
            r"|[$€£¥]\s*in\s+millions|\bin\s+(?:US\s*)?(?:dollars|euros?|yen)?\s*millions\b"
            r"|[$€£][’']?\s?m\b|\bUS\$\s?m\b|\bmillions\s*\)|\(\s*[$€£]?\s*in\s+millions"
            r"|\bamounts\s+in\s+millions\b|\bmillion(?:s)?\s+of\s+(?:yen|euros?|dollars|u\.?s\.?"
            r"\s+dollars)",
            re.I,
        ),
        1e6,
        "millions",
    ),
    (
        re.compile(
            r"\bin\s+thousands\b|\(\s*thousands\b|\bthousands\s+of\b|[$€£][’']?\s?0{3}(?:'?s)?\b"
            r"|\b(?:US|A|C)?\$\s?[’']?000s?\b|[’']000s?\b|\bthousands\s*\)|\bin\s+[$€£]\s*thousands"
            r"|[$€£]\s*in\s+thousands|\bamounts\s+in\s+thousands\b",
            re.I,
        ),
        1e3,
        "thousands",
    ),
]
_SCALE_ZH = [
    (re.compile(r"单位\s*[:：]\s*(?:人民币)?\s*亿元"), 1e8, "亿元"),
    (re.compile(r"单位\s*[:：]\s*(?:人民币)?\s*百万元"), 1e6, "百万元"),
    (re.compile(r"单位\s*[:：]\s*(?:人民币)?\s*万元"), 1e4, "万元"),
    (re.compile(r"单位\s*[:：]\s*(?:人民币)?\s*千元"), 1e3, "千元"),
    (re.compile(r"单位\s*[:：]\s*(?:人民币)?\s*元"), 1.0, "元"),
]
_UNITS_EN = re.compile(
    r"\bin\s+(?:U\.?S\.?\s+)?dollars\b|\(\s*dollars\s*\)|\bexpressed\s+in\s+(?:U\.?S\.?\s+)?"
    r"dollars\b|\bin\s+\$\s*\)|\(\s*(?:in\s+)?(?:US)?\$\s*\)|\(\s*in\s+US\$\s*\)",
    re.I,
)


def detect_scale(text: str, language: str) -> tuple[float, str] | None:
    """(scale, label) named in a statement heading, or None when it names none."""
    text = re.sub(r"[‘’`´′]", "'", text)
    if language == "zh":
        for rx, scale, label in _SCALE_ZH:
            if rx.search(text):
                return scale, label
    for rx, scale, label in _SCALE_EN:
        if rx.search(text):
            return scale, label
    if _UNITS_EN.search(text):
        return 1.0, "units"
    if language == "zh":
        for rx, scale, label in _SCALE_ZH:
            if rx.search(text.replace(" ", "")):
                return scale, label
    return None


_CURRENCIES = [
    ("CNY", re.compile(r"人民币|RMB|\bCNY\b|Renminbi", re.I)),
    ("HKD", re.compile(r"港币|港元|HK\$|\bHKD\b|Hong Kong dollars", re.I)),
    ("EUR", re.compile(r"€|\bEUR\b|\beuros?\b", re.I)),
    ("GBP", re.compile(r"£|\bGBP\b|pounds? sterling|\bsterling\b", re.I)),
    ("JPY", re.compile(r"\bJPY\b|\byen\b|¥", re.I)),
    ("AUD", re.compile(r"A\$|\bAUD\b|Australian dollars?", re.I)),
    ("CAD", re.compile(r"C\$|\bCAD\b|Canadian dollars?", re.I)),
    ("NZD", re.compile(r"NZ\$|\bNZD\b|New Zealand dollars?", re.I)),
    ("CHF", re.compile(r"\bCHF\b|Swiss francs?", re.I)),
    ("USD", re.compile(r"US\$|\bUSD\b|U\.\s?S\.\s+dollars?|US dollars?|\$", re.I)),
]


def currency_row(words: list[str]) -> tuple[float, str] | None:
    """A header row of bare currency signs under the year columns ("$ $", "RMB RMB") states that
    amounts are in currency units; "$'000" / "$m" cells state thousands / millions."""
    if not words:
        return None
    cells = [re.sub(r"[‘’`´′]", "'", w) for w in words if w.lower() not in {"note", "notes"}]
    if all(c in CURRENCY_SIGNS or c in {"USD", "EUR", "GBP", "AUD", "CAD", "CNY"} for c in cells):
        return 1.0, "units"
    if not cells:
        return None
    if all(
        re.fullmatch(r"(?:US|A|C|NZ)?[$€£]\s?'?000(?:'?s)?|'000s?|(?:USD|EUR|GBP|AUD)'?000", c)
        for c in cells
    ):
        return 1e3, "thousands"
    if all(
        re.fullmatch(r"(?:US|A|C|NZ)?[$€£]\s?'?m|(?:USD|EUR|GBP|AUD)\s?m", c, re.I) for c in cells
    ):
        return 1e6, "millions"
    return None


def detect_currency(heading: str, language: str, body: str = "") -> str:
    """ISO code named in the heading (else in the body sample); '' when none is named."""
    for text in (heading, body):
        if not text:
            continue
        for code, rx in _CURRENCIES:
            if rx.search(text):
                return code
    if language == "zh":
        return "CNY"
    return ""
