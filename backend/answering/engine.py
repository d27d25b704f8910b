"""What every answering engine does first: plan the question (follow-ups, companies, years,
documents), open its :class:`Answer` record, and refuse at once when it names a company that is not
indexed. :class:`Engine` subclasses (the agent, plain RAG) only write :meth:`Engine.answer`."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from backend.answering.answer import Answer, refusal_text
from backend.answering.events import Event, Final
from backend.answering.plan import QueryPlan
from backend.answering.retrieval import Retriever


class Engine:
    """An answer stream for one question; ``mode`` names the engine in answers and predictions."""

    mode = ""

    def __init__(self, retriever: Retriever) -> None:
        self.retriever = retriever

    def stream(
        self,
        question: str,
        *,
        history: Sequence[str] = (),
        doc_filter: Sequence[str] | None = None,
        year_filter: int | None = None,
    ) -> Iterator[Event]:
        """Status and token events, then the :class:`Final` answer."""
        t0 = time.perf_counter()
        plan = self.retriever.plan(
            question, history=history, doc_filter=doc_filter, year_filter=year_filter
        )
        answer = Answer(
            question=question, answer="", mode=self.mode, standalone_question=plan.question
        )
        answer.trace.append(
            {
                "step": "plan",
                "standalone_question": plan.question,
                "companies": plan.companies,
                "years": plan.years,
                "documents": plan.doc_ids,
            }
        )
        if plan.unknown_company:
            answer.answer, answer.refused = refusal_text(plan.language), True
            answer.trace.append({"step": "refuse", "reason": "the company is not indexed"})
            answer.timings = {"total_s": round(time.perf_counter() - t0, 3)}
            yield Final(answer)
            return
        faults = self.retriever.faults
        for event in self.answer(plan, answer, t0):
            if isinstance(event, Final) and self.retriever.faults != faults:
                # vector search failed during this answer: keyword results only, and it says so
                answer.degraded = self.retriever.degraded or "vector search failed"
                answer.trace.append({"step": "degraded", "reason": answer.degraded})
            yield event

    def answer(self, plan: QueryPlan, answer: Answer, t0: float) -> Iterator[Event]:
        """Answer a planned question (ends with :class:`Final`)."""
        raise NotImplementedError
