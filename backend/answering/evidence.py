"""What the model reads: the rows and sentences of the retrieved passages that match the
question, within a token budget — not five whole passages.

On a CPU the prompt is the cost of an answer (the 1.5B model reads ~85 tokens/s on two cores), so
:func:`select` keeps, from each passage, the lines that share words with the question (a table
line keeps the header lines above it — the years and units its numbers belong to), and sentences
are cut whole, never mid-word. Table rows found by ``find_rows`` come first, as one short line
each with their headers and unit. Text flagged at ingestion as instructions to an assistant
(:func:`instruction_like`) never reaches a prompt.

:func:`grounded` is the other half: a number the model writes is accepted only when a line or
sentence of the evidence it cites holds that number AND a word of the question's item (and its
year, when the question names one) — a number merely printed somewhere on the cited page is not
enough.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from backend.answering.retrieval import Passage
from backend.domain.injection import instruction_like
from backend.domain.numbers import Number, parse_numbers, rounds_to, same_amount
from backend.domain.text import CJK, YEAR
from backend.llm.clients import estimate_tokens
from backend.store.keywords import tokens
from backend.store.tables import RowHit

_SENTENCE = re.compile(r"(?<=[.!?。！？；;])\s+|(?<=[。！？；])")
_STOP = frozenset(
    """what which how much many was were is are did does do the a an of in on for to from by at
    and or as per its their this that with than be been has have had year years fiscal fy ended
    company report annual please provide give state answer according
    什么 多少 分别 哪些 是否 如何 怎样 怎么 请问 呈现 情况 当年 年度 公司 报告期 本年""".split()
)


def _stem(tok: str) -> str:
    """A crude English stem: six letters ("employees", "employed", "employment" → "employ");
    shorter words lose a plural s."""
    if not tok.isascii():
        return tok
    return tok[:6] if len(tok) >= 6 else (tok[:-1] if len(tok) > 3 and tok.endswith("s") else tok)


#: Abbreviations analysts write for words reports print in full.
_SPELLED = {
    "r&d": "research development",
    "sg&a": "selling general administrative",
    "d&a": "depreciation amortization",
    "pp&e": "property plant equipment",
    "capex": "capital expenditures",
    "eps": "earnings per share",
    "cogs": "cost goods sold",
    "ebit": "earnings before interest taxes",
}


def _terms(text: str) -> set[str]:
    out = set()
    for tok in tokens(text):
        tok = re.sub(r"['’]s$", "", tok.lower())
        for word in _SPELLED.get(tok, tok).split():
            if word in _STOP or word[:1].isdigit() or len(word) < 2:
                continue
            out.add(_stem(word))
    return out


def question_terms(question: str, names: Sequence[str] = ()) -> set[str]:
    """Content words of a question, without the company's names."""
    skip: set[str] = set()
    for name in names:
        skip |= _terms(name)
    return _terms(question) - skip


def _tabular(line: str) -> bool:
    """A line of a table: two or more numbers in a short line, or a header of periods/units."""
    return _is_header(line) or (len(line) < 200 and len(parse_numbers(line, skip_years=False)) >= 2)


def _units(text: str) -> list[str]:
    """What evidence is chosen in: table lines as they are, prose as whole sentences (a PDF cuts
    a sentence into visual lines: they are joined first, so no sentence is cut mid-word)."""
    out: list[str] = []
    prose: list[str] = []

    def flush() -> None:
        if prose:
            joined = ""
            for part in prose:  # Chinese lines join without a space
                joiner = (
                    "" if (joined[-1:] and CJK.match(joined[-1]) and CJK.match(part[0])) else " "
                )
                joined = (joined + joiner + part) if joined else part
            out.extend(x.strip() for x in sentence_split(joined) if x.strip())
            prose.clear()

    for line in text.splitlines():
        line = line.strip()
        if not line:
            flush()
        elif _tabular(line):
            flush()
            out.append(line)
        else:
            prose.append(line)
    flush()
    return out


def sentence_split(text: str) -> list[str]:
    """Sentences of a paragraph (long ones cut at a word boundary near 400 characters)."""
    out = []
    for s in sentences(text):
        while len(s) > 400:
            cut = s.rfind(" ", 200, 400)
            cut = cut if cut > 0 else 400
            out.append(s[:cut].rstrip() + " …")
            s = s[cut:].lstrip()
        out.append(s)
    return out


def _is_header(line: str) -> bool:
    """A table header line: years or period words and few other words."""
    years = YEAR.findall(line)
    return len(years) >= 2 or bool(re.search(r"\b(?:in (?:millions|thousands))\b|单位", line))


