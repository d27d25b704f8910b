"""The chat service the UI, the CLI and the evaluation talk to: a conversation's history, the
sidebar filters, and one answer stream (typed events, :mod:`backend.answering.events`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from backend.answering.answer import Answer
from backend.answering.events import Event, final_answer
from backend.answering.retrieval import Retriever


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
    """Routes a question to the agent (default) or the plain RAG engine."""

    def __init__(self, retriever: Retriever, agent: Any, rag: Any) -> None:
        self._retriever = retriever
        self._engines = {"agent": agent, "rag": rag}

    def stream(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        mode: str = "agent",
    ) -> Iterator[Event]:
        filters = filters or Filters()
        doc_filter: list[str] | None = list(filters.doc_ids) or None
        if filters.company and not doc_filter:
            doc_filter = self._retriever.company_index().companies_in(filters.company) or None
        # follow-ups are resolved against the previous *stand-alone* questions
        past = [t.answer.standalone_question or t.question for t in history]
        yield from self._engines[mode].stream(
            question, history=past, doc_filter=doc_filter, year_filter=filters.year
        )

    def ask(self, question: str, **kwargs: Any) -> Answer:
        return final_answer(self.stream(question, **kwargs))
