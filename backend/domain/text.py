"""Small text helpers every layer uses: is a text Chinese, a year as printed, a question's
conditional instructions set aside, and rewriting to a fixed point."""

from __future__ import annotations

import re
from collections.abc import Callable

#: a CJK unified ideograph (the test for "Chinese text" across the project)
CJK = re.compile(r"[\u4e00-\u9fff]")
#: a four-digit year 1900–2099 standing alone ("2018", "2019年"; not inside "120,187")
YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
#: A conditional instruction ("If gross margin is not a useful metric …, state that and explain
#: why."): what it asks is only asked when its condition holds. A conditional question ("If
#: revenue grew, why did the margin fall?") still asks.
_CONDITION = re.compile(
    r"(?:^|(?<=[.;?!。；？！]))\s*(?:if\b|如果|若)[^.;?!。；？！]*(?=[.;。；]|$)", re.I
)


def instructions_aside(question: str) -> str:
    """``question`` without its conditional instructions ("If data is not available, return
    'N/A'.", "If gross margin is not a useful metric for a company like this, then state that
    …"): what to do when, not what is asked."""
    return _CONDITION.sub(" ", question)


def has_cjk(text: str) -> bool:
    """Does ``text`` hold a Chinese character?"""
    return bool(CJK.search(text))


def fixed_point(step: Callable[[str], str], text: str) -> str:
    """``step`` applied until the text stops changing ("X Holdings, Inc." loses both forms)."""
    prev = None
    while prev != text:
        prev, text = text, step(text)
    return text