def row_passage(row: RowHit, company: str = "", year: int | None = None) -> Passage:
    """A table row as a one-line source: title, row label, each cell with its header, unit."""
    cells = "; ".join(f"{c.column}: {c.text}" if c.column else c.text for c in row.cells)
    unit = f" ({row.unit_label})" if row.unit_label else ""
    text = f"{row.full_label}{unit}: {cells}"
    return Passage(
        f"row:{row.row_id}",
        row.doc_id,
        row.file_name,
        row.page,
        text,
        "",
        row.title,
        company,
        year,
        1.0,
    )


def select(
    question: str,
    passages: Sequence[Passage],
    rows: Sequence[RowHit] = (),
    *,
    names: Sequence[str] = (),
    years: Sequence[int] = (),
    budget: int = 600,
    max_sources: int = 6,
    docs: Mapping[str, Any] | None = None,
) -> list[Passage]:
    """The evidence the model reads, at most ``budget`` tokens (estimated) in ``max_sources``
    sources: the table rows and the lines/sentences of the passages that best match the question.

    Every candidate (a row, a table line, a sentence) is scored by the question's words it holds,
    each weighted by how rare it is among the candidates (so "wages" counts for more than "net"
    or "total"), with a small bonus for a year asked and for earlier search ranks. The best are
    taken until the budget is spent — a table line with the header line above it (its years and
    unit) — and each source keeps its chosen lines in their printed order."""
    q_terms = question_terms(question, names)
    sources = _row_sources(rows, docs)
    sources.extend(passages)
    units = [[u for u in _units(p.text) if not instruction_like(u)] for p in sources]
    unit_terms = [[_terms(u) & q_terms for u in us] for us in units]
    heads = [(p.heading or "") for p in sources]
    candidates = _score_units(units, unit_terms, heads, q_terms, years)
    # table rows are short and dense in words: at most three, and only close to the best line
    best = max((c[0] for c in candidates), default=0.0)
    candidates = [c for c in candidates if c[1] >= len(rows) or (c[1] < 3 and c[0] >= 0.6 * best)]
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    chosen = _choose(candidates, units, unit_terms, heads, budget, max_sources)
    return [
        replace(sources[s_i], text="\n".join(units[s_i][j] for j in sorted(chosen[s_i])))
        for s_i in sorted(chosen)
    ]


def _row_sources(rows: Sequence[RowHit], docs: Mapping[str, Any] | None) -> list[Passage]:
    """Table rows as one-line sources, each with its document's company and year."""
    sources: list[Passage] = []
    for row in rows:
        doc = (docs or {}).get(row.doc_id)
        sources.append(
            row_passage(row, getattr(doc, "company", ""), getattr(doc, "fiscal_year", None))
        )
    return sources


def _score_units(
    units: list[list[str]],
    unit_terms: list[list[set[str]]],
    heads: list[str],
    q_terms: set[str],
    years: Sequence[int],
) -> list[tuple[float, int, int]]:
    """``(score, source index, unit index)`` of every unit that matches the question."""
    n_units = sum(len(us) for us in units) or 1
    df = {t: sum(1 for ts in unit_terms for u in ts if t in u) for t in q_terms}
    weight = {t: math.log(1 + n_units / (1 + df[t])) for t in q_terms if df[t]}
    candidates: list[tuple[float, int, int]] = []
    for s_i, (us, ts) in enumerate(zip(units, unit_terms, strict=True)):
        head_terms = _terms(heads[s_i]) & q_terms
        raw = []
        for u_i, terms in enumerate(ts):
            score = sum(weight.get(t, 0.0) for t in terms)
            score += 0.25 * sum(weight.get(t, 0.0) for t in head_terms - terms)
            asked_year = bool(years) and any(str(y) in us[u_i] for y in years)
            raw.append((score + (0.5 if asked_year else 0.0)) if terms or asked_year else 0.0)
        for u_i, score in enumerate(raw):
            if _tabular(us[u_i]):  # a table line inherits from the caption/header above it
                above = [raw[j] for j in range(max(0, u_i - 4), u_i) if not _tabular(us[j])]
                score += 0.6 * max(above, default=0.0) if score else 0.0
            if score:
                candidates.append((score / (1 + 0.08 * s_i), s_i, u_i))
    return candidates


def _header_above(us: list[str], ts: list[set[str]], u_i: int) -> int | None:
    """The header or caption line (within 11 lines) above a table line of numbers, if any."""
    return next(
        (
            j
            for j in range(u_i - 1, max(-1, u_i - 12), -1)
            if _is_header(us[j]) or (not _tabular(us[j]) and ts[j])
        ),
        None,
    )


