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
from collections.abc import Sequence
from typing import Any

import numpy as np

from backend.errors import StoreUnavailable
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


class VectorStore:
    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self._settings = settings
        self.embedder = embedder
        self.collection_name = "chunks-" + re.sub(r"[^A-Za-z0-9._-]", "-", embedder.name)[:40]
        self._lock = threading.RLock()
        self._client: Any = None
        self._collection: Any = None
        self._generation: int | None = None

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
        except Exception as err:
            where = (
                f"http://{self._settings.chroma_host}:{self._settings.chroma_port}"
                if self._settings.chroma_mode == "http"
                else str(self._settings.chroma_dir)
            )
            raise StoreUnavailable(
                f"Cannot open the Chroma store at {where} ({err}). For http mode start it with "
                "`chroma run --path DIR`; for embedded mode check the data directory."
            ) from err

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

    def mark_generation(self, generation: int) -> None:
        """Our own writes moved the generation: no reopen needed."""
        with self._lock:
            self._generation = generation

    def add(self, ids: list[str], vectors: np.ndarray, metadatas: list[dict[str, Any]]) -> None:
        if not ids:
            return
        with self._lock:
            self.collection.upsert(ids=ids, embeddings=vectors, metadatas=metadatas)

    def delete_document(self, doc_id: str) -> None:
        with self._lock:
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
        """
        if doc_ids is not None and not doc_ids:
            return []
        where: dict[str, Any] | None = None
        if doc_ids is not None:
            where = {"doc_id": {"$in": list(doc_ids)}}
        with self._lock:
            res = self.collection.query(
                query_embeddings=[vector], n_results=k, where=where, include=["distances"]
            )
        ids = res.get("ids", [[]])[0]
        dists = res.get("distances", [[]])[0]
        return [(i, 1.0 - float(d)) for i, d in zip(ids, dists, strict=False)]
