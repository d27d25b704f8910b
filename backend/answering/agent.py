"""The agent: tools produce the numbers, the model routes and phrases.

One explicit loop per question, small enough to read:

1. Plan (deterministic, :mod:`.plan`): rewrite a follow-up into a stand-alone question; find the
   companies, years and documents it is about; refuse at once when it names a company that is not
   indexed.
2. Route (deterministic, :mod:`.route`): a field of a 年报's 公司信息 (公司网址, 股票代码,
   法定代表人 …) or of its auditor is read from the report (:mod:`.profile_route`); a question of
   several figures (items, years, companies, and their changes) is split into one-figure parts,
   each answered by the facts and table routes, and assembled into one table that names each part not found (:mod:`.decompose`);
   when no part is found it goes on as any question. When the question names a company and a
   statement item or a known metric, the facts route (:mod:`.facts_route`) answers with
   ``get_fact`` and ``calculate`` and no model — the answer shows the formula and every input
   with its page.
3. Search: ``search_reports``; nothing relevant → "not found in the indexed reports" at once.
   A figure the retrieved pages state in a sentence once per year ("… $244 million for 2016,
   $249 million for 2015 …") is answered from that sentence (:mod:`.prose_route`).
   The evidence is selected (:mod:`.evidence`): the table rows and the lines of the passages that
   match the question, with their table headers, under a token cap — and its best line is shown
   at once (:class:`~.events.Evidence`). When the question asks for a computation and planning
   is switched on (``planner_steps``; off by default: the bundled 1.5B planned few calculations
   right), the model plans tool calls under a JSON-schema grammar (:mod:`.planner`); a checked
   calculation answers.
4. Write: otherwise the model writes the answer from the numbered evidence (streamed). Each
   sentence is then checked against the source it cites (:func:`.evidence.vet`): a number must be
   printed beside the question's item, prose must share most of its words with the source; what
   fails is dropped and said so, and an answer left with nothing is the refusal.

Every tool call, with arguments and results, goes into ``Answer.trace`` (the audit trail).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from typing import Any

from backend.answering.answer import (
    Answer,
    finish_answer,
    refusal_text,
    withheld_note,
)
from backend.answering.assemble import Split
from backend.answering.decompose import Decomposer, split
from backend.answering.engine import Engine
from backend.answering.events import Event, Evidence, Final, Status, Token
from backend.answering.evidence import headline, key_numbers, select, sentences, vet
from backend.answering.facts_route import FactsRoute
from backend.answering.parts import not_found_note, unanswered
from backend.answering.plan import QueryPlan
from backend.answering.planner import plan_calculation
from backend.answering.profile_route import ProfileRoute
from backend.answering.prompts import rag_messages
from backend.answering.prose_route import ProseRoute
from backend.answering.retrieval import Passage, Retriever, evidence_coverage, nothing_relevant
from backend.answering.route import Route, analyse, takes_facts_route
from backend.answering.table_route import TableRoute
from backend.answering.tools import Toolbox, ToolScope, search_query
from backend.llm.clients import estimate_tokens


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
        max_steps: int = 0,
        tables: Any = None,
        evidence_tokens: int = 600,
    ) -> None:
        super().__init__(retriever)
        self.facts = facts
        self.tables = tables
        self.llm_provider = llm_provider
        self.top_k = top_k
        self.max_tokens = max_tokens
        self.max_steps = max_steps
        self.evidence_tokens = evidence_tokens

    def toolbox(self, plan: QueryPlan) -> Toolbox:
        """The tools of one question, scoped to its documents, companies and years."""
        scope = ToolScope(
            doc_ids=plan.doc_ids, companies=plan.companies, years=plan.years, top_k=self.top_k
        )
        return Toolbox(self.retriever, self.facts, scope, self.tables)

    def answer(self, plan: QueryPlan, answer: Answer, t0: float) -> Iterator[Event]:
        """Route, then the parts of a several-figure question, the facts route, or search → plan
        a calculation → write."""
        route = analyse(plan.question)
        toolbox = self.toolbox(plan)
        answer.trace.append(route.to_trace())
        parts = split(plan, route)
        if parts is not None and not parts.facts_first:
            if (yield from self._parts(plan, route, parts, answer, toolbox, t0)):
                return
        if ProfileRoute(toolbox).answer(plan, route, answer):  # 公司网址, 股票代码 … of a 年报
            answer.route = "profile"
            yield from self._done(answer, toolbox, t0, show=True)
            return
        if takes_facts_route(plan, route):
            yield Status("facts")
            if FactsRoute(toolbox).answer(plan, route, answer):
                answer.route = "facts"
                yield from self._done(answer, toolbox, t0, show=True)
                return
            if parts is not None and parts.facts_first:  # its parts, as many as are found
                if (yield from self._parts(plan, route, parts, answer, toolbox, t0)):
                    return
        if not route.narrative:
            yield Status("tables")
            if TableRoute(toolbox).answer(plan, route, answer):
                answer.route = "tables"
                yield from self._done(answer, toolbox, t0, show=True)
                return
        yield Status("search")
        toolbox.call("search_reports", {"query": search_query(plan.question)})
        if self._refuse_irrelevant(plan, answer, toolbox):
            answer.route = "refused"
            yield from self._done(answer, toolbox, t0)
            return
        if ProseRoute(toolbox).answer(plan, route, answer):  # a sentence's value per year
            answer.route = "prose"
            yield from self._done(answer, toolbox, t0, show=True)
            return
        names = self.retriever.names_of(plan)
        evidence = select(
            plan.question,
            toolbox.passages[: self.top_k + 2],
            [] if route.narrative else toolbox.rows,
            names=names,
            years=plan.years,
            budget=self.evidence_tokens,
            docs=toolbox.docs_by_id(),
        )
        answer.trace.append(
            {
                "step": "evidence",
                "sources": [
                    {"file": p.file_name, "page": p.page, "text": p.text} for p in evidence
                ],
                "tokens": sum(estimate_tokens(p.text) for p in evidence),
            }
        )
        best = headline(plan.question, evidence, names)
        if best is not None:  # shown while the model reads: the time it took is recorded
            answer.timings["evidence_s"] = round(time.perf_counter() - t0, 3)
            yield Evidence(best.text, best.doc_id, best.file_name, best.page)
        llm = self.llm_provider.get()
        answer.model = llm.info.label()
        if route.compute and self.max_steps:
            yield Status("plan")
            if plan_calculation(
                plan, route, toolbox, answer, llm, max_steps=self.max_steps, evidence=evidence
            ):
                answer.route = "calculation"
                yield from self._done(answer, toolbox, t0, show=True)
                return
        yield Status("write")
        answer.route = "model"
        yield from self._write(plan, answer, llm, evidence, t0, explain=route.narrative)
        yield from self._done(answer, toolbox, t0)

    # -- steps --------------------------------------------------------------------------------
    def _parts(
        self,
        plan: QueryPlan,
        route: Route,
        parts: Split,
        answer: Answer,
        toolbox: Toolbox,
        t0: float,
    ) -> Generator[Event, None, bool]:
        """Answer a several-figure question part by part; False when no part was found."""
        yield Status("facts")
        if not Decomposer(self.toolbox).answer(plan, route, parts, answer, toolbox):
            return False
        answer.route = "parts"
        yield from self._done(answer, toolbox, t0, show=True)
        return True

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
        self,
        plan: QueryPlan,
        answer: Answer,
        llm: Any,
        evidence: list[Passage],
        t0: float,
        *,
        explain: bool = False,
    ) -> Iterator[Event]:
        """The model writes the answer from the evidence (streamed), then each sentence is
        checked against its source; unsupported sentences are dropped and the answer says so."""
        messages = rag_messages(
            plan.question, evidence, few_shot=llm.info.few_shot, explain=explain
        )
        answer.timings["prompt_tokens"] = answer.timings.get("prompt_tokens", 0) + (
            llm.count_prompt(messages)
        )
        pieces: list[str] = []
        usage: dict[str, int] = {}
        for piece in llm.stream(messages, max_tokens=self.max_tokens, usage=usage):
            answer.timings.setdefault("first_token_s", round(time.perf_counter() - t0, 3))
            pieces.append(piece)
            yield Token(piece)
        answer.count_read(usage)
        raw = "".join(pieces).strip()
        checked = vet(raw, evidence, plan.question, plan.years)
        if checked.dropped:
            answer.trace.append(
                {"step": "dropped", "model_answer": raw, "sentences": checked.dropped}
            )
        finish_answer(answer, checked.text, evidence, language=plan.language)
        if answer.refused:
            return
        ocr = [c for c in answer.citations if c.page in self.retriever.catalog.ocr_pages(c.doc_id)]
        if ocr:  # a number read by OCR may be misread: shown, but marked unverified
            answer.unverified_numbers = [n.text for s in sentences(answer.answer)
                                         for n in key_numbers(s)]  # fmt: skip
            answer.trace.append(
                {"step": "ocr", "reason": "cited page read by OCR", "pages": [c.tag for c in ocr]}
            )
        notes = []
        if checked.dropped:
            notes.append(withheld_note(len(checked.dropped), plan.language))
        missing = unanswered(plan.question, answer.answer, self.retriever.names_of(plan))
        if missing:
            answer.trace.append({"step": "unanswered", "parts": missing})
            notes.append(not_found_note(missing, plan.language))
        answer.answer = " ".join([answer.answer, *notes])

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
        answer.timings.setdefault("first_token_s", answer.timings["total_s"])
        answer.timings.setdefault("prompt_tokens", 0)
        if show:
            yield Token(answer.answer)
        yield Final(answer)
