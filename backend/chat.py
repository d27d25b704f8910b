"""The chat service the UI and the CLI talk to: a conversation, filters, and one answer stream.

``ChatService.stream`` yields events:

* ``{"type": "status", "text": ...}`` — what the agent is doing (searching, computing, …);
* ``{"type": "token", "text": ...}`` — answer text as it is generated;
* ``{"type": "answer", "answer": Answer}`` — the final, checked answer with citations and trace.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from backend.answer import Answer
from backend.llm import ModelInfo


@dataclass
class Filters:
    """Sidebar filters: restrict answers to some documents, a company or a fiscal year."""

    doc_ids: list[str] = field(default_factory=list)
    company: str = ""
    year: int | None = None


@dataclass
class Turn:
    question: str
    answer: Answer


class ChatService:
    def __init__(self, services: Any) -> None:
        self._services = services

    def model_info(self) -> ModelInfo:
        return self._services.llm.info()

    def documents(self) -> list[Any]:
        return self._services.catalog.documents()

    def stream(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        mode: str = "agent",
    ) -> Iterator[dict[str, Any]]:
        filters = filters or Filters()
        doc_filter: list[str] | None = list(filters.doc_ids) or None
        if filters.company and not doc_filter:
            index = self._services.retriever.company_index()
            doc_filter = index.companies_in(filters.company) or None
        # follow-ups are resolved against the previous *stand-alone* questions
        past = [t.answer.standalone_question or t.question for t in history]
        engine = self._services.agent if mode == "agent" else self._services.rag
        yield from engine.stream(
            question, history=past, doc_filter=doc_filter, year_filter=filters.year
        )

    def ask(self, question: str, **kwargs: Any) -> Answer:
        answer = None
        for event in self.stream(question, **kwargs):
            if event["type"] == "answer":
                answer = event["answer"]
        assert answer is not None
        return answer
