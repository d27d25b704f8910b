"""What an answer stream yields, as typed records (the UI, the CLI and the evaluation read them).

* :class:`Status` — what the agent is doing now (``stage``: a key the UI translates);
* :class:`Evidence` — the best row or sentence found, with its page, shown while the model writes;
* :class:`Token` — answer text as it is generated;
* :class:`Final` — the checked answer with its citations and trace; always the last event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from backend.answering.answer import Answer

Stage = Literal["facts", "tables", "search", "plan", "write", "read"]


@dataclass(frozen=True)
class Status:
    stage: Stage


@dataclass(frozen=True)
class Evidence:
    """The best evidence found for the question (a table row or a sentence, as plain text) and
    where it is printed — shown at once, before the model's first word."""

    text: str
    doc_id: str
    file_name: str
    page: int


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class Final:
    answer: Answer


Event = Status | Evidence | Token | Final


def final_answer(events: object) -> Answer:
    """Consume an event stream and return its :class:`Final` answer."""
    answer = None
    for event in events:  # type: ignore[attr-defined]
        if isinstance(event, Final):
            answer = event.answer
    if answer is None:  # pragma: no cover - every stream ends with Final
        raise RuntimeError("the answer stream ended without an answer")
    return answer
