"""Hybrid retrieval: BM25 (SQLite FTS5, jieba for Chinese) + vectors (Chroma), fused by reciprocal
rank fusion, restricted to the documents the question is about.

``Retriever.search`` is the one entry point; ``mode`` selects hybrid (default), keyword-only or
vector-only so that the benchmark can compare them in one run.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from backend.answering.plan import CompanyIndex, QueryPlan, narrow_question, plan_query, years_in
from backend.domain.items import items_in, scope_in
from backend.domain.metrics import find_metric
from backend.domain.text import instructions_aside
from backend.errors import AnnalystError
from backend.records import Chunk, Document
from backend.store.catalog import Catalog
from backend.store.keywords import KeywordIndex, match_terms, tokens
from backend.store.vectors import VectorStore

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "keyword", "vector"]
RRF_K = 60


@dataclass
class Passage:
    chunk_id: str
    doc_id: str
    file_name: str
    page: int
    text: str
    section: str
    heading: str
    company: str
    fiscal_year: int | None
    score: float

    @classmethod
    def from_chunk(cls, c: Chunk, doc: Document, score: float = 0.0) -> Passage:
        where = (c.chunk_id, c.doc_id, doc.file_name, c.page, c.text, c.section, c.heading)
        return cls(*where, doc.company, doc.fiscal_year, score)

    @property
    def cite(self) -> str:
        return f"[{self.file_name} p.{self.page}]"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Retriever:
    #: seconds without trying the vector store again after it failed
    RETRY_S = 30.0

    def __init__(
        self,
        catalog: Catalog,
        store: VectorStore,
        *,
        retrieve_k: int = 30,
        facts: Any = None,
        search_threads: int = 1,
        keyword_cache_mb: int = 64,
        keyword_index_mb: int = 0,
    ) -> None:
        self.catalog = catalog
        self.store = store
        #: optional FactStore: pages of the statement rows a question names form a third ranking
        self.facts = facts
        self.retrieve_k = retrieve_k
        self._lock = threading.Lock()
        self._index: CompanyIndex | None = None
        self._generation = -1
        self.keywords = KeywordIndex(
            catalog, threads=search_threads, cache_mb=keyword_cache_mb, index_mb=keyword_index_mb
        )
        #: why vector search is off right now ("" when it works); set by a failed hybrid search
        self.degraded = ""
        #: hybrid searches that went on without vectors (an answer compares it before and after)
        self.faults = 0
        self._vectors_retry_at = 0.0  # after a failure, vector search is retried from then on

    def company_index(self) -> CompanyIndex:
        """Company matcher over complete documents, rebuilt when the catalogue changes."""
        generation = self.catalog.generation()
        with self._lock:
            if self._index is None or generation != self._generation:
                self._index = CompanyIndex.build(self.catalog.documents())
                self.store.refresh(generation)
                self._generation = generation
            return self._index

    def warm_up(self) -> None:
        """Open the stores and load the reports' vectors for report-scoped searches (newest
        first, while they fit in memory): the app calls it at start-up. The in-memory copy of
        the keyword index is built meanwhile by a background thread at the lowest priority
        (wide keyword searches use it once it is ready)."""
        self.keywords.postings.start()
        index = self.company_index()
        newest = sorted(index.docs.values(), key=lambda d: d.updated_at, reverse=True)
        try:
            _ = self.store.collection  # open Chroma now, even before any report is indexed
            loaded = self.store.preload([d.doc_id for d in newest if d.chunks])
        except Exception as err:  # noqa: BLE001 - the app still answers from keywords, saying so
            self._degrade(err)
            return
        log.info("vectors of %d of %d reports in memory", loaded, len(newest))

    def plan(
        self,
        question: str,
        *,
        history: Sequence[str] = (),
        doc_filter: Sequence[str] | None = None,
        year_filter: int | None = None,
    ) -> QueryPlan:
        return plan_query(
            question,
            self.company_index(),
            history=history,
            doc_filter=doc_filter,
            year_filter=year_filter,
        )

    def names_of(self, plan: QueryPlan) -> list[str]:
        """Company names and aliases of the documents a plan is about (not content terms)."""
        docs = self.company_index().docs
        names: list[str] = []
        for d in plan.company_docs or plan.doc_ids or []:
            if d in docs:
                names += [docs[d].company, *docs[d].aliases]
        return names

    def fact_pages(self, query: str, doc_ids: Sequence[str]) -> list[tuple[str, int]]:
        """Statement pages holding the line items (or a metric's inputs) the query names."""
        if narrow_question(query):
            return []
        keys = items_in(query)
        metric = find_metric(query)
        if metric is not None:
            keys += [k for k, _ in metric.items() if k not in keys]
        if not keys:
            return []
        years = set(years_in(query))
        scope = scope_in(query) or "consolidated"
        pages: list[tuple[str, int]] = []
        for key in keys[:4]:
            hits = self.facts.lookup(item=key, scope=scope, doc_ids=list(doc_ids), limit=40)
            if years:
                hits = [h for h in hits if h.fiscal_year in years] or hits
            for h in hits[:2]:
                if (h.doc_id, h.page) not in pages:
                    pages.append((h.doc_id, h.page))
        return pages[:6]

    def search(
        self,
        query: str,
        *,
        doc_ids: Sequence[str] | None = None,
        k: int = 5,
        mode: Mode = "hybrid",
        timings: dict[str, float] | None = None,
    ) -> list[Passage]:
        """Best ``k`` passages for ``query`` among ``doc_ids`` (None: every complete document).

        In hybrid mode a vector store that fails (cannot open, corrupt, disk full, server gone)
        or holds no vectors for the reports leaves the keyword and statement-page rankings:
        :attr:`degraded` then says why and :attr:`faults` counts it, so that the answer can say so.
        """
        index = self.company_index()
        visible = set(index.docs)
        ids = [d for d in doc_ids if d in visible] if doc_ids is not None else sorted(visible)
        if not ids:
            return []
        scoped = None if doc_ids is None else ids
        ranked: list[list[str]] = []
        t0 = time.perf_counter()
        if mode in ("hybrid", "keyword"):
            terms = match_terms(_without_names(query, ids, index) if scoped else query)
            hits = self.keywords.search(terms, ids, self.retrieve_k, self._generation)
            ranked.append([cid for cid, _ in hits])
        t1 = time.perf_counter()
        t_embed = t1
        if mode == "hybrid" and time.monotonic() < self._vectors_retry_at:
            self.faults += 1  # failed moments ago: do not wait for it again (a server timing out)
        elif mode in ("hybrid", "vector"):
            try:
                vector = self.store.embedder.embed_query(query)
                t_embed = time.perf_counter()
                ranked.append(self._vector_ranking(vector, ids, index))
                self.degraded = ""
            except Exception as err:  # any failure of the model or the store: keywords go on
                if mode == "vector":
                    raise
                self._degrade(err)
        if mode == "hybrid" and self.facts is not None and scoped is not None:
            pages = self.fact_pages(query, scoped)
            if pages:
                ranked.append(self.catalog.chunks_on_pages(pages)[: self.retrieve_k])
        t2 = time.perf_counter()
        out = self.fuse(ranked, k, index)
        if timings is not None:
            timings["keyword_s"] = round(t1 - t0, 4)
            timings["embed_s"] = round(t_embed - t1, 4)
            timings["vector_s"] = round(t2 - t_embed, 4)
            if self.degraded and mode == "hybrid":
                timings["vector_failed"] = 1.0
        return out

    def _vector_ranking(self, vector: Any, ids: list[str], index: CompanyIndex) -> list[str]:
        """Chunk ids nearest to ``vector`` among ``ids``; raises when the store fails or holds no
        vectors for reports that have chunks."""
        try:
            hits = self.store.search(vector, self.retrieve_k, ids)
        except Exception as err:  # noqa: BLE001 - Chroma's errors have no common base
            # another process wrote between our generation check and the query: the in-memory
            # index is stale ("Error finding id"); reopen once and retry
            log.info("vector search failed (%s); reopening the store", err)
            self.store.reopen()
            hits = self.store.search(vector, self.retrieve_k, ids)
        if not hits and any(index.docs[d].chunks for d in ids):
            raise VectorsMissing("the vector store holds no vectors for these reports")
        return [cid for cid, _ in hits]

    def _degrade(self, err: Exception) -> None:
        """Record that vector search failed: hybrid search goes on with keywords (and pages)."""
        if isinstance(err, AnnalystError):  # a known fault: its message says what to do
            self.degraded = (
                f"Vector search is unavailable: {err} These results come from keyword search only."
            )
        else:
            self.degraded = (
                f"Vector search is unavailable ({type(err).__name__}: {str(err)[:200]}); these "
                "results come from keyword search only. Check the data directory's chroma folder "
                "(disk space, damage) or the Chroma server; re-index the reports if the store was "
                "lost."
            )
        self.faults += 1
        self._vectors_retry_at = time.monotonic() + self.RETRY_S
        log.warning("vector search failed, keyword search only: %s", err)

    def fuse(self, ranked: list[list[str]], k: int, index: CompanyIndex) -> list[Passage]:
        """Reciprocal rank fusion of the rankings → the best ``k`` passages of visible reports."""
        fused: dict[str, float] = {}
        for ranking in ranked:
            for rank, cid in enumerate(ranking):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
        best = sorted(fused.items(), key=lambda kv: kv[1], reverse=True)[: max(k, 1) * 3]
        chunks = self.catalog.chunks_by_id([cid for cid, _ in best])
        out: list[Passage] = []
        for cid, score in best:
            c = chunks.get(cid)
            if c is None or c.doc_id not in index.docs:
                continue  # vector of a document no longer (or not yet) complete
            out.append(Passage.from_chunk(c, index.docs[c.doc_id], round(score, 5)))
            if len(out) >= k:
                break
        return out


def _without_names(query: str, ids: Sequence[str], index: CompanyIndex) -> str:
    """``query`` less the names of the companies whose reports it searches: within those
    reports a name matches page after page, and keyword ranking would favour the pages that
    repeat it most (a cover, an auditor's report) over the pages about what is asked."""
    scope = set(ids)
    spans = [(s, e) for s, e, owners in index.name_spans(query) if owners & scope]
    if not spans:
        return query
    parts, at = [], 0
    for start, end in spans:
        parts.append(query[at:start])
        at = end
    rest = " ".join("".join([*parts, query[at:]]).split())
    return rest if match_terms(rest) else query


class VectorsMissing(RuntimeError):
    """The vector store answered but holds no vectors for reports that have chunks."""


# --- relevance gate -------------------------------------------------------------------------------
_GENERIC_TERMS = frozenset(
    """revenue revenues income net total amount value values fiscal quarter period end ended
    company companies corporation inc report reports annual statement statements financial
    million millions billion thousand usd dollars percent percentage change changes growth ratio
    average mean difference increase decrease compared compare using based information data
    metric calculate answer round decimal place places units unit shown line items item clearly
    respond question assume assuming define defined utilizing utilize relying details detail
    much many what which whose did does was were has have had how list name names mention
    mentioned return latest current previous prior following respectively between during total
    year years year-over-year yoy percents one two three solution give provide please state
    explain why whether unadjusted adjusted approximately rounded nearest provided given
    营业 公司 年度 报告 多少 金额 数据 比率 保留 小数 小数点 两位 一位 计算 同比 变动 请提供 提供
    比值 请问 是否 哪些 情况""".split()
)
_FISCAL_YEAR = re.compile(r"^(?:fy|q[1-4])?'?\d{2,4}$")


def _stem(word: str) -> str:
    """Crude prefix stem: "operates"/"operating" → "operat", "geographies" → "geogra", "loans"
    → "loan"."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:6]


def evidence_coverage(
    question: str, passages: Sequence[Passage], names: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """Content terms of ``question`` (not stop words, company names, years or generic financial
    words) and those of them that occur in ``passages``. Few found: nothing relevant retrieved."""
    skip = set()
    for name in names:
        skip.update(tokens(name))
    terms = []
    for tok in tokens(instructions_aside(question), drop_stopwords=True):
        tok = re.sub(r"['’]s$", "", tok)  # "adobe's" → "adobe"
        if not tok or tok in skip or tok in _GENERIC_TERMS or _FISCAL_YEAR.match(tok):
            continue
        if tok[0].isdigit() or len(tok) < 2:
            continue
        if tok.isascii() and len(tok) < 3:
            continue
        if tok not in terms:
            terms.append(tok)
    text = " ".join(p.text for p in passages).lower()
    words = {_stem(w) for w in tokens(text)}
    # Chinese terms: the word or its first two characters ("研发经费" ~ "研发费用")
    found = [
        t for t in terms if ((t in text or t[:2] in text) if not t.isascii() else _stem(t) in words)
    ]
    return terms, found


def nothing_relevant(question: str, passages: Sequence[Passage], names: Sequence[str] = ()) -> bool:
    """True when the retrieved passages share almost none of the question's content terms."""
    if not passages:
        return True
    terms, found = evidence_coverage(question, passages, names)
    return len(terms) >= 2 and len(found) / len(terms) < 0.34
