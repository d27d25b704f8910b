"""An in-memory copy of the keyword index, scored exactly as FTS5's ``bm25()`` scores it
(:class:`Postings`), and FTS5's own tokenisation of query phrases. Used by
:class:`backend.store.keywords.KeywordIndex`; its statistics and terms come from the catalogue
(``keyword_statistics``, ``keyword_terms``, ``keyword_postings``, ``keyword_tokenizer``)."""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.system import lowest_priority

if TYPE_CHECKING:
    from backend.store.catalog import Catalog
    from backend.store.keywords import TermScores

log = logging.getLogger(__name__)


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
        lowest_priority()
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
