"""The user-facing side of an item: what Annalyst itself would show, computed with the app's own
code (no model involved).

- :meth:`AppView.facts_route` runs the agent's deterministic first steps on the question: when
  its facts route answers (lookups, metrics, comparisons with a named company), the answer text
  and tool calls are recorded; when the question would need the model, that is recorded instead
  (the training item then teaches exactly that model step).
- :meth:`AppView.calc_answer` writes the answer the agent writes after a model-planned
  ``calculate`` call (``Agent._calc_answer``), which also re-checks that every operand of the
  expression is printed in a source; ``None`` means the app would reject the calculation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from backend.agent import Agent, Route, requested_decimals
from backend.answer import Answer, refusal_text
from backend.retrieval import Passage, Retriever
from backend.tools import Toolbox, ToolScope, tool_descriptions
from ingestion.fewshot.render import PLANNER_TOOLS

log = logging.getLogger(__name__)


class ModelNeeded(RuntimeError):
    """Raised instead of loading a model: the question left the deterministic routes."""


class _NoModel:
    def get(self) -> Any:
        raise ModelNeeded("the question needs the model")

    def info(self) -> Any:  # pragma: no cover - not called by the agent
        raise ModelNeeded("the question needs the model")


class AppView:
    def __init__(self, retriever: Retriever, facts: Any | None, *, top_k: int) -> None:
        self.retriever = retriever
        self.facts = facts
        self.top_k = top_k
        self._agent = (
            Agent(retriever, facts, _NoModel(), top_k=top_k) if facts is not None else None
        )

    def tool_text(self) -> str:
        """The tool descriptions of the planner prompt, exactly as the agent builds them."""
        box = Toolbox(self.retriever, self.facts, ToolScope(doc_ids=None, top_k=self.top_k))
        return tool_descriptions(box.langchain_tools(), list(PLANNER_TOOLS))

    def toolbox(self, doc_ids: Sequence[str] | None) -> Toolbox:
        return Toolbox(
            self.retriever,
            self.facts,
            ToolScope(doc_ids=list(doc_ids) if doc_ids else None, top_k=self.top_k),
        )

    def facts_route(self, question: str) -> dict[str, Any]:
        """{"route": "facts", "answer", "tool_calls"} when the agent answers without a model
        (its deterministic facts route), {"route": "model"} when it would go on to search and ask
        the model, {"route": "refused"} when it refuses at once (company not indexed),
        {"route": "unavailable"} without a facts store. Runs the first steps of
        ``Agent.stream`` (plan → route → facts route) without the search that would follow."""
        agent = self._agent
        if agent is None:
            return {"route": "unavailable"}
        plan = self.retriever.plan(question)
        if plan.unknown_company:
            return {"route": "refused", "answer": refusal_text(plan.language)}
        route = agent._route(plan.question)
        if not (plan.companies and (route.items or route.metric)):
            return {"route": "model"}
        box = Toolbox(
            self.retriever,
            self.facts,
            ToolScope(
                doc_ids=plan.doc_ids, companies=plan.companies, years=plan.years, top_k=self.top_k
            ),
        )
        answer = Answer(question=question, answer="", mode="agent")
        try:
            done = agent._facts_route(plan, route, box, answer)
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
        if self._agent is None:
            agent = Agent(self.retriever, None, _NoModel(), top_k=self.top_k)
        else:
            agent = self._agent
        plan = self.retriever.plan(question)
        route = Route(
            items=[],
            metric=None,
            scope="consolidated",
            compute=True,
            change=False,
            average=False,
            compare=False,
            decimals=requested_decimals(question),
        )
        box = self.toolbox(plan.doc_ids)
        box.passages = list(passages)
        answer = Answer(question=question, answer="")
        ok = agent._calc_answer(
            plan, route, box, answer, {"expression": expression, "value": value}
        )
        return answer.answer if ok else None
