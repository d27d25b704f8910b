"""Tokenisation for the keyword (BM25) index: English words + jieba for Chinese.

Chunks are stored pre-tokenised (space-separated) in an SQLite FTS5 table whose ``porter unicode61``
tokenizer stems the English tokens; Chinese runs are cut by jieba in search mode (a compound such
as 归属于上市公司股东的净利润 also yields 净利润, 股东, …). Queries go through the same function.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.system import free_cores

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
        _lowest_priority()
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


def _lowest_priority() -> None:
    """Run the calling thread at the lowest CPU priority (Linux: threads have their own nice
    value), so that background work never slows down a question being answered."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass


#: FTS5's bm25() constants (fts5_aux.c)
BM25_K1 = 1.2
BM25_B = 0.75


@dataclass(frozen=True)
class _Copy:
    """One generation's copy of the keyword index: each kept term's rows (``rowids``, ascending)
    and occurrences in them (``freqs``) at ``slots[term]``, FTS5's row count and each row's
    length term ``k1 * (1 - b + b * length / average length)`` by rowid."""

    generation: int
    rows: int
    lengths: np.ndarray  # float64 by rowid
    slots: dict[str, tuple[int, int]]
    rowids: np.ndarray  # int32
    freqs: np.ndarray  # uint16
    build_s: float

    @property
    def nbytes(self) -> int:
        return (
            self.lengths.nbytes
            + self.rowids.nbytes
            + self.freqs.nbytes
            + Postings.TERM_BYTES * len(self.slots)
        )

    def bm25(self, rowids: np.ndarray, freqs: np.ndarray) -> np.ndarray:
        """One term's BM25 in each of ``rowids``, with the operations of FTS5's bm25() in its
        order (fts5Bm25Function), so the scores are the same to the last bit."""
        hits = len(rowids)
        idf = math.log((self.rows - hits + 0.5) / (hits + 0.5))
        if idf <= 0.0:  # a term in more than half the rows: FTS5 uses a tiny positive idf
            idf = 1e-6
        freq = freqs.astype(np.float64)
        return idf * ((freq * (BM25_K1 + 1.0)) / (freq + self.lengths[rowids]))