def _choose(
    candidates: list[tuple[float, int, int]],
    units: list[list[str]],
    unit_terms: list[list[set[str]]],
    heads: list[str],
    budget: int,
    max_sources: int,
) -> dict[int, set[int]]:
    """The units taken, best first, within the token budget and ``max_sources`` sources."""
    chosen: dict[int, set[int]] = {}
    texts: set[str] = set()  # a line printed again (in a table, in an overlapping passage): once
    used = 0
    for _, s_i, u_i in candidates:
        if s_i not in chosen and len(chosen) >= max_sources:
            continue
        if units[s_i][u_i] in texts:
            continue
        pick = {u_i}
        if parse_numbers(units[s_i][u_i]) and not _is_header(units[s_i][u_i]):
            head = _header_above(units[s_i], unit_terms[s_i], u_i)
            if head is not None and units[s_i][head] not in texts:
                pick.add(head)
        new = pick - chosen.get(s_i, set())
        cost = sum(estimate_tokens(units[s_i][j]) for j in new)
        cost += 0 if s_i in chosen else estimate_tokens(heads[s_i]) + 8
        if used + cost > budget:
            continue
        chosen.setdefault(s_i, set()).update(new)
        texts.update(units[s_i][j] for j in new)
        used += cost
    return chosen


def same_number(stated: Number, printed: Number) -> bool:
    """``stated`` (in an answer) is ``printed`` (in a source), up to scale words, rounding and
    sign (statements print outflows in parentheses); a percentage only matches a percentage."""
    for v in (printed.value, printed.base):
        if same_amount(stated.value, v, signed=False, percent=stated.percent):
            return True
        if not stated.percent and same_amount(stated.base, v, signed=False):
            return True
        if rounds_to(abs(v), abs(stated.value)):
            return True
    return False


def grounded(
    number: Number,
    question: str,
    evidence: Sequence[Passage],
    years: Sequence[int],
    statement: str = "",
) -> bool:
    """Is ``number`` printed in a line of the evidence beside the item it is about, and, when the
    question names years, in one of them (the year in the line, in a header line above it, or the
    source is that year's report)?

    The item is the words the ``statement`` (the answer's sentence) shares with the question
    ("net sales" in "Net sales were $32,765 million"), else the question's words: the line (or
    its source's heading) must hold two thirds of them — "net" alone does not make "Net income"
    a line about net sales."""
    q_terms = question_terms(question)
    for p in evidence:
        # the company's own name is not the item ("Best Buy's revenue": the item is revenue)
        own = question_terms(question, [p.company] if p.company else [])
        item = (_terms(statement) & own) or own or q_terms
        if statement:  # of the item's words, those the source prints at all must be there
            printed = item & _terms(p.text + " " + (p.heading or ""))
            need = max(1, math.ceil(len(printed) * 2 / 3))
        else:
            need = 1
        units = _units(p.text)
        for i, unit in enumerate(units):
            if not any(same_number(number, m) for m in parse_numbers(unit, skip_years=False)):
                continue
            if len(_terms(unit + " " + (p.heading or "")) & item) < need:
                continue
            context = " ".join(units[max(0, i - 12) : i + 1]) + " " + (p.heading or "")
            if years and not (any(str(y) in context for y in years) or p.fiscal_year in years):
                continue
            if number.percent and _tabular(unit) and not _kind_printed(item, unit, context):
                continue
            return True
    return False


@lru_cache(maxsize=1)
def _change_words() -> frozenset[str]:
    """Words of a change ("increased 12%"): a "% Change" column says them, whatever its wording
    (read when first needed: cutting the Chinese ones loads jieba's dictionary, ~1 s)."""
    return frozenset(
        _terms(
            "increase increased decrease decreased change changed growth grow grew rise rose "
            "fall fell decline declined higher lower 增长 下降 减少 增加 变动 同比 增减"
        )
    )


def _kind_printed(item: set[str], row: str, context: str) -> bool:
    """A percentage in a table row is what its column says it is: of the words the answer
    claims for it (its item) that the row itself does not print, one at least must be printed
    above it ("% of total revenue") — else a cost share beside a product's name could be called
    its market share."""
    claimed = item - _terms(row) - _change_words()  # "increased 12%": a "% change" column says so
    return not claimed or bool(claimed & _terms(context))


def headline(
    question: str, evidence: Sequence[Passage], names: Sequence[str] = ()
) -> Passage | None:
    """The single best line of the evidence (a table row, or the sentence sharing most words with
    the question) as a one-line passage — what the UI shows before the model's first word."""
    q_terms = question_terms(question, names)
    best: tuple[float, int, str, Passage] | None = None
    for rank, p in enumerate(evidence):
        for unit in _units(p.text):
            if _is_header(unit) and not _terms(unit) & q_terms:
                continue
            score = len(_terms(unit) & q_terms) + (0.5 if parse_numbers(unit) else 0)
            if score and (best is None or (score, -rank) > (best[0], best[1])):
                best = (score, -rank, unit, p)
    if best is None:
        return None
    return replace(best[3], text=best[2])


