"""The user-facing side of an item: what Annalyst itself would show, computed with the app's own
public functions (no model involved).

- :meth:`AppView.facts_route` plans the question and applies the agent's routing rule
  (:func:`backend.answering.route.takes_facts_route`): when the facts route answers (lookups,
  metrics, comparisons with a named company), the answer text and tool calls are recorded; when the
  question would need the model, that is recorded instead (the training item then teaches exactly
  that model step).
- :meth:`AppView.calc_answer` writes the answer the agent writes after a model-planned
  ``calculate`` call (:func:`backend.answering.planner.calc_answer`), which also re-checks that
  every operand of the expression is printed in a source; ``None`` means the app would reject it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from backend.answering.agent import Agent
from backend.answering.answer import Answer, refusal_text
from backend.answering.engine import refusal_reason
from backend.answering.facts_route import FactsRoute
from backend.answering.planner import calc_answer
from backend.answering.prompts import PLANNER_TOOLS, tool_descriptions
from backend.answering.retrieval import Passage, Retriever
from backend.answering.route import analyse, calculation_route, takes_facts_route
from backend.answering.tools import Toolbox, ToolScope

log = logging.getLogger(__name__)


class AppView:
    def __init__(self, retriever: Retriever, facts: Any | None, *, top_k: int) -> None:
        self.retriever = retriever
        self.facts = facts
        self.top_k = top_k
        self._agent = Agent(retriever, facts, llm_provider=None, top_k=top_k)

    def tool_text(self) -> str:
        """The tool descriptions of the planner prompt, exactly as the agent builds them."""
        box = self.toolbox(None)
        return tool_descriptions(box.langchain_tools(), PLANNER_TOOLS)

    def toolbox(self, doc_ids: Sequence[str] | None) -> Toolbox:
        return Toolbox(
            self.retriever,
            self.facts,
            ToolScope(doc_ids=list(doc_ids) if doc_ids else None, top_k=self.top_k),
        )

    def facts_route(self, question: str) -> dict[str, Any]:
        """{"route": "facts", "answer", "tool_calls"} when the agent answers without a model,
        {"route": "model"} when it would go on (to a table row, or to search and the model),
        {"route": "refused"} when it refuses at once (company not indexed, no report for the year:
        the engine's :func:`refusal_reason`), {"route": "unavailable"} without a facts store."""
        if self.facts is None:
            return {"route": "unavailable"}
        plan = self.retriever.plan(question)
        if refusal_reason(plan):
            return {"route": "refused", "answer": refusal_text(plan.language)}
        route = analyse(plan.question)
        if not takes_facts_route(plan, route):
            return {"route": "model"}
        box = self._agent.toolbox(plan)
        answer = Answer(question=question, answer="", mode="agent")
        try:
            done = FactsRoute(box).answer(plan, route, answer)
        except Exception as err:  # noqa: BLE001 - recorded, never fatal for generation
            log.warning("facts route failed on %r: %s", question, err)
            return {"route": "error", "error": f"{type(err).__name__}: {err}"}
        if not done:
            return {"route": "model"}
        calls = [{"tool": c.tool, "args": c.args, "by": "app"} for c in box.calls]
        return {"route": "facts", "answer": answer.answer, "tool_calls": calls}

    def calc_answer(
        self, question: str, passages: Sequence[Passage], expression: str, value: float
    ) -> str | None:
        """The agent's answer after a model-planned calculation over ``passages``."""
        plan = self.retriever.plan(question)
        answer = Answer(question=question, answer="")
        result = {"expression": expression, "value": value}
        ok = calc_answer(plan, calculation_route(question), answer, result, list(passages))
        return answer.answer if ok else None