class Postings:
    """A complete in-memory copy of the keyword index (FTS5's own stemmed terms, the rows holding
    each and how often), scoring a term over the whole index exactly as FTS5's ``bm25()`` does.

    Why: a wide search spends its time in FTS5 computing BM25 for every matching row (4–5 µs a
    row; 24 common words match most of 100k chunks), and :class:`TermScores` only helps once a
    term has been seen. Here each term's scores are a few vectorised operations over its rows
    (~6 bytes a row held), for any term. Built once per catalogue generation by a background
    thread at the lowest CPU priority (the app starts it at warm-up); until it is ready, and
    while a new generation's copy is built, searches go on as before.

    Terms in fewer than ``MIN_ROWS`` rows, and terms past the ``max_mb`` budget (the rarest go
    first), are not held: they are read from FTS5's vocabulary when a search asks (one indexed
    lookup a term). A quoted term that FTS5 cuts into several tokens is a phrase, matched by
    position: its scores come from FTS5 (:meth:`TermScores.get`).
    """

    #: terms in fewer rows than this are read when asked, not held
    MIN_ROWS = 32
    #: what holding one term costs besides its rows (dictionary entry, key, slot)
    TERM_BYTES = 200
    #: a catalogue write while the copy was read: tries before giving up until the next start
    TRIES = 3

    def __init__(self, catalog: Catalog, max_mb: int, phrases: TermScores) -> None:
        self.catalog = catalog
        self.max_bytes = max_mb * 1_000_000
        self.phrases = phrases
        self._lock = threading.Lock()
        self._copy: _Copy | None = None
        self._started = False
        self._worker: threading.Thread | None = None
        self._tokens: _QueryTokens | None = None

    def start(self) -> None:
        """Build the copy for the catalogue's current generation in the background (again,
        later, whenever a search finds the generation moved)."""
        with self._lock:
            self._started = self.max_bytes > 0
            if self._started and (self._worker is None or not self._worker.is_alive()):
                self._worker = threading.Thread(target=self._work, name="bm25-index", daemon=True)
                self._worker.start()

    def wait(self, timeout: float) -> None:
        """Until the background build has finished (benchmarks, tests)."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def info(self) -> dict[str, Any]:
        """Size and build time of the current copy (benchmarks)."""
        copy = self._copy
        if copy is None:
            return {}
        return {
            "generation": copy.generation,
            "terms_held": len(copy.slots),
            "rows_held": len(copy.rowids),
            "mb": round(copy.nbytes / 1e6, 1),
            "build_s": round(copy.build_s, 1),
        }

    def scores(
        self, terms: Sequence[str], generation: int
    ) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """(rowids, BM25 scores) of each of ``terms`` (quoted FTS5 phrases) in their order, as
        FTS5 scores a one-phrase query; None while there is no copy of ``generation``."""
        copy = self._copy
        if copy is None or copy.generation != generation:
            if self._started and (copy is None or copy.generation < generation):
                self.start()
            return None
        if not all(len(t) >= 2 and t[0] == t[-1] == '"' and '"' not in t[1:-1] for t in terms):
            return None
        cut = [self._cut(t[1:-1]) for t in terms]
        unheld = {c[0] for c in cut if len(c) == 1 and c[0] not in copy.slots}
        read = dict(self.catalog.keyword_postings(sorted(unheld))) if unheld else {}
        out: list[tuple[np.ndarray, np.ndarray]] = []
        for term, toks in zip(terms, cut, strict=True):
            if len(toks) > 1:
                out.append(self.phrases.get(term, generation))
                continue
            if not toks:
                continue  # no token: the phrase matches no row
            slot = copy.slots.get(toks[0])
            if slot is not None:
                rowids, freqs = copy.rowids[slot[0] : slot[1]], copy.freqs[slot[0] : slot[1]]
            elif toks[0] in read:
                rowids, freqs = _rows_and_freqs(read[toks[0]])
                if rowids[-1] >= len(copy.lengths):
                    return None  # a row written after the copy: the catalogue moved
            else:
                continue  # in no row
            out.append((rowids, copy.bm25(rowids, freqs)))
        return out

    def _cut(self, text: str) -> tuple[str, ...]:
        if self._tokens is None:
            with self._lock:
                if self._tokens is None:
                    self._tokens = _QueryTokens(self.catalog.keyword_tokenizer())
        return self._tokens.cut(text)

    def _work(self) -> None:
        _lowest_priority()
        for _ in range(self.TRIES):
            generation = self.catalog.generation()
            copy = self._copy
            if copy is not None and copy.generation == generation:
                return
            self._copy = None  # a stale copy is of no use: free its memory first
            try:
                copy = self._build(generation)
            except Exception as err:  # noqa: BLE001 - searches go on without the copy
                log.warning("building the in-memory keyword index failed: %s", err)
                self._started = False  # not tried again at every search; warm-up retries
                return
            if copy is not None and self.catalog.generation() == generation:
                self._copy = copy
                log.info("keyword index in memory: %s", self.info())
                return
        log.info("the catalogue kept changing: no in-memory keyword index for now")

    def _build(self, generation: int) -> _Copy | None:
        """The copy of the index as it is now; None if it changed while being read."""
        t0 = time.perf_counter()
        rows, tokens, sizes = self.catalog.keyword_statistics()
        size = max((r for r, _ in sizes), default=0) + 1
        lengths = np.zeros(size, dtype=np.float64)
        if rows:
            ids = np.fromiter((r for r, _ in sizes), dtype=np.int64, count=len(sizes))
            dl = np.fromiter((n for _, n in sizes), dtype=np.float64, count=len(sizes))
            avgdl = float(tokens) / float(rows)
            # as fts5Bm25Function: k1 * (1 - b + b * D / avgdl), evaluated left to right
            lengths[ids] = BM25_K1 * ((1 - BM25_B) + (BM25_B * dl) / avgdl)
        room = self.max_bytes - lengths.nbytes
        held: dict[str, int] = {}
        for term, n in self.catalog.keyword_terms(self.MIN_ROWS):  # most common first
            room -= n * 6 + self.TERM_BYTES
            if room < 0:
                break
            held[term] = n
        rowids = np.empty(sum(held.values()), dtype=np.int32)
        freqs = np.empty(len(rowids), dtype=np.uint16)
        slots: dict[str, tuple[int, int]] = {}
        at = 0
        for term, text in self.catalog.keyword_postings():  # one pass: fastest
            if term not in held:
                continue
            ids, counts = _rows_and_freqs(text)
            if len(ids) != held[term] or ids[-1] >= size:
                return None  # rows written or deleted meanwhile
            if counts.max() > np.iinfo(np.uint16).max:
                continue  # not held: read when asked
            rowids[at : at + len(ids)] = ids
            freqs[at : at + len(ids)] = counts
            slots[term] = (at, at + len(ids))
            at += len(ids)
        return _Copy(
            generation, rows, lengths, slots, rowids[:at], freqs[:at], time.perf_counter() - t0
        )


def _rows_and_freqs(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Rowids (ascending) and occurrences from a term's comma-separated rowid per occurrence."""
    occurrences = np.fromstring(text, dtype=np.int64, sep=",")
    if len(occurrences) and np.all(occurrences[1:] >= occurrences[:-1]):  # FTS5's order
        starts = np.flatnonzero(np.concatenate(([True], occurrences[1:] != occurrences[:-1])))
        return occurrences[starts], np.diff(np.append(starts, len(occurrences)))
    return np.unique(occurrences, return_counts=True)


class _QueryTokens:
    """FTS5's own tokenisation of query phrases: an in-memory FTS5 table with the keyword index's
    tokenizer and its instance vocabulary, so a term is looked up exactly as FTS5 would cut and
    stem it (porter: "revenues" → "revenu"; unicode61 splits "10-k" into a phrase of two)."""

    SEEN = 4096

    def __init__(self, tokenize: str) -> None:
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        quoted = "'" + tokenize.replace("'", "''") + "'"
        self._conn.execute(f"CREATE VIRTUAL TABLE q USING fts5(t, tokenize = {quoted})")
        self._conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(q, instance)")
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, tuple[str, ...]] = OrderedDict()

    def cut(self, text: str) -> tuple[str, ...]:
        with self._lock:
            toks = self._seen.get(text)
            if toks is None:
                self._conn.execute("INSERT INTO q (rowid, t) VALUES (1, ?)", (text,))
                rows = self._conn.execute('SELECT term FROM v ORDER BY "offset"')
                toks = tuple(r[0] for r in rows)
                self._conn.execute("DELETE FROM q")
                self._seen[text] = toks
                if len(self._seen) > self.SEEN:
                    self._seen.popitem(last=False)
            return toks
