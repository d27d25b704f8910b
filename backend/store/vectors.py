"""Chroma, embedded on disk or over HTTP, holding one collection per embedder.

Chroma is given an explicit embedding function (ours): its default would try to download a model
and fail offline. Vectors carry ``doc_id``/``page``/``company``/``fiscal_year`` metadata; search
filters on the ids of *complete* documents from the catalogue, so vectors of a document still being
indexed (or of a killed run) are never returned.

An embedded Chroma client keeps its HNSW index in memory: writes by another process (the CLI next
to the app) are invisible to it until it is reopened. :meth:`VectorStore.refresh` reopens it when the
catalogue's generation counter has moved. Worse, a client that *writes* with a stale index persists
that index without the other process's vectors (measured with chromadb 1.5.9: 3,000 vectors added
by process B vanished from search after process A, opened before B wrote, added its own), so every
writer reopens the store when it takes the writer lock (:meth:`VectorStore.reopen`). Operations hold
a lock so that a reopen never closes the client under a running query.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from backend.errors import ChromaServerDown, StoreUnavailable
from backend.settings import Settings
from backend.store.embeddings import Embedder

log = logging.getLogger(__name__)


class _ChromaEmbeddingFunction:
    """Adapter so that Chroma never falls back to its downloading default.

    Registered with Chroma under the name "annalyst" so that reopening a collection rebuilds a
    placeholder (``embedder=None``) instead of warning; every open passes the real one.
    """

    def __init__(self, embedder: Embedder | None) -> None:
        self._embedder = embedder

    def _require(self) -> Embedder:
        if self._embedder is None:
            raise StoreUnavailable(
                "This Chroma collection was opened without Annalyst's embedder; open it through "
                "backend.vectorstore.VectorStore."
            )
        return self._embedder

    def __call__(self, input: list[str]) -> list[np.ndarray]:  # noqa: A002 - Chroma's signature
        return list(self._require().embed_documents(list(input)))

    def embed_query(self, input: list[str]) -> list[np.ndarray]:  # noqa: A002
        return [self._require().embed_query(t) for t in input]

    @staticmethod
    def name() -> str:
        return "annalyst"

    def is_legacy(self) -> bool:
        return False

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> _ChromaEmbeddingFunction:
        return _ChromaEmbeddingFunction(None)

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine"]


def _connection_error(err: BaseException) -> BaseException | None:
    """The network fault behind ``err`` (refused, reset, timed out), or None."""
    import httpx

    seen: BaseException | None = err
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, (httpx.TransportError, ConnectionError, TimeoutError)):
            return seen
        text = str(seen).lower()
        if "could not connect" in text or "connection refused" in text:
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class _ServerCollection:
    """A Chroma collection on a server: a call that cannot reach the server raises
    :class:`ChromaServerDown` (one line with the remedy) instead of an HTTP library's error."""

    def __init__(self, collection: Any, store: VectorStore) -> None:
        self._collection = collection
        self._store = store

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._collection, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attr(*args, **kwargs)
            except Exception as err:
                self._store._raise_if_down(err)
                raise

        return call


