"""The parts of a question, so that none is dropped silently.

"What was the gross margin in 2018 and how did it change from 2017?" asks two things; a small
model often answers the first and stops. :func:`parts` cuts a question at its question marks and
at a conjunction that starts a new question ("… and how …", "…，并说明…"); :func:`unanswered`
names the parts an answer does not touch (none of the words or years only that part has), and the
agent says of each that it was not found.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from backend.answering.evidence import question_terms
from backend.domain.text import YEAR

_CUT = re.compile(
    r"(?<=[?？；;])\s*|"
    r",?\s+\band\s+(?=(?:what|how|why|which|when|where|who|did|does|do|is|was|were|are|has|"
    r"have)\b)|"
    r"[，,]\s*(?:并且?|以及|同时|另外|还有)?(?=(?:请)?(?:说明|分析|比较|列出|指出|解释)|"
    r"(?:与|和|较)\S{0,12}(?:相比|比较)|(?:是否|为什么|有何|有什么|如何|怎样|呈现))",
    re.I,
)
#: A part that asks about a change is answered by any word of change.
_ASKS_CHANGE = re.compile(
    r"chang|trend|increas|decreas|grow|grew|declin|变化|趋势|增长|下降|增减|变动", re.I
)
_SAYS_CHANGE = re.compile(
    r"increas|decreas|grow|grew|declin|rose|fell|drop|up |down |higher|lower|unchanged|flat|"
    r"上升|下降|增长|增加|减少|下滑|提高|降低|持平|不变|逐年",
    re.I,
)


def parts(question: str) -> list[str]:
    """The separate asks of ``question`` (one item when it asks one thing)."""
    pieces = [p.strip(" ,，。.") for p in _CUT.split(question)]
    return [p for p in pieces if len(p) >= 4] or [question]


def _marks(text: str, names: Sequence[str]) -> set[str]:
    return question_terms(text, names) | set(YEAR.findall(text))


def unanswered(question: str, answer: str, names: Sequence[str] = ()) -> list[str]:
    """The parts of ``question`` that ``answer`` leaves out: none of the words or years that only
    that part has appear in the answer. Empty for a one-part question."""
    asks = parts(question)
    if len(asks) < 2:
        return []
    said = _marks(answer, names)
    marks = [_marks(a, names) for a in asks]
    out = []
    for i, ask in enumerate(asks):
        own = marks[i] - set().union(*(m for j, m in enumerate(marks) if j != i))
        if not own or own & said:
            continue
        if _ASKS_CHANGE.search(ask) and _SAYS_CHANGE.search(answer):
            continue
        out.append(ask)
    return out


def not_found_note(missing: Sequence[str], language: str) -> str:
    """What the answer adds about the parts it could not answer."""
    if language == "zh":
        return "；".join(f"“{m}”：在已索引的报告中未找到。" for m in missing)
    return " ".join(f'"{m}": not found in the indexed reports.' for m in missing)
