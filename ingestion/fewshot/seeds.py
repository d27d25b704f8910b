"""The hand-written seed set: a few standard-format examples written from real report pages.

``seeds.jsonl`` (next to this module), one example per line::

    {"id": "seed-en-01", "type": "lookup", "language": "en", "question": "...",
     "sources": [{"file", "page", "heading", "text"}, ...],    # verbatim report text, numbered [1]..
     "evidence": "...",                                         # narrative seeds: the quoted sentence
     "model": [{"step": "plan", "output": {"tool": ..., "args": {...}}, "search_results": [...]},
               {"step": "answer", "output": "... [1]."}],      # what the model writes, in order
     "app": {"route": "facts"|"search", "tool_calls": [{"tool", "args", "by": "app"|"model"}],
             "answer": "... [file p.N]."}}                      # what the user sees

``model`` is what the model produces at serving time: planner replies (JSON tool calls, with the
passages a model-chosen search added in ``search_results``) and the final answer citing sources as
``[n]``. ``app`` is the app's side: the tool calls it makes and the answer as displayed (facts
route, or the model's answer with ``[n]`` mapped to ``[file p.N]``, or the agent's calculation
answer). Seeds are the few-shot examples of the LLM generator and are themselves rendered into
training items with the same prompt builders as the generated ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backend.answering.retrieval import Passage
from backend.errors import AnnalystError
from backend.system import iter_jsonl
from ingestion.fewshot.items import TYPES, Candidate
from ingestion.fewshot.render import (
    answer_messages,
    cited_numbers,
    plan_messages,
    search_step,
)

SEEDS_PATH = Path(__file__).with_name("seeds.jsonl")


class SeedError(AnnalystError):
    """The seed file is malformed."""


def load_seeds(path: Path = SEEDS_PATH) -> list[dict[str, Any]]:
    seeds = []
    try:
        lines = list(iter_jsonl(path))
    except ValueError as err:
        raise SeedError(str(err)) from err
    for n, seed in lines:
        problems = [
            k
            for k in ("id", "type", "language", "question", "sources", "model", "app")
            if k not in seed
        ]
        if problems or seed.get("type") not in TYPES or seed.get("language") not in ("en", "zh"):
            raise SeedError(f"{path} line {n}: missing or invalid {problems or 'type/language'}")
        seeds.append(seed)
    return seeds


def seed_passages(seed: dict[str, Any], sources: list[dict[str, Any]], start: int) -> list[Passage]:
    return [
        Passage(
            chunk_id=f"{seed['id']}:{start + i}",
            doc_id=f"seed:{s['file']}",
            file_name=s["file"],
            page=int(s["page"]),
            text=s["text"],
            section="",
            heading=s.get("heading", ""),
            company=s.get("company") or seed.get("company", ""),
            fiscal_year=None,
            score=0.0,
        )
        for i, s in enumerate(sources)
    ]


def _operand_pages(expr: str, passages: list[Passage]) -> list[tuple[str, str, int]]:
    from backend.domain.numbers import parse_numbers

    out: list[tuple[str, str, int]] = []
    for n in parse_numbers(expr, skip_years=False):
        if n.value in (100, 2, 365) or abs(n.value) < 1:
            continue
        for p in passages:
            if any(
                abs(abs(m.value) - abs(n.value)) < 1e-6
                for m in parse_numbers(p.text, skip_years=False)
            ):
                key = (p.doc_id, p.file_name, p.page)
                if key not in out:
                    out.append(key)
                break
    return out


def seed_candidates(seed: dict[str, Any], tool_text: str, top_k: int) -> list[Candidate]:
    """Render one seed into model-facing training items (one per model step)."""
    known = seed_passages(seed, seed["sources"], 0)
    steps: list[str] = []
    last_search: dict[str, Any] | None = None
    out: list[Candidate] = []
    n_steps = len(seed["model"])
    q = seed["question"]
    for i, step in enumerate(seed["model"], start=1):
        if step.get("search_results"):
            added = seed_passages(seed, step["search_results"], len(known))
            known = known + added
            steps.append(search_step((last_search or {}).get("args", {}), added, known))
        visible = known[: top_k + 2]
        extra: dict[str, Any] = {"app": seed["app"], "user_answer": seed["app"]["answer"]}
        if seed.get("evidence"):
            extra["evidence"] = seed["evidence"]
        if n_steps > 1:
            extra["trace"] = {"id": seed["id"], "step": i, "of": n_steps}
        if step["step"] == "plan":
            call = step["output"]
            messages = plan_messages(q, visible, tool_text, steps, call)
            fmt = "tool_call"
            cited: list[tuple[str, str, int]] = []
            if call["tool"] == "calculate":
                from backend.domain.calculator import calculate

                expr = call["args"]["expression"]
                extra.update(expression=expr, value=calculate(expr).value)
                cited = _operand_pages(expr, visible)
            elif call["tool"] == "search_reports":
                last_search = call
        else:
            messages = answer_messages(q, visible, step["output"])
            fmt = "answer"
            cited = [
                (visible[n - 1].doc_id, visible[n - 1].file_name, visible[n - 1].page)
                for n in cited_numbers(step["output"])
                if 1 <= n <= len(visible)
            ]
        first = cited[0] if cited else (None, seed["sources"][0]["file"], None)
        out.append(
            Candidate(
                type=seed["type"],
                language=seed["language"],
                question=q,
                generator="seed",
                fmt=fmt,
                messages=messages,
                passages=visible,
                doc_ids=sorted({p.doc_id for p in known}),
                file=first[1],
                page=first[2],
                cited=cited,
                seed_ids=[seed["id"]],
                extra=extra,
            )
        )
    return out
