"""Answer records (:class:`Answer`, :class:`Citation`) and what turns model text into a checked,
cited answer.

The model sees numbered sources and cites them as [1], [2]; Annalyst maps those to
``[file p.N]`` itself (a 1.5B model copies a 40-character SHA-1 file name badly, a number well).
Citations that point at no retrieved source are dropped; numbers in the answer that appear in no
cited source are listed in ``unverified_numbers``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from backend.answering.retrieval import Passage
from backend.domain.numbers import parse_numbers, primary_value, strip_citations, unverified_numbers

REFUSAL_EN = "Not found in the indexed reports."
REFUSAL_ZH = "在已索引的报告中未找到相关信息。"
_REFUSAL_RE = re.compile(
    r"not found in the indexed reports|cannot find|could not find|no information|"
    r"not (?:mentioned|provided|disclosed|available|specified|stated|included|given) in the "
    r"(?:given |provided |retrieved |above )?(?:sources?|reports?|passages?|documents?|context)|"
    r"(?:sources?|passages?|reports?|context) (?:do|does) not (?:mention|provide|contain|specify|"
    r"disclose|include)|there is no mention|未找到|没有找到|无法找到|未提及|未披露|没有提及|未提供",
    re.I,
)
_CITE_RE = re.compile(r"\[(\d+(?:\s*[,，]\s*\d+)*)\]")


def refusal_text(language: str) -> str:
    return REFUSAL_ZH if language == "zh" else REFUSAL_EN


def withheld_note(n: int, language: str) -> str:
    """Said after an answer from which ``n`` unsupported sentences were left out."""
    if language == "zh":
        return f"（另有{n}句因引用的页面无法证实而未显示。）"
    return f"({n} more sentence{'s' if n > 1 else ''} left out: the cited pages do not support it.)"


def is_refusal(text: str) -> bool:
    bare = strip_citations(text).strip(" .。\n\t'\"")
    # a bare "N/A" is how ERC-style prompts ask for a refusal; "None"/"无" can be a real answer
    return bool(_REFUSAL_RE.search(text)) or bare.lower() in ("n/a", "unknown")


@dataclass
class Citation:
    doc_id: str
    file: str
    page: int
    snippet: str = ""

    @property
    def tag(self) -> str:
        return f"[{self.file} p.{self.page}]"


@dataclass
class Answer:
    question: str
    answer: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    unverified_numbers: list[str] = field(default_factory=list)
    value: float | None = None
    unit: str = ""
    model: str = ""
    mode: str = "rag"
    #: how it was made: "refused" (at once, no model), "facts" / "tables" / "prose" (no model:
    #: statements, printed tables, a sentence's value per year), "profile" (a 年报's 公司信息
    #: field), "parts"
    #: (a several-figure question answered part by part from the facts and tables, no model),
    #: "calculation" (a model-planned, checked calculation), "model" (written by the model),
    #: "absent" (nothing found, answered as the question asks for that case: "return False")
    route: str = ""
    standalone_question: str = ""
    retrieved: list[Passage] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    trace: list[dict[str, Any]] = field(default_factory=list)
    #: the parts of a several-part question, each found (item, year, value, page) or not
    parts: list[dict[str, Any]] = field(default_factory=list)
    #: why retrieval ran without vectors (keyword search only); "" when it did not
    degraded: str = ""

    def count_read(self, usage: dict[str, int]) -> None:
        """Add a model call's ``prompt_read`` (prompt tokens read anew, the rest reused from the
        KV cache) to ``timings["prompt_read_tokens"]``, beside ``prompt_tokens`` (all of them)."""
        if "prompt_read" in usage:
            read = self.timings.get("prompt_read_tokens", 0) + usage["prompt_read"]
            self.timings["prompt_read_tokens"] = read

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["citations"] = [{"doc": c.doc_id, "file": c.file, "page": c.page} for c in self.citations]
        d["retrieved"] = [
            {"doc": p.doc_id, "file": p.file_name, "page": p.page, "score": p.score}
            for p in self.retrieved
        ]
        return d


def resolve_citations(text: str, passages: Sequence[Passage]) -> tuple[str, list[Citation]]:
    """Replace [n] by [file p.N]; drop numbers that name no source. Returns text and citations."""
    cites: list[Citation] = []

    def sub(m: re.Match[str]) -> str:
        tags = []
        for part in re.split(r"\s*[,，]\s*", m.group(1)):
            n = int(part)
            if 1 <= n <= len(passages):
                p = passages[n - 1]
                c = Citation(p.doc_id, p.file_name, p.page, p.text[:300])
                if all((c.doc_id, c.page) != (x.doc_id, x.page) for x in cites):
                    cites.append(c)
                tags.append(c.tag)
        return " ".join(tags)

    return _CITE_RE.sub(sub, text).replace("  ", " ").strip(), cites


def _key_numbers(text: str) -> list[float]:
    bare = _CITE_RE.sub(" ", text)
    return [
        n.value
        for n in parse_numbers(bare, skip_years=False)
        if not (abs(n.value) <= 10 and float(n.value).is_integer() and not n.percent)
    ]


def _support(numbers: list[float], passage: Passage) -> int:
    found = [m.value for m in parse_numbers(passage.text, skip_years=False)]
    return sum(1 for n in numbers if any(abs(abs(n) - abs(v)) < 1e-9 for v in found))


def repair_citations(raw: str, passages: Sequence[Passage]) -> str:
    """When none of the sources the model cited holds the numbers its answer states but another
    retrieved source does, cite that one instead (a small model often picks the wrong [n])."""
    numbers = _key_numbers(raw)
    if not numbers or not passages:
        return raw
    cited = {int(x) for m in _CITE_RE.finditer(raw) for x in re.split(r"\s*[,，]\s*", m.group(1))}
    cited = {n for n in cited if 1 <= n <= len(passages)}
    scores = [_support(numbers, p) for p in passages]
    best = max(range(len(passages)), key=lambda i: scores[i])
    if scores[best] == 0 or any(scores[n - 1] > 0 for n in cited):
        return raw
    if cited:
        return _CITE_RE.sub(f"[{best + 1}]", raw)
    return raw.rstrip() + f" [{best + 1}]"


def answer_absence(answer: Answer, value: str, language: str) -> None:
    """A refused answer to a question that names its answer for an absence ("If there is no
    mention, return False."): that answer, saying it rests on nothing found, not on a page."""
    if language == "zh":
        text = f"{value}：已索引的报告中未找到相关内容（问题要求此时回答 {value}）。"
    else:
        text = (
            f"{value}: no mention of it was found in the indexed report (the question asks for "
            f"{value} when there is none)."
        )
    answer.answer, answer.refused, answer.citations = text, False, []
    answer.value, answer.unit, answer.route = None, "", "absent"
    answer.trace.append({"step": "absent", "answer": value})


def finish_answer(
    answer: Answer,
    raw: str,
    passages: Sequence[Passage],
    *,
    language: str,
    extra_values: Sequence[float] = (),
) -> Answer:
    """Map citations, detect refusal, check numbers against the cited evidence."""
    raw = repair_citations(raw.strip(), passages)
    text, cites = resolve_citations(raw, passages)
    refused = (is_refusal(text) and len(text) < 200) or not text
    if refused:
        answer.answer = refusal_text(language)
        answer.refused = True
        answer.citations = []
        return answer
    answer.answer = text
    answer.citations = cites
    cited_text = [
        p.text for p in passages if any((p.doc_id, p.page) == (c.doc_id, c.page) for c in cites)
    ]
    answer.unverified_numbers = unverified_numbers(text, cited_text, list(extra_values))
    answer.value, answer.unit = primary_value(text)
    return answer
