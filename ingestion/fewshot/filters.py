"""Quality filters, each counted in the data card.

In order (cheap first; the model's second pass last, on survivors only):

``length``          question 8–300 characters, target ≤ 800, whole conversation ≤ max_chars.
``language``        the question (and a non-refusal answer) is in the item's language.
``grounding``       answers: cite valid sources, every number is printed in a cited passage *and*
                    on the cited page (Catalog.page_text; unit words normalised by
                    backend.numbers.unverified_numbers / same_amount), narrative evidence is
                    copied from the passage, refusals are exactly REFUSAL_EN / REFUSAL_ZH; tool
                    calls: valid JSON of a planner tool, a calculation recomputes to the value
                    derived from the facts and each operand is printed in a source and on a cited
                    page.
``eval_overlap``    never an evaluation question: dropped when similar to a dev.jsonl question
                    (character 3-gram Jaccard ≥ 0.6 or containment ≥ 0.8), or when it is about
                    the same report and asks the same metric/item and years, or targets the same
                    number as a dev answer.
                    heldout.jsonl.enc is encrypted and cannot be read (the card says so).
``near_duplicate``  same question up to wording (character 3-gram Jaccard ≥ 0.8) with the same
                    numbers in question and target.
``second_pass``     model-written items: the model re-answers from the source (narrative.recheck).
``trace_incomplete`` a step of a multi-step agent trace was dropped: the whole trace goes.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.answering.answer import REFUSAL_EN, REFUSAL_ZH, is_refusal, refusal_text
from backend.answering.plan import language_of
from backend.answering.prompts import ANSWER_CHARS, PLAN_CHARS, PLANNER_TOOLS
from backend.domain.calculator import CalculationError, calculate
from backend.domain.numbers import (
    parse_numbers,
    primary_value,
    rounds_to,
    same_amount,
    unverified_numbers,
)
from ingestion.fewshot.items import Candidate
from ingestion.fewshot.render import cited_numbers

_CITES = re.compile(r"\[[^\]]*\]")


@dataclass
class FilterStats:
    checked: int = 0
    dropped: int = 0
    dropped_by_type: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    reasons: list[str] = field(default_factory=list)

    def drop(self, cand: Candidate, reason: str) -> None:
        self.dropped += 1
        self.dropped_by_type[cand.type] += 1
        if len(self.reasons) < 5:
            self.reasons.append(f"{cand.type}/{cand.language}: {reason} — {cand.question[:80]}")

    def to_dict(self) -> dict[str, Any]:
        kept = self.checked - self.dropped
        return {
            "checked": self.checked,
            "dropped": self.dropped,
            "kept": kept,
            "kept_share": round(kept / self.checked, 4) if self.checked else None,
            "dropped_by_type": dict(sorted(self.dropped_by_type.items())),
            "examples": self.reasons,
        }


# --- single-item checks (return a reason to drop, or None) ------------------------------------------
def check_length(c: Candidate, max_chars: int) -> str | None:
    if not 8 <= len(c.question) <= 300:
        return f"question length {len(c.question)}"
    if not 1 <= len(c.output) <= 800:
        return f"target length {len(c.output)}"
    total = sum(len(m["content"]) for m in c.messages)
    if total > max_chars:
        return f"conversation length {total} > {max_chars}"
    return None


def check_language(c: Candidate) -> str | None:
    if language_of(c.question) != c.language:
        return "question not in the item's language"
    if c.fmt == "answer" and c.type != "refusal":
        text = _CITES.sub(" ", c.output)
        text = re.sub(r"[-−$€£¥(]?\d[\d,.]*%?\)?", " ", text)
        if language_of(text) != c.language:
            return "answer not in the question's language"
    return None


def _visible(c: Candidate, n: int) -> str:
    limit = ANSWER_CHARS if c.fmt == "answer" else PLAN_CHARS
    return c.passages[n - 1].text[:limit]


def _operands(expr: str) -> list[float]:
    return [
        n.value
        for n in parse_numbers(expr, skip_years=False)
        if not (n.value in (100, 2, 365) or abs(n.value) < 1)
    ]


def _printed(value: float, text: str) -> bool:
    return any(abs(abs(m.value) - abs(value)) < 1e-6 for m in parse_numbers(text, skip_years=False))


def check_grounding(c: Candidate, page_text: Callable[[str, int], str | None]) -> str | None:
    """Every number must be shown to the model and be on the page the item cites."""
    pages = []
    for doc_id, _file, page in c.cited:
        text = page_text(doc_id, page)
        if text is None:  # seeds: their page is not indexed; the source text is verbatim
            text = "\n".join(p.text for p in c.passages if (p.doc_id, p.page) == (doc_id, page))
        pages.append(text)
    if c.fmt == "answer":
        if c.type == "refusal":
            return None if c.output == refusal_text(c.language) else "refusal wording"
        if c.output in (REFUSAL_EN, REFUSAL_ZH) or (is_refusal(c.output) and len(c.output) < 200):
            return "refusal in a non-refusal item"
        cites = cited_numbers(c.output)
        if not cites or any(not 1 <= n <= len(c.passages) for n in cites):
            return "no valid [n] citation"
        if not c.cited:
            return "no cited page"
        shown = [_visible(c, n) for n in cites]
        missing = unverified_numbers(c.output, shown)
        if missing:
            return f"numbers not in the cited sources: {missing}"
        missing = unverified_numbers(c.output, pages)
        if missing:
            return f"numbers not on the cited page: {missing}"
        evidence = c.extra.get("evidence")
        if evidence and c.generator != "seed" and not copied(evidence, "\n".join(shown)):
            return "evidence is not copied from the source"
        return None
    try:
        call = json.loads(c.output)
    except ValueError:
        return "tool call is not JSON"
    tool = call.get("tool")
    if tool not in (*PLANNER_TOOLS, "answer"):
        return f"unknown planner tool {tool!r}"
    args = call.get("args") or {}
    if tool == "search_reports":
        q = str(args.get("query", ""))
        return None if 0 < len(q) <= 200 else "bad search query"
    if tool == "answer":
        return None
    expr = str(args.get("expression", ""))
    if not expr or len(expr) > 200:
        return "expression empty or longer than the grammar allows"
    try:
        value = calculate(expr).value
    except CalculationError as err:
        return f"expression does not compute: {err}"
    expected = c.extra.get("value")
    if expected is None or abs(value - expected) > 1e-6 * max(1.0, abs(expected)):
        return f"expression gives {value}, facts give {expected}"
    ops = _operands(expr)
    if not ops:
        return "no operand from the sources"
    seen = "\n".join(p.text[:PLAN_CHARS] for p in c.passages)
    for v in ops:
        if not _printed(v, seen):
            return f"operand {v:g} is not in the sources"
        if not any(_printed(v, t) for t in pages):
            return f"operand {v:g} is not on a cited page"
    return None


def copied(quote: str, source: str, min_share: float = 0.9) -> bool:
    """``quote`` is copied from ``source`` up to spacing, punctuation and a clipped end: at least
    ``min_share`` of its character 3-grams occur in the source."""
    q, s = _grams(quote), _grams(source)
    return bool(q) and len(q & s) / len(q) >= min_share


# --- evaluation questions ---------------------------------------------------------------------------
def _grams(text: str) -> set[str]:
    s = re.sub(r"[\W_]+", "", text.lower())
    return {s[i : i + 3] for i in range(max(0, len(s) - 2))}


def _similar(a: set[str], b: set[str]) -> tuple[float, float]:
    if not a or not b:
        return 0.0, 0.0
    inter = len(a & b)
    return inter / len(a | b), inter / min(len(a), len(b))


def _amounts(text: str) -> list[float]:
    return [
        n.base
        for n in parse_numbers(text)
        if not (float(n.value).is_integer() and abs(n.value) < 10 and n.scale == 1)
    ]


def _target_signature(question: str) -> tuple[str, tuple[str, ...], tuple[int, ...]] | None:
    """(metric, items, years) a question asks for; None when it names neither metric nor item."""
    from backend.answering.plan import years_in
    from backend.domain.items import items_in
    from backend.domain.metrics import find_metric

    metric = find_metric(question)
    items = tuple(items_in(question))
    if metric is None and not items:
        return None
    return (metric.key if metric else "", items, tuple(years_in(question)))


@dataclass
class EvalQuestion:
    id: str
    question: str
    grams: set[str]
    docs: set[str]
    values: list[float]
    signature: tuple[str, tuple[str, ...], tuple[int, ...]] | None = None


class EvalIndex:
    """The evaluation questions that generated items must never reproduce."""

    def __init__(self, questions: Iterable[EvalQuestion], note: str) -> None:
        self.questions = list(questions)
        self.note = note

    @classmethod
    def load(cls, corpus_dir: Path) -> EvalIndex:
        path = Path(corpus_dir) / "dev.jsonl"
        out = []
        if path.is_file():
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if not line.strip():
                        continue
                    d = json.loads(line)
                    docs = {Path(x).name for x in [d.get("doc", ""), *(d.get("docs") or [])] if x}
                    values = []
                    if isinstance(d.get("answer_value"), int | float):
                        values.append(float(d["answer_value"]))
                    for text in [str(d.get("answer", "")), *map(str, d.get("answers") or [])]:
                        values.extend(_amounts(text))
                    q = str(d.get("question", ""))
                    out.append(
                        EvalQuestion(
                            str(d.get("id")), q, _grams(q), docs, values, _target_signature(q)
                        )
                    )
        held = Path(corpus_dir) / "heldout.jsonl.enc"
        note = f"{len(out)} questions of {path} checked. " + (
            "heldout.jsonl.enc is encrypted and cannot be read, so its questions could not "
            "be checked."
            if held.exists()
            else "no heldout set found."
        )
        if not path.is_file():
            note = f"{path} not found: no evaluation questions checked. " + note
        return cls(out, note)

    def match(self, c: Candidate, files: Iterable[str]) -> str | None:
        grams = _grams(c.question)
        files = set(files)
        target = _target_value(c)
        signature = _target_signature(c.question)
        for e in self.questions:
            jac, cont = _similar(grams, e.grams)
            if jac >= 0.6 or cont >= 0.8:
                return f"similar to {e.id} (jaccard {jac:.2f}, containment {cont:.2f})"
            if not files & e.docs:
                continue
            if signature is not None and signature == e.signature:
                return f"asks {e.id}'s metric/item and years about the same report"
            if target is not None:
                for v in e.values:
                    if same_amount(target, v, 0.0005, signed=False) or rounds_to(
                        abs(target), abs(v)
                    ):
                        return f"same report and number as {e.id}"
        return None


def _target_value(c: Candidate) -> float | None:
    if c.type == "refusal":
        return None
    if c.fmt == "tool_call":
        v = c.extra.get("value")
        return float(v) if isinstance(v, int | float) else None
    value, _unit = primary_value(c.output)
    if value is None or (float(value).is_integer() and abs(value) < 10):
        return None
    nums = parse_numbers(_CITES.sub(" ", c.output))
    return nums[0].base if nums else value


# --- near duplicates -----------------------------------------------------------------------------
def _signature(text: str) -> tuple[float, ...]:
    return tuple(sorted(round(n.value, 6) for n in parse_numbers(text, skip_years=False)))


class DuplicateIndex:
    def __init__(self, threshold: float = 0.8) -> None:
        self.threshold = threshold
        self.seen: dict[tuple[Any, ...], list[set[str]]] = defaultdict(list)

    def add(self, c: Candidate) -> bool:
        """False when ``c`` nearly duplicates an earlier item (same numbers, similar wording)."""
        key = (
            c.fmt,
            tuple(c.doc_ids),
            _signature(c.question),
            _signature(c.output),
            c.output if c.fmt == "tool_call" else "",
        )
        grams = _grams(c.question)
        for other in self.seen[key]:
            if _similar(grams, other)[0] >= self.threshold:
                return False
        self.seen[key].append(grams)
        return True
