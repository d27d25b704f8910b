"""The plain RAG path: question → retrieval → one model call over numbered sources → a checked,
cited answer (streamed). The evaluation compares the agent with it (``--mode agent,rag``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from backend.answering.answer import Answer, finish_answer, refusal_text
from backend.answering.engine import Engine
from backend.answering.events import Event, Final, Status, Token
from backend.answering.plan import QueryPlan
from backend.answering.prompts import rag_messages
from backend.answering.retrieval import Retriever, nothing_relevant


class RagEngine(Engine):
    """Question → retrieval → one LLM call with sources → cited answer (streamed)."""

    mode = "rag"

    def __init__(
        self, retriever: Retriever, llm_provider: Any, *, top_k: int, max_tokens: int
    ) -> None:
        super().__init__(retriever)
        self.llm_provider = llm_provider
        self.top_k = top_k
        self.max_tokens = max_tokens

    def answer(self, plan: QueryPlan, answer: Answer, t0: float) -> Iterator[Event]:
        """One model call over the retrieved passages."""
        yield Status("search")
        timings: dict[str, float] = {}
        passages = self.retriever.search(
            plan.question, doc_ids=plan.doc_ids, k=self.top_k, timings=timings
        )
        answer.retrieved = passages
        answer.trace.append(
            {
                "step": "search",
                "query": plan.question,
                "results": [f"{p.file_name} p.{p.page}" for p in passages],
            }
        )
        t1 = time.perf_counter()
        if nothing_relevant(plan.question, passages, self.retriever.names_of(plan)):
            answer.answer, answer.refused = refusal_text(plan.language), True
            answer.route = "refused"
            answer.trace.append({"step": "refuse", "reason": "nothing relevant retrieved"})
            answer.timings = {"total_s": round(t1 - t0, 3), "first_token_s": round(t1 - t0, 3)}
            yield Final(answer)
            return
        llm = self.llm_provider.get()
        answer.model, answer.route = llm.info.label(), "model"
        yield Status("read")
        raw = []
        first = None
        messages = rag_messages(plan.question, passages, few_shot=llm.info.few_shot)
        prompt_tokens = llm.count_prompt(messages)
        for piece in llm.stream(messages, max_tokens=self.max_tokens):
            if first is None:
                first = time.perf_counter()
            raw.append(piece)
            yield Token(piece)
        t2 = time.perf_counter()
        finish_answer(answer, "".join(raw), passages, language=plan.language)
        answer.timings = {
            **timings,
            "retrieval_s": round(t1 - t0, 3),
            "prompt_tokens": prompt_tokens,
            "first_token_s": round((first or t2) - t0, 3),
            "generation_s": round(t2 - t1, 3),
            "total_s": round(t2 - t0, 3),
        }
        yield Final(answer)
