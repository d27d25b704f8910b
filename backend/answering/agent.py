"""The agent: tools produce the numbers, the model routes and phrases.

One explicit loop per question, small enough to read:

1. Plan (deterministic, :mod:`.plan`): rewrite a follow-up into a stand-alone question; find the
   companies, years and documents it is about; refuse at once when it names a company that is not
   indexed.
2. Route (deterministic, :mod:`.route`): when the question names a company and a statement item or
   a known metric, the facts route (:mod:`.facts_route`) answers with ``get_fact`` and
   ``calculate`` and no model — the answer shows the formula and every input with its page.
3. Search: ``search_reports``; nothing relevant → "not found in the indexed reports". When the
   question asks for a computation, the model plans tool calls under a JSON-schema grammar
   (:mod:`.planner`); a checked calculation answers.
4. Write: otherwise the model writes the answer from the numbered passages (streamed); numbers are
   checked against the cited evidence and an answer whose number is on no cited page is withheld.

Every tool call, with arguments and results, goes into ``Answer.trace`` (the audit trail).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from backend.answering.answer import Answer, finish_answer, refusal_text, withhold_unverified
from backend.answering.engine import Engine
from backend.answering.events import Event, Final, Status, Token
from backend.answering.facts_route import FactsRoute
from backend.answering.plan import QueryPlan
from backend.answering.planner import plan_calculation
from backend.answering.prompts import rag_messages
from backend.answering.retrieval import Retriever, evidence_coverage, nothing_relevant
from backend.answering.route import analyse, takes_facts_route
from backend.answering.table_route import TableRoute
from backend.answering.tools import Toolbox, ToolScope


class Agent(Engine):
    mode = "agent"

    def __init__(
        self,
        retriever: Retriever,
        facts: Any,
        llm_provider: Any,
        *,
        top_k: int = 5,
        max_tokens: int = 320,
        max_steps: int = 3,
        tables: Any = None,
    ) -> None:
        super().__init__(retriever)
        self.facts = facts
        self.tables = tables
        self.llm_provider = llm_provider
        self.top_k = top_k
        self.max_tokens = max_tokens
        self.max_steps = max_steps

    def toolbox(self, plan: QueryPlan) -> Toolbox:
        """The tools of one question, scoped to its documents, companies and years."""
        scope = ToolScope(
            doc_ids=plan.doc_ids, companies=plan.companies, years=plan.years, top_k=self.top_k
        )
        return Toolbox(self.retriever, self.facts, scope, self.tables)

    def answer(self, plan: QueryPlan, answer: Answer, t0: float) -> Iterator[Event]:
        """Route, then the facts route, or search → plan a calculation → write."""
        route = analyse(plan.question)
        toolbox = self.toolbox(plan)
        answer.trace.append(route.to_trace())
        if takes_facts_route(plan, route):
            yield Status("facts")
            if FactsRoute(toolbox).answer(plan, route, answer):
                yield from self._done(answer, toolbox, t0, show=True)
                return
        if not route.narrative:
            yield Status("tables")
            if TableRoute(toolbox).answer(plan, route, answer):
                yield from self._done(answer, toolbox, t0, show=True)
                return
        yield Status("search")
        toolbox.call("search_reports", {"query": plan.question})
        if self._refuse_irrelevant(plan, answer, toolbox):
            yield from self._done(answer, toolbox, t0)
            return
        llm = self.llm_provider.get()
        answer.model = llm.info.label()
        visible = self.top_k + 2
        if route.compute:
            yield Status("plan")
            if plan_calculation(
                plan, route, toolbox, answer, llm, max_steps=self.max_steps, visible=visible
            ):
                yield from self._done(answer, toolbox, t0, show=True)
                return
        yield Status("write")
        yield from self._write(plan, answer, toolbox, llm, visible)
        yield from self._done(answer, toolbox, t0)

    # -- steps --------------------------------------------------------------------------------
    def _refuse_irrelevant(self, plan: QueryPlan, answer: Answer, toolbox: Toolbox) -> bool:
        """Refuse when no retrieved passage mentions the question's content terms."""
        passages = list(toolbox.passages)
        names = self.retriever.names_of(plan)
        if not nothing_relevant(plan.question, passages, names):
            return False
        terms, found = evidence_coverage(plan.question, passages, names)
        answer.answer, answer.refused = refusal_text(plan.language), True
        answer.trace.append(
            {
                "step": "refuse",
                "reason": "no retrieved passage mentions the question's terms",
                "terms": terms,
                "found": found,
            }
        )
        answer.retrieved = passages
        return True

    def _write(
        self, plan: QueryPlan, answer: Answer, toolbox: Toolbox, llm: Any, visible: int
    ) -> Iterator[Event]:
        """The model writes the answer from the passages (streamed), then it is checked."""
        passages = toolbox.passages[:visible]
        t_gen = time.perf_counter()
        first = None
        pieces: list[str] = []
        for piece in llm.stream(rag_messages(plan.question, passages), max_tokens=self.max_tokens):
            first = first or time.perf_counter()
            pieces.append(piece)
            yield Token(piece)
        finish_answer(answer, "".join(pieces), passages, language=plan.language)
        withhold_unverified(answer, plan.language)
        answer.retrieved = passages
        answer.timings["first_token_s"] = round((first or time.perf_counter()) - t_gen, 3)

    @staticmethod
    def _done(
        answer: Answer, toolbox: Toolbox, t0: float, *, show: bool = False
    ) -> Iterator[Event]:
        """Record the tool calls and the time; ``show`` streams an answer written without the
        model as one token event."""
        for call in toolbox.calls:
            answer.trace.append({"step": "tool", **call.to_dict()})
        if not answer.retrieved:
            answer.retrieved = list(toolbox.passages)
        answer.timings["total_s"] = round(time.perf_counter() - t0, 3)
        if show:
            yield Token(answer.answer)
        yield Final(answer)
