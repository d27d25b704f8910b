"""Tokenisation for the keyword (BM25) index: English words + jieba for Chinese.

Chunks are stored pre-tokenised (space-separated) in an SQLite FTS5 table whose ``porter unicode61``
tokenizer stems the English tokens; Chinese runs are cut by jieba in search mode (a compound such
as 归属于上市公司股东的净利润 also yields 净利润, 股东, …). Queries go through the same function.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections import OrderedDict
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.store.postings import Postings
from backend.system import free_cores, lowest_priority

if TYPE_CHECKING:
    from backend.store.catalog import Catalog

log = logging.getLogger(__name__)

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9&'\-]*|\d[\d,]*(?:\.\d+)?%?")
_SPLIT = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")

STOPWORDS = frozenset(
    """a about above after all also am an and any are as at be been being below between both but by
    can could did do does doing during each few for from had has have having he her here hers him his
    how i if in into is it its itself just me more most my no nor not of off on once only or other our
    ours out over own same she should so some such than that the their theirs them then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours please provide tell give show find state based report
    reports annual company company's fy year years
    的 了 和 是 在 及 与 或 等 为 对 于 其 中 年 请 多少 什么 哪些 是否 公司""".split()
)

# Financial terms jieba should keep whole (it also cuts them into sub-words in search mode).
FINANCE_TERMS = (
    "营业收入 营业总收入 营业成本 营业利润 利润总额 净利润 归属于母公司所有者的净利润 归属于上市公司股东的净利润 "
    "扣除非经常性损益 经营活动产生的现金流量净额 投资活动产生的现金流量净额 筹资活动产生的现金流量净额 "
    "资产总计 负债合计 所有者权益合计 股东权益合计 应收账款 应付账款 存货 货币资金 研发费用 研发投入 "
    "销售费用 管理费用 财务费用 资本公积 未分配利润 每股收益 基本每股收益 稀释每股收益 加权平均净资产收益率 "
    "母公司 合并利润表 合并资产负债表 合并现金流量表 会计师事务所 境内会计师事务所 非经常性损益 "
    "固定资产 无形资产 在建工程 短期借款 长期借款 应付职工薪酬 营业外收入 营业外支出 所得税费用"
).split()

_jieba_lock = threading.Lock()


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    with _jieba_lock:
        for term in FINANCE_TERMS:
            jieba.add_word(term, freq=200000)
        jieba.initialize()
    return jieba


def tokens(text: str, *, drop_stopwords: bool = False) -> list[str]:
    """Lower-cased word tokens; Chinese runs cut by jieba (search mode); numbers without commas."""
    out: list[str] = []
    for part in _SPLIT.split(text):
        if not part:
            continue
        if _CJK_RUN.fullmatch(part):
            for tok in _jieba().cut_for_search(part, HMM=True):
                tok = tok.strip()
                if tok and not (drop_stopwords and tok in STOPWORDS):
                    out.append(tok)
            continue
        for m in _WORD.finditer(part):
            tok = m.group(0).lower().replace(",", "").strip("'-")
            if not tok or (drop_stopwords and tok in STOPWORDS):
                continue
            out.append(tok)
    return out


def index_tokens(text: str) -> str:
    """The string stored in the FTS5 table for one chunk."""
    return " ".join(tokens(text))


def match_terms(text: str, max_terms: int = 24) -> list[str]:
    """The quoted FTS5 phrases of a natural-language question (first ``max_terms`` distinct)."""
    seen: list[str] = []
    for tok in tokens(text, drop_stopwords=True):
        if len(tok) == 1 and not _CJK_RUN.fullmatch(tok):
            continue
        if tok not in seen:
            seen.append(tok)
    return ['"' + t.replace('"', "") + '"' for t in seen[:max_terms]]


def match_query(text: str, max_terms: int = 24) -> str:
    """An FTS5 MATCH expression (OR of quoted terms) for a natural-language question."""
    return " OR ".join(match_terms(text, max_terms))


class KeywordIndex:
    """BM25 search over the catalogue's FTS5 index, ranked exactly as before, without scoring
    rows that cannot be returned.

    Profiled (bench/query.py): the plain query scored every row of the whole index holding any of
    up to 24 terms (most rows, for words such as "total" or "income"), joined each to its
    document to keep complete ones and read each row's ``doc_id`` to keep the question's reports.
    Here, a report's rows are one contiguous rowid range (written in one transaction) and FTS5
    seeks to a rowid range, so a search reads only the rows of the reports asked about; the
    ranges of neighbouring reports merge into one. A search over many rows splits them into
    ``threads`` pieces searched at once (SQLite runs them in parallel; 0: the cores free now).
    BM25's statistics (idf, average length) are the whole index's in every piece, so the scores,
    and the merged ranking, are the plain query's.

    Once the in-memory copy of the index (:class:`Postings`) is built, a search adds up its terms'
    single-term BM25 scores computed from it instead (BM25 of ``"a" OR "b"`` is the sum of the
    single-term scores, so this too is the plain query's ranking); until then, a search over
    more than ``CACHE_ROWS`` rows whose terms were all seen before adds up their kept scores
    (:class:`TermScores`).
    """

    #: below this many rows a search is not split over threads
    SPLIT_ROWS = 20_000
    #: without the in-memory copy, searches over more rows than this add up kept term scores
    CACHE_ROWS = 20_000

    def __init__(
        self, catalog: Catalog, threads: int = 1, cache_mb: int = 64, index_mb: int = 0
    ) -> None:
        self.catalog = catalog
        self.threads = threads
        self.terms = TermScores(catalog, max_rows=cache_mb * 1_000_000 // 12)
        #: the in-memory copy of the index (built by :meth:`Postings.start`, at the app's warm-up)
        self.postings = Postings(catalog, max_mb=index_mb, phrases=self.terms)
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._ranges: list[tuple[int, int, int, str]] = []  # (first, last, rows, doc) by rowid

    def search(
        self, terms: Sequence[str], doc_ids: Collection[str], limit: int, generation: int
    ) -> list[tuple[str, float]]:
        """Best ``limit`` chunks among ``doc_ids`` for the OR of ``terms`` (quoted FTS5 phrases)
        → [(chunk_id, score)] best first."""
        if not terms or not doc_ids or limit < 1:
            return []
        with self._lock:
            if generation != self._generation:
                self._ranges = sorted(
                    (first, last, rows, doc)
                    for doc, first, last, rows in self.catalog.keyword_layout()
                )
                self._generation = generation
            spans = self._spans(set(doc_ids))
        rows = sum(last - first + 1 for first, last, _ in spans)
        found = None
        if all(doc is None for _, _, doc in spans):
            # the copy, when built, for any rows (~4 ms against ~20 ms for FTS5 within a report
            # of the dev index); else kept scores for many rows if all terms were seen before
            scores = self.postings.scores(terms, generation)  # None: no copy of this generation
            if scores is None and rows > self.CACHE_ROWS:
                scores = self.terms.lookup(terms, generation)  # None: not all seen (fetched)
            if scores is not None:
                found = _add_up(scores, spans, limit)
        if found is None:
            found = self._search_fts(" OR ".join(terms), spans, rows, limit)
        found = found[:limit]
        names = self.catalog.keyword_chunk_ids([r for r, _ in found])
        return [(names[r], s) for r, s in found if r in names]

    def _search_fts(
        self, match: str, spans: list[tuple[int, int, str | None]], rows: int, limit: int
    ) -> list[tuple[int, float]]:
        """FTS5's own ranking within ``spans``, split over threads when they hold many rows."""
        threads = self.threads or free_cores()
        if threads <= 1 or rows <= self.SPLIT_ROWS:
            return self.catalog.keyword_search_rows(match, spans, limit)
        pieces = _split(spans, threads)
        with ThreadPoolExecutor(len(pieces)) as pool:
            parts = pool.map(
                lambda piece: self.catalog.keyword_search_rows(match, piece, limit), pieces
            )
            return sorted((h for part in parts for h in part), key=lambda rs: -rs[1])

    def _spans(self, allowed: set[str]) -> list[tuple[int, int, str | None]]:
        """Rowid ranges holding exactly the rows of ``allowed`` documents: runs of neighbouring
        allowed documents merge; a document whose rows are not contiguous keeps a doc filter."""
        spans: list[list[Any]] = []  # [first, last, doc filter or None]
        open_run = False
        for first, last, rows, doc in self._ranges:
            contiguous = last - first + 1 == rows
            if doc in allowed and contiguous and open_run:
                spans[-1][1] = last
            elif doc in allowed:
                spans.append([first, last, None if contiguous else doc])
            open_run = doc in allowed and contiguous
        return [(first, last, doc) for first, last, doc in spans]


def _split(
    spans: list[tuple[int, int, str | None]], pieces: int
) -> list[list[tuple[int, int, str | None]]]:
    """``spans`` cut into ``pieces`` lists of about the same number of rowids."""
    total = sum(last - first + 1 for first, last, _ in spans)
    size = -(-total // pieces)
    out: list[list[tuple[int, int, str | None]]] = [[]]
    room = size
    for first, last, doc in spans:
        while first <= last:
            if room == 0:
                out.append([])
                room = size
            end = min(last, first + room - 1) if doc is None else last
            out[-1].append((first, end, doc))
            room = max(0, room - (end - first + 1))
            first = end + 1
    return [p for p in out if p]


def _add_up(
    scores: list[tuple[np.ndarray, np.ndarray]], spans: list[tuple[int, int, Any]], limit: int
) -> list[tuple[int, float]]:
    """Top ``limit`` rows of the summed per-term scores within ``spans`` (in the terms' order, as
    FTS5 adds them) → [(rowid, score)] best first."""
    size = max([int(r.max()) + 1 for r, _ in scores if len(r)] + [last + 1 for _, last, _ in spans])
    total = np.zeros(size, dtype=np.float64)
    for rowids, values in scores:
        total[rowids] += values
    inside = np.zeros(size, dtype=bool)
    for first, last, _ in spans:
        inside[first : last + 1] = True
    candidates = np.flatnonzero((total > 0) & inside)
    if len(candidates) > limit:
        candidates = candidates[np.argpartition(-total[candidates], limit - 1)[:limit]]
    order = np.lexsort((candidates, -total[candidates]))
    return [(int(r), float(total[r])) for r in candidates[order]]


class TermScores:
    """Each term's BM25 scores over the whole keyword index, kept in memory (LRU, ``max_rows``
    (rowid, score) pairs; dropped when the catalogue's generation moves).

    A term not yet kept is fetched by a background thread at the lowest CPU priority, so the
    question that first uses it pays the plain FTS5 query and later questions sharing its terms
    (most words of financial questions recur) add up kept scores in a few milliseconds.
    """

    def __init__(self, catalog: Catalog, max_rows: int) -> None:
        self.catalog = catalog
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._rows = 0
        self._generation: int | None = None
        self._wanted: queue.Queue[tuple[str, int]] = queue.Queue()
        self._pending: set[str] = set()
        self._worker: threading.Thread | None = None

    def lookup(
        self, terms: Sequence[str], generation: int
    ) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """The kept scores of ``terms`` in their order, or None: the terms not kept yet are
        fetched in the background and this search runs the FTS5 query. (Fetching a new term
        here instead can cost more than that query: "total" holds 18k of 100k rows.)"""
        with self._lock:
            self._follow(generation)
            if all(t in self._kept for t in terms):
                for t in terms:
                    self._kept.move_to_end(t)
                return [self._kept[t] for t in terms]
            for t in dict.fromkeys(terms):
                if t not in self._kept and t not in self._pending and self.max_rows > 0:
                    self._pending.add(t)
                    self._wanted.put((t, generation))
            if self._pending and (self._worker is None or not self._worker.is_alive()):
                self._worker = threading.Thread(target=self._work, name="bm25-terms", daemon=True)
                self._worker.start()
        return None

    def wait(self, timeout: float) -> None:
        """Until the background thread has fetched what it was asked for (benchmarks)."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def get(self, term: str, generation: int) -> tuple[np.ndarray, np.ndarray]:
        """The scores of ``term``: kept, or fetched now (and kept). For a multi-token phrase,
        which matches few rows: its FTS5 query is cheap, unlike a common word's."""
        with self._lock:
            self._follow(generation)
            kept = self._kept.get(term)
            if kept is not None:
                self._kept.move_to_end(term)
                return kept
        return self._fetch(term, generation)

    def fill(self, terms: Sequence[str], generation: int) -> None:
        """Fetch and keep ``terms`` now (what the background thread does)."""
        for term in terms:
            self._fetch(term, generation)

    def _follow(self, generation: int) -> None:
        if generation != self._generation:
            self._kept.clear()
            self._rows = 0
            self._generation = generation

    def _fetch(self, term: str, generation: int) -> tuple[np.ndarray, np.ndarray]:
        pairs = self.catalog.term_scores(term)
        rowids = np.fromiter((r for r, _ in pairs), dtype=np.int64, count=len(pairs))
        values = np.fromiter((s for _, s in pairs), dtype=np.float64, count=len(pairs))
        with self._lock:
            self._pending.discard(term)
            if self._generation is None:
                self._follow(generation)
            if generation != self._generation or len(pairs) > self.max_rows:
                return rowids, values  # the index changed meanwhile, or too big to keep
            self._kept[term] = (rowids, values)
            self._rows += len(pairs)
            while self._rows > self.max_rows:
                _, (old, _) = self._kept.popitem(last=False)
                self._rows -= len(old)
        return rowids, values

    def _work(self) -> None:
        lowest_priority()
        while True:
            try:
                term, generation = self._wanted.get(timeout=1.0)
            except queue.Empty:
                return
            try:
                self._fetch(term, generation)
            except Exception as err:  # noqa: BLE001 - a term not kept is fetched again later
                log.info("keeping BM25 scores of %s failed: %s", term, err)
                with self._lock:
                    self._pending.discard(term)
