"""What every answering engine does first: plan the question (follow-ups, companies, years,
documents), open its :class:`Answer` record, and refuse at once when it names a company that is not
indexed. :class:`Engine` subclasses (the agent, plain RAG) only write :meth:`Engine.answer`."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence

from backend.answering.answer import Answer, answer_absence, refusal_text
from backend.answering.events import Event, Final
from backend.answering.plan import QueryPlan
from backend.answering.retrieval import Retriever
from backend.errors import InvalidQuestion

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_question(question: str) -> str:
    """The question without control characters (tabs and newlines become spaces), stripped;
    :class:`InvalidQuestion` when nothing is left."""
    text = _CONTROL.sub(" ", str(question or "")).replace("\t", " ").replace("\n", " ").strip()
    if not text:
        raise InvalidQuestion()
    return text


def refusal_reason(plan: QueryPlan) -> str:
    """Why a planned question is refused before any search ("" when it is not): the company
    asked about is not indexed, or no indexed report covers any year it asks about. The few-shot
    generator applies the same rule (ingestion.fewshot.appview)."""
    if plan.unknown_company:
        return "the company is not indexed"
    if plan.years and len(plan.uncovered) == len(plan.years):
        return f"no indexed report covers {', '.join(map(str, plan.uncovered))}"
    return ""


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
        """Status and token events, then the :class:`Final` answer. Every question enters
        here: control characters (NUL …) are removed, and one with no text left is refused with
        :class:`InvalidQuestion` before any search or model call."""
        question = clean_question(question)
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
        if reason := refusal_reason(plan):
            answer.answer, answer.refused, answer.route = (
                refusal_text(plan.language),
                True,
                "refused",
            )
            answer.trace.append({"step": "refuse", "reason": reason})
            answer.timings = {"total_s": round(time.perf_counter() - t0, 3), "prompt_tokens": 0}
            answer.timings["first_token_s"] = answer.timings["total_s"]
            yield Final(answer)
            return
        faults = self.retriever.faults
        for event in self.answer(plan, answer, t0):
            if isinstance(event, Final) and answer.refused and plan.if_absent and plan.doc_ids:
                # only where the reports searched are the ones asked about (a company named or
                # reports selected): an absence across everything indexed says nothing
                answer_absence(answer, plan.if_absent, plan.language)
            if isinstance(event, Final) and self.retriever.faults != faults:
                # vector search failed during this answer: keyword results only, and it says so
                answer.degraded = self.retriever.degraded or "vector search failed"
                answer.trace.append({"step": "degraded", "reason": answer.degraded})
            yield event

    def answer(self, plan: QueryPlan, answer: Answer, t0: float) -> Iterator[Event]:
        """Answer a planned question (ends with :class:`Final`)."""
        raise NotImplementedError
