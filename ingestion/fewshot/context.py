"""What the generators need to know about one indexed report: its chunks, page text, facts, the
names to call the company by, and retrieval that guarantees the evidence is among the sources.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from backend.answering.prompts import PLAN_CHARS
from backend.answering.retrieval import Passage, Retriever
from backend.domain.items import has_cjk, normalize_label
from backend.domain.numbers import parse_numbers
from backend.records import Chunk, Document, Fact
from backend.store.catalog import Catalog

_ASCII_NAME = re.compile(r"^[A-Za-z0-9&.,'’\- ]+$")


def chunk_passage(c: Chunk, doc: Document, score: float = 0.0) -> Passage:
    return Passage.from_chunk(c, doc, score)


def same_value(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def _label_key(label: str) -> str:
    norm = normalize_label(label)
    if has_cjk(norm):
        return norm[:4]
    return " ".join(norm.split()[:2])


def _line_has_label(label: str, text: str) -> bool:
    key = _label_key(label)
    if not key:
        return False
    norm = normalize_label(re.sub(r"[-−–(]?\$?\s*\d[\d,.]*\)?", " ", text))
    if has_cjk(key):
        return key in re.sub(r"\s+", "", norm)
    return key in norm


@dataclass
class DocContext:
    """One complete document of the catalogue, loaded for generation."""

    doc: Document
    catalog: Catalog
    retriever: Retriever
    top_k: int = 5
    _chunks: list[Chunk] | None = field(default=None, repr=False)
    _pages: dict[int, str] | None = field(default=None, repr=False)

    # -- loading ---------------------------------------------------------------------------------
    @property
    def doc_id(self) -> str:
        return self.doc.doc_id

    @property
    def chunks(self) -> list[Chunk]:
        if self._chunks is None:
            with self.catalog.connect() as conn:
                rows = conn.execute(
                    "SELECT chunk_id, doc_id, page, seq, text, section, heading, language "
                    "FROM chunks WHERE doc_id=? ORDER BY page, seq",
                    (self.doc_id,),
                ).fetchall()
            self._chunks = [Chunk(*r) for r in rows]
        return self._chunks

    @property
    def pages(self) -> dict[int, str]:
        if self._pages is None:
            with self.catalog.connect() as conn:
                rows = conn.execute(
                    "SELECT page, text FROM pages WHERE doc_id=? ORDER BY page", (self.doc_id,)
                ).fetchall()
            self._pages = {int(p): t for p, t in rows}
        return self._pages

    @cached_property
    def all_text_lower(self) -> str:
        return "\n".join(self.pages.values()).lower()

    @cached_property
    def facts(self) -> list[Fact]:
        """Facts with a canonical item from statements whose accounting checks all passed."""
        failed = {
            (c.statement, c.scope, c.fiscal_year)
            for c in self.catalog.checks(self.doc_id)
            if not c.passed
        }
        out = [
            f
            for f in self.catalog.facts("f.doc_id = ?", [self.doc_id])
            if f.item and (f.statement, f.scope, f.fiscal_year) not in failed
        ]
        return sorted(
            out, key=lambda f: (f.statement, f.scope, f.page, f.item or "", f.fiscal_year)
        )

    @cached_property
    def statement_pages(self) -> set[int]:
        return {f.page for f in self.catalog.facts("f.doc_id = ?", [self.doc_id])}

    # -- names -------------------------------------------------------------------------------------
    def name(self, language: str, *, short: bool = False) -> str:
        """How a question in ``language`` calls the company: an English name for English
        questions (or the short Chinese name, 证券简称, when there is none), the registered name
        for Chinese questions about Chinese companies (``short``: the 证券简称)."""
        names = [n for n in [self.doc.company, *self.doc.aliases] if n]
        ascii_names = [n for n in names if _ASCII_NAME.match(n)]
        cjk = sorted((n for n in names if has_cjk(n)), key=len)
        if language == "en" or not (self.doc.language == "zh" and self.doc.company):
            if ascii_names:
                return min(ascii_names, key=len)
            return cjk[0] if cjk else self.doc.file_name
        return cjk[0] if short and cjk else self.doc.company

    # -- evidence ----------------------------------------------------------------------------------
    def chunks_on(self, page: int) -> list[Chunk]:
        return [c for c in self.chunks if c.page == page]

    def fact_chunk(self, f: Fact) -> Chunk | None:
        """The chunk of ``f``'s page whose visible text (what the model sees) shows the row:
        a line with the value as printed and the row's label (on that line or the one before)."""
        for c in self.chunks_on(f.page):
            lines = c.text[:PLAN_CHARS].splitlines()
            for i, line in enumerate(lines):
                if not any(
                    same_value(n.value, f.value) for n in parse_numbers(line, skip_years=False)
                ):
                    continue
                prev = lines[i - 1] if i > 0 else ""
                if _line_has_label(f.label, line) or _line_has_label(f.label, prev + line):
                    return c
        return None

    @cached_property
    def _statement_first_page(self) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for g in self.catalog.facts("f.doc_id = ?", [self.doc_id]):
            key = (g.statement, g.scope)
            out[key] = min(out.get(key, g.page), g.page)
        return out

    def header_chunk(self, f: Fact) -> Chunk | None:
        """First chunk of the statement that ``f`` belongs to (title, unit and column years)."""
        page = self._statement_first_page.get((f.statement, f.scope))
        first = [c for c in self.chunks if c.page == page]
        return first[0] if first else None

    def passage(self, c: Chunk) -> Passage:
        return chunk_passage(c, self.doc)

    # -- retrieval ----------------------------------------------------------------------------------
    def sources(
        self,
        question: str,
        must: Sequence[Passage],
        rng: random.Random,
        *,
        doc_ids: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
        k: int | None = None,
    ) -> list[Passage]:
        """What the app would retrieve for ``question`` (top k in the documents), with every
        passage of ``must`` guaranteed among them: a missing one replaces a low-ranked passage at
        a seeded position. ``exclude``: chunk ids that must not appear."""
        k = k or self.top_k
        found = self.retriever.search(question, doc_ids=list(doc_ids or [self.doc_id]), k=k + 4)
        found = [p for p in found if p.chunk_id not in exclude]
        must_ids = {p.chunk_id for p in must}
        kept = [p for p in found if p.chunk_id not in must_ids][: max(0, k - len(must))]
        out = list(kept)
        for p in must:
            hit = next((q for q in found if q.chunk_id == p.chunk_id), None)
            rank = found.index(hit) if hit else None
            pos = min(rank, len(out)) if rank is not None else rng.randint(0, len(out))
            out.insert(pos, hit or p)
        return out