# --- checking what the model wrote, sentence by sentence ------------------------------------------
_REFUSAL = re.compile(r"not found in the indexed reports|在已索引的报告中未找到", re.I)
_CITED = re.compile(r"\[(\d+(?:\s*[,，]\s*\d+)*)\]")
_ABBREV = re.compile(
    r"(?:\b(?:inc|corp|co|ltd|no|approx|vs|mr|ms|dr|st|jr|u\.s|e\.g|i\.e)|\d)\.$", re.I
)
_POLAR = re.compile(r"^\W*(?:yes|no|true|false|是|否|不是)\W*$", re.I)
_SPLIT = re.compile(r"(?<=[.!?。！？；])((?:\s*\[\d+(?:\s*[,，]\s*\d+)*\])*)\s*")


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences, each keeping the citations written right after its full stop
    (``… million. [1]``); abbreviations (Inc., U.S.) and decimals do not end a sentence."""
    out: list[str] = []
    start = 0
    for m in _SPLIT.finditer(text):
        end = m.end()
        head = text[start : m.start()].rstrip()
        if _ABBREV.search(head) and not m.group(1):
            continue
        nxt = text[end : end + 1]
        if nxt and m.group(0) == "" and nxt.isascii() and not m.group(1):
            continue  # "3.5" — no space after the point
        piece = text[start:end].strip()
        if piece:
            out.append(piece)
        start = end
    rest = text[start:].strip()
    if rest:
        out.append(rest)
    return out


def cited(sentence: str, n_sources: int) -> list[int]:
    """The 1-based source numbers a sentence cites (only those that exist)."""
    nums = [int(x) for m in _CITED.finditer(sentence) for x in re.split(r"\s*[,，]\s*", m.group(1))]
    return [n for n in dict.fromkeys(nums) if 1 <= n <= n_sources]


def key_numbers(sentence: str) -> list[Number]:
    """The amounts a sentence states (not its citations, years or small counting words)."""
    bare = _CITED.sub(" ", sentence)
    return [
        n
        for n in parse_numbers(bare)
        if not (
            abs(n.value) <= 10 and n.scale == 1.0 and float(n.value).is_integer() and not n.percent
        )
    ]


def supports(sentence: str, p: Passage, question: str, years: Sequence[int]) -> bool:
    """Does source ``p`` back ``sentence``: every amount it states is grounded in ``p`` (printed
    beside a word of the question's item), and, for prose without amounts, most of its content
    words are in ``p``?"""
    numbers = key_numbers(sentence)
    if numbers:
        return all(grounded(n, question, [p], years, sentence) for n in numbers)
    words = _terms(_CITED.sub(" ", sentence))
    if _POLAR.match(_CITED.sub(" ", sentence)):  # "True [3]": the source is about what is asked
        words = question_terms(question, [p.company] if p.company else [])
    if not words:
        return True
    shared = words & _terms(p.text + " " + (p.heading or ""))
    return len(shared) >= max(1, round(0.5 * len(words)))


@dataclass
class Vetted:
    """What is left of a model's answer after the check, with what was dropped and why."""

    text: str
    dropped: list[dict[str, str]]


def vet(
    raw: str,
    evidence: Sequence[Passage],
    question: str,
    years: Sequence[int] = (),
) -> Vetted:
    """Keep the sentences of ``raw`` that their cited source backs (:func:`supports`); a sentence
    that cites nothing or the wrong source is cited to the source that backs it, if one does;
    the rest is dropped — an unsupported number is never shown."""
    kept: list[str] = []
    dropped: list[dict[str, str]] = []
    for s in sentences(raw):
        bare = _CITED.sub(" ", s).strip(" .。")
        if not bare:
            continue
        if _REFUSAL.search(bare):  # "not found": nothing to check
            kept.append(s)
            continue
        refs = cited(s, len(evidence))
        if refs and any(supports(s, evidence[n - 1], question, years) for n in refs):
            kept.append(s)
            continue
        other = next(
            (i for i, p in enumerate(evidence, 1) if supports(s, p, question, years)), None
        )
        if other is not None:
            kept.append(_recite(s, other))
            continue
        dropped.append(
            {
                "sentence": s,
                "reason": "a number in it is not printed beside the item in any source"
                if key_numbers(s)
                else "no source says it",
            }
        )
    return Vetted(" ".join(kept), dropped)


def _recite(sentence: str, n: int) -> str:
    """``sentence`` citing source ``n`` instead of what it cited."""
    bare = _CITED.sub("", sentence).rstrip()
    stop = bare[-1] if bare and bare[-1] in ".。!?！？" else ""
    body = bare[:-1].rstrip() if stop else bare
    return f"{body} [{n}]{stop}"
