"""Model-facing rendering: the exact chat messages the model sees at serving time.

Every training item is built with the app's own prompt builders, so fine-tuning teaches what the
model is later asked:

- answers: :func:`backend.answering.prompts.rag_messages` without the few-shot examples (a tuned
  model does without them) over the evidence the agent selects (:func:`product_view`: the
  matching lines of the passages, :func:`backend.answering.evidence.select`); the assistant turn
  cites sources as ``[n]`` (Annalyst maps them to ``[file p.N]`` itself) or is exactly the refusal
  sentence;
- tool calls: :func:`backend.answering.prompts.planner_messages` with the planner's tool
  descriptions (:func:`backend.answering.prompts.tool_descriptions`); the assistant turn
  is one JSON object such as ``{"tool": "calculate", "args": {"expression": "…"}}``.

The user-facing rendering (``[file p.N]`` citations, the answer text the app writes after a
calculation) is kept in the item's provenance.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from backend.answering.answer import resolve_citations
from backend.answering.evidence import select, vet
from backend.answering.plan import years_in
from backend.answering.prompts import planner_messages, rag_messages
from backend.answering.retrieval import Passage
from backend.answering.route import analyse
from backend.answering.tools import compact

_CITE = re.compile(r"\[(\d+(?:\s*[,，]\s*\d+)*)\]")


def tool_json(call: dict[str, Any]) -> str:
    """A planner reply exactly as the grammar makes the model write it."""
    out: dict[str, Any] = {"tool": call["tool"]}
    if call.get("args"):
        out["args"] = call["args"]
    return json.dumps(out, ensure_ascii=False)


def answer_messages(
    question: str, passages: Sequence[Passage], output: str
) -> list[dict[str, str]]:
    """rag_messages(question, passages), without few-shot examples, + the assistant's answer; a
    question that asks why or to describe gets the serving prompt's request for two to four
    cited sentences."""
    explain = analyse(question).narrative
    return [
        *rag_messages(question, passages, few_shot=False, explain=explain),
        {"role": "assistant", "content": output},
    ]


def plan_messages(
    question: str,
    passages: Sequence[Passage],
    tool_text: str,
    steps: Sequence[str],
    call: dict[str, Any],
) -> list[dict[str, str]]:
    """planner_messages(question, passages, tool_text, steps) + the assistant's JSON tool call."""
    return [
        *planner_messages(question, passages, tool_text, steps),
        {"role": "assistant", "content": tool_json(call)},
    ]


def search_step(args: dict[str, Any], results: Sequence[Passage], known: Sequence[Passage]) -> str:
    """The 'Steps so far' line the agent writes after a model-chosen search_reports call.

    ``known`` are the passages the toolbox held after the call (numbering of ``source``)."""
    ids = [p.chunk_id for p in known]
    rows = [
        {
            "source": ids.index(p.chunk_id) + 1 if p.chunk_id in ids else 0,
            "file": p.file_name,
            "page": p.page,
            "text": p.text[:600],
        }
        for p in results
    ]
    return f"search_reports({compact(args, 200)}) → {compact(rows, 600)}"


def cited_numbers(output: str) -> list[int]:
    """Source numbers cited as [n] / [n, m] in a model answer, in order, without repeats."""
    out: list[int] = []
    for m in _CITE.finditer(output):
        for part in re.split(r"\s*[,，]\s*", m.group(1)):
            n = int(part)
            if n not in out:
                out.append(n)
    return out


def renumber(output: str, mapping: dict[int, int]) -> str:
    """Rewrite [n] citations with ``mapping`` (source numbers of a different passage list)."""

    def sub(m: re.Match[str]) -> str:
        parts = [str(mapping.get(int(p), int(p))) for p in re.split(r"\s*[,，]\s*", m.group(1))]
        return "[" + ", ".join(parts) + "]"

    return _CITE.sub(sub, output)


_STEPS = re.compile(r"\n\nSteps so far: (.*)\Z", re.S)


def product_view(c: Any, tool_text: str, budget: int) -> str | None:
    """Rewrite candidate ``c`` to what the product shows the model: the evidence the agent selects
    from its passages (at most ``budget`` tokens), the output's [n] renumbered to it. Returns why
    it cannot be (None when rewritten): a source the answer cites is not in that evidence, or the
    answer fails the product's own sentence check (:func:`backend.answering.evidence.vet`) — such
    an item would teach answering from text the model never sees."""
    shown = select(c.question, c.passages, years=years_in(c.question), budget=budget)
    if c.fmt == "answer":
        where = {p.chunk_id: i for i, p in enumerate(shown, start=1)}
        mapping = {}
        for n in cited_numbers(c.output):
            if not 1 <= n <= len(c.passages) or c.passages[n - 1].chunk_id not in where:
                return "a cited source is not in the selected evidence"
            mapping[n] = where[c.passages[n - 1].chunk_id]
        output = renumber(c.output, mapping)
        checked = vet(output, shown, c.question, years_in(c.question))
        if mapping and checked.dropped:
            return "the product's sentence check drops: " + checked.dropped[0]["reason"]
        c.messages = answer_messages(c.question, shown, output)
    else:
        m = _STEPS.search(c.messages[-2]["content"])
        steps = [] if not m or m.group(1) == "none" else m.group(1).split("\n")
        c.messages = plan_messages(c.question, shown, tool_text, steps, json.loads(c.output))
    c.passages = shown
    return None


def user_answer(output: str, passages: Sequence[Passage]) -> str:
    """What the app shows for a model answer: [n] mapped to [file p.N]."""
    return resolve_citations(output, passages)[0]
