"""Small text helpers every layer uses: is a text Chinese, and rewriting to a fixed point."""

from __future__ import annotations

import re
from collections.abc import Callable

#: a CJK unified ideograph (the test for "Chinese text" across the project)
CJK = re.compile(r"[\u4e00-\u9fff]")


def has_cjk(text: str) -> bool:
    """Does ``text`` hold a Chinese character?"""
    return bool(CJK.search(text))


def fixed_point(step: Callable[[str], str], text: str) -> str:
    """``step`` applied until the text stops changing ("X Holdings, Inc." loses both forms)."""
    prev = None
    while prev != text:
        prev, text = text, step(text)
    return text
