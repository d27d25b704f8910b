"""Small text helpers every layer uses: is a text Chinese, a year as printed, and rewriting to a
fixed point."""

from __future__ import annotations

import re
from collections.abc import Callable

#: a CJK unified ideograph (the test for "Chinese text" across the project)
CJK = re.compile(r"[\u4e00-\u9fff]")
#: a four-digit year 1900–2099 standing alone ("2018", "2019年"; not inside "120,187")
YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")


def has_cjk(text: str) -> bool:
    """Does ``text`` hold a Chinese character?"""
    return bool(CJK.search(text))


def fixed_point(step: Callable[[str], str], text: str) -> str:
    """``step`` applied until the text stops changing ("X Holdings, Inc." loses both forms)."""
    prev = None
    while prev != text:
        prev, text = text, step(text)
    return text