class VectorStore:
    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self._settings = settings
        self.embedder = embedder
        self.collection_name = "chunks-" + re.sub(r"[^A-Za-z0-9._-]", "-", embedder.name)[:40]
        self._lock = threading.RLock()
        self._client: Any = None
        self._collection: Any = None
        self._generation: int | None = None
        self._vectors: OrderedDict[str, tuple[list[str], np.ndarray]] = OrderedDict()
        self._cached = 0  # vectors held in _vectors

    def _open(self) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from chromadb.utils.embedding_functions import known_embedding_functions

        known_embedding_functions.setdefault("annalyst", _ChromaEmbeddingFunction)

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if self._settings.chroma_mode == "http":
                self._client = chromadb.HttpClient(
                    host=self._settings.chroma_host,
                    port=self._settings.chroma_port,
                    settings=chroma_settings,
                )
            else:
                self._settings.chroma_dir.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(
                    path=str(self._settings.chroma_dir), settings=chroma_settings
                )
            self._collection = self._client.get_or_create_collection(
                self.collection_name,
                embedding_function=_ChromaEmbeddingFunction(self.embedder),
                metadata={"hnsw:space": "cosine", "embedder": self.embedder.name},
            )
            if self._settings.chroma_mode == "http":
                self._collection = _ServerCollection(self._collection, self)
        except Exception as err:
            self._client = self._collection = None
            self._raise_if_down(err)
            where = self.url if self._settings.chroma_mode == "http" else self._settings.chroma_dir
            raise StoreUnavailable(
                f"Cannot open the Chroma store at {where} ({err}). For http mode start it with "
                "`chroma run --path DIR`; for embedded mode check the data directory."
            ) from err

    @property
    def url(self) -> str:
        return f"http://{self._settings.chroma_host}:{self._settings.chroma_port}"

    def _raise_if_down(self, err: Exception) -> None:
        """In http mode, a fault that means the server is unreachable becomes
        :class:`ChromaServerDown`; the next operation connects again."""
        if self._settings.chroma_mode != "http" or isinstance(err, ChromaServerDown):
            return
        cause = _connection_error(err)
        if cause is not None:
            self._client = self._collection = None
            raise ChromaServerDown(self.url, f"{type(cause).__name__}: {cause}"[:160]) from err

    @property
    def collection(self) -> Any:
        with self._lock:
            if self._collection is None:
                self._open()
            return self._collection

    def refresh(self, generation: int) -> None:
        """Reopen an embedded client when another process has changed the store."""
        with self._lock:
            if self._generation is None:
                self._generation = generation
                return
            if generation != self._generation:
                log.info("store changed by another process; reopening Chroma")
                self._close()
            self._generation = generation

    def reopen(self) -> None:
        """Drop the client: the next operation reads the store from disk (sees every process's
        writes). Call before writing, under the writer lock."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._client is not None and self._settings.chroma_mode == "embedded":
            try:
                self._client.close()  # stops the shared system once its last client closes
            except Exception as err:  # noqa: BLE001 - reopening is what matters
                log.warning("closing the Chroma client failed: %s", err)
        self._client = self._collection = None
        self._forget()

    def _forget(self, doc_ids: Sequence[str] | None = None) -> None:
        """Drop in-memory copies of vectors (all, or those of ``doc_ids``)."""
        for d in list(self._vectors) if doc_ids is None else doc_ids:
            ids, _ = self._vectors.pop(d, ([], None))
            self._cached -= len(ids)

    def mark_generation(self, generation: int) -> None:
        """Our own writes moved the generation: no reopen needed."""
        with self._lock:
            self._generation = generation

    def add(self, ids: list[str], vectors: np.ndarray, metadatas: list[dict[str, Any]]) -> None:
        if not ids:
            return
        with self._lock:
            self._forget({str(m.get("doc_id", "")) for m in metadatas})
            self.collection.upsert(ids=ids, embeddings=vectors, metadatas=metadatas)

    def delete_document(self, doc_id: str) -> None:
        with self._lock:
            self._forget([doc_id])
            self.collection.delete(where={"doc_id": doc_id})

    def ids_of(self, doc_id: str) -> list[str]:
        """Ids of every vector stored for ``doc_id`` (any build, visible or not)."""
        with self._lock:
            return list(self.collection.get(where={"doc_id": doc_id}, include=[])["ids"])

    def delete_ids(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), 5000):
            with self._lock:
                self.collection.delete(ids=list(ids[start : start + 5000]))

    def count(self) -> int:
        with self._lock:
            return int(self.collection.count())

    def search(
        self, vector: np.ndarray, k: int, doc_ids: Sequence[str] | None
    ) -> list[tuple[str, float]]:
        """Nearest chunks among ``doc_ids`` → [(chunk_id, cosine similarity)] best first.

        Pass the ids of *complete* documents (the catalogue's): vectors of a document still being
        indexed, or left by a killed run, are then never returned. None searches every vector.

        Chroma's ``where`` filter costs ~35 ms for one report and ~250 ms for the 78 of the dev
        index (it lists the matching ids in SQLite on every query) against ~2 ms for the HNSW
        search itself, so: a search within a few reports ranks their vectors exactly (kept in
        memory after first use, or preloaded); a wider one asks HNSW for more neighbours than it
        needs and drops those of other documents, widening the search until it has ``k`` (the
        filter is the last resort).
        """
        if doc_ids is not None and not doc_ids:
            return []
        if k < 1:
            return []
        if doc_ids is None:
            return self._query(vector, k, None)
        allowed = set(doc_ids)
        with self._lock:
            missing = sum(d not in self._vectors for d in allowed)
            if self._budget > 0 and missing <= self.LOAD_DOCS and len(allowed) <= self.EXACT_DOCS:
                return self._exact(vector, k, allowed)
        if len(allowed) <= self.LOAD_DOCS:
            one = len(allowed) == 1
            return self._query(
                vector, k, {"doc_id": next(iter(allowed)) if one else {"$in": sorted(allowed)}}
            )
        return self._widening(vector, k, allowed)

    #: a search within at most this many reports not yet in memory loads their vectors
    LOAD_DOCS = 2
    #: a search within more reports than this goes to HNSW (a few ms whatever the store's size)
    EXACT_DOCS = 8

    @property
    def _budget(self) -> int:
        """Vectors that fit in ``vector_cache_mb``."""
        return int(self._settings.vector_cache_mb * 1e6 // (4 * max(self.embedder.dim, 1)))

    def preload(self, doc_ids: Sequence[str]) -> int:
        """Load the vectors of ``doc_ids`` (in this order, while they fit in the memory budget)
        for report-scoped searches; returns how many documents are in memory."""
        loaded = 0
        for doc_id in doc_ids:
            with self._lock:
                if doc_id not in self._vectors and self._cached >= self._budget:
                    break
                self._doc_vectors(doc_id)
                loaded += 1
        return loaded

    def _query(
        self, vector: np.ndarray, n: int, where: dict[str, Any] | None, metadatas: bool = False
    ) -> list[tuple[str, float]] | list[tuple[str, float, str]]:
        include = ["distances", "metadatas"] if metadatas else ["distances"]
        with self._lock:
            res = self.collection.query(
                query_embeddings=[vector], n_results=n, where=where, include=include
            )
        ids = res.get("ids", [[]])[0]
        sims = [1.0 - float(d) for d in res.get("distances", [[]])[0]]
        if not metadatas:
            return list(zip(ids, sims, strict=False))
        docs = [str((m or {}).get("doc_id", "")) for m in res.get("metadatas", [[]])[0]]
        return list(zip(ids, sims, docs, strict=False))

    def _widening(self, vector: np.ndarray, k: int, allowed: set[str]) -> list[tuple[str, float]]:
        n = 2 * k + 10
        while n <= 1000:
            hits = self._query(vector, n, None, metadatas=True)
            kept = [(i, s) for i, s, d in hits if d in allowed]
            if len(kept) >= k or len(hits) < n:  # enough, or every vector seen
                return kept[:k]
            n *= 4
        return self._query(vector, k, {"doc_id": {"$in": sorted(allowed)}})

    def _doc_vectors(self, doc_id: str) -> tuple[list[str], np.ndarray]:
        """A document's ids and unit vectors (under the lock; LRU)."""
        hit = self._vectors.get(doc_id)
        if hit is not None:
            self._vectors.move_to_end(doc_id)
            return hit
        got = self.collection.get(where={"doc_id": doc_id}, include=["embeddings"])
        matrix = np.asarray(got.get("embeddings"), dtype=np.float32).reshape(len(got["ids"]), -1)
        if len(matrix):
            matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        hit = (list(got["ids"]), matrix)
        self._vectors[doc_id] = hit
        self._cached += len(hit[0])
        while self._cached > self._budget and len(self._vectors) > 1:
            _, (old, _) = self._vectors.popitem(last=False)
            self._cached -= len(old)
        return hit

    def _exact(self, vector: np.ndarray, k: int, allowed: set[str]) -> list[tuple[str, float]]:
        """Exact cosine ranking over the vectors of ``allowed`` (under the lock)."""
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        best: list[tuple[float, str]] = []
        for doc_id in sorted(allowed):
            ids, matrix = self._doc_vectors(doc_id)
            if not ids:
                continue
            sims = matrix @ query
            top = np.argpartition(-sims, k - 1)[:k] if len(sims) > k else np.arange(len(sims))
            best += [(float(sims[i]), ids[i]) for i in top]
        best.sort(key=lambda si: -si[0])
        return [(cid, sim) for sim, cid in best[:k]]
