"""The chat service the UI, the CLI, the HTTP API and the evaluation talk to: a conversation's
history, the sidebar filters, and one answer stream (typed events,
:mod:`backend.answering.events`).

Filters restrict the documents searched AND name what the question is about: documents of one
company make that company the plan's company (so "What was the revenue?" takes the facts route),
and the year filter is the plan's year when the question names none. A question the filters
exclude (it names another company, or a year no selected report covers) is answered with that
fact, not with "not found in the indexed reports".
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from backend.answering.answer import Answer
from backend.answering.events import Event, Final, final_answer
from backend.answering.plan import QueryPlan
from backend.answering.retrieval import Retriever
from backend.domain.companies import company_key


@dataclass
class Filters:
    """Sidebar filters: restrict answers to some documents, a company or a fiscal year."""

    doc_ids: list[str] = field(default_factory=list)
    company: str = ""
    year: int | None = None

    @property
    def active(self) -> bool:
        return bool(self.doc_ids or self.company or self.year)

    def describe(self, language: str) -> str:
        parts = [self.company] if self.company else []
        if self.year:
            parts.append(f"{self.year}年" if language == "zh" else f"FY{self.year}")
        if self.doc_ids:
            n = len(self.doc_ids)
            parts.append(f"{n} 份文档" if language == "zh" else f"{n} document(s)")
        return ", ".join(parts)


@dataclass
class Turn:
    question: str
    answer: Answer


_EXCLUDED = {
    "en": "Your filters ({filters}) exclude this question: it asks about {what}. Change or clear "
    "the filters in the sidebar to ask about it.",
    "zh": "当前筛选条件（{filters}）排除了这个问题：它问的是{what}。请在侧边栏更改或清除筛选条件后再问。",
}
_NO_MATCH = {
    "en": "No indexed report matches the filters ({filters}). Change or clear the filters in the "
    "sidebar.",
    "zh": "没有已索引的报告符合当前筛选条件（{filters}）。请在侧边栏更改或清除筛选条件。",
}


class ChatService:
    """Routes a question to the agent (default) or the plain RAG engine."""

    def __init__(self, retriever: Retriever, agent: Any, rag: Any) -> None:
        self._retriever = retriever
        self._engines = {"agent": agent, "rag": rag}

    def allowed_docs(self, filters: Filters) -> list[str] | None:
        """The complete documents the filters select (None: no filter, search everything)."""
        if not filters.active:
            return None
        wanted = company_key(filters.company) if filters.company else ""
        out = []
        for doc in self._retriever.company_index().docs.values():
            names = {company_key(n) for n in [doc.company, *doc.aliases] if n}
            if filters.doc_ids and doc.doc_id not in filters.doc_ids:
                continue
            if wanted and wanted not in names:
                continue
            if filters.year and doc.fiscal_year != filters.year:
                continue
            out.append(doc.doc_id)
        return sorted(out)

    def stream(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        mode: str = "agent",
    ) -> Iterator[Event]:
        filters = filters or Filters()
        allowed = self.allowed_docs(filters)
        # follow-ups are resolved against the previous *stand-alone* questions
        past = [t.answer.standalone_question or t.question for t in history]
        if allowed is not None:
            plan = self._retriever.plan(
                question, history=past, doc_filter=allowed or ["-"], year_filter=filters.year
            )
            if not allowed or plan.excluded:
                yield Final(self._excluded(question, plan, filters, bool(allowed)))
                return
        yield from self._engines[mode].stream(
            question, history=past, doc_filter=allowed, year_filter=filters.year
        )

    def _excluded(self, question: str, plan: QueryPlan, filters: Filters, any_doc: bool) -> Answer:
        """The answer to a question the filters exclude: it says so and how to fix it."""
        t0 = time.perf_counter()
        lang = plan.language
        if not any_doc:
            text = _NO_MATCH[lang].format(filters=filters.describe(lang))
        else:
            index = self._retriever.company_index()
            named = index.company_label(plan.company_docs) if plan.excluded == "company" else []
            what = ", ".join(named) or ", ".join(
                (f"{y}年" if lang == "zh" else f"FY{y}") for y in plan.years
            )
            text = _EXCLUDED[lang].format(filters=filters.describe(lang), what=what)
        answer = Answer(question=question, answer=text, refused=True, mode="filters")
        answer.standalone_question = plan.question
        answer.trace.append(
            {"step": "refuse", "reason": "filters", "excluded": plan.excluded or "everything"}
        )
        answer.timings = {"total_s": round(time.perf_counter() - t0, 3)}
        return answer

    def ask(self, question: str, **kwargs: Any) -> Answer:
        return final_answer(self.stream(question, **kwargs))
