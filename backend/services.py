"""The one wiring function: settings → the services the app and the CLIs use.

Heavy parts (embedding model, Chroma, the LLM) are created lazily on first use and then reused for
the life of the process; ``app.py`` caches the result of :func:`build_services` with
``st.cache_resource``.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from backend.catalog import Catalog
from backend.settings import Settings

if TYPE_CHECKING:
    from backend.admin import AdminService
    from backend.agent import Agent
    from backend.answer import RagEngine
    from backend.chat import ChatService
    from backend.embeddings import Embedder
    from backend.facts import FactStore
    from backend.jobs import IngestQueue, ModelWarmup
    from backend.llm import LLMProvider
    from backend.retrieval import Retriever
    from backend.vectorstore import VectorStore
    from ingestion.pipeline import Ingestor

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def embedder(self) -> Embedder:
        from backend.embeddings import make_embedder

        return make_embedder(
            self.settings.embedder,
            self.settings.embed_batch_size,
            precision=self.settings.embed_precision,
        )

    @cached_property
    def store(self) -> VectorStore:
        from backend.vectorstore import VectorStore

        return VectorStore(self.settings, self.embedder)

    @cached_property
    def retriever(self) -> Retriever:
        from backend.retrieval import Retriever

        return Retriever(
            self.catalog, self.store, retrieve_k=self.settings.retrieve_k, facts=self.facts
        )

    @cached_property
    def llm(self) -> LLMProvider:
        from backend.llm import LLMProvider

        return LLMProvider(self.settings)

    @cached_property
    def rag(self) -> RagEngine:
        from backend.answer import RagEngine

        return RagEngine(
            self.retriever,
            self.llm,
            top_k=self.settings.top_k,
            max_tokens=self.settings.max_answer_tokens,
        )

    @cached_property
    def facts(self) -> FactStore:
        from backend.facts import FactStore

        return FactStore(self.catalog)

    @cached_property
    def agent(self) -> Agent:
        from backend.agent import Agent

        return Agent(
            self.retriever,
            self.facts,
            self.llm,
            top_k=self.settings.top_k,
            max_tokens=self.settings.max_answer_tokens,
        )

    @cached_property
    def chat(self) -> ChatService:
        from backend.chat import ChatService

        return ChatService(self)

    @cached_property
    def ingestor(self) -> Ingestor:
        from ingestion.pipeline import Ingestor

        return Ingestor(self.settings, self.catalog, self.store)

    # -- app background work (backend/jobs.py, backend/admin.py) ------------------------------
    @cached_property
    def jobs(self) -> IngestQueue:
        from backend.jobs import IngestQueue

        return IngestQueue(self)

    @cached_property
    def warmup(self) -> ModelWarmup:
        from backend.jobs import ModelWarmup

        return ModelWarmup(self)

    @cached_property
    def admin(self) -> AdminService:
        from backend.admin import AdminService

        return AdminService(self.settings)


def build_services(settings: Settings) -> Services:
    """Build every service from one settings object (nothing heavy happens here)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Services(settings=settings, catalog=Catalog(settings.catalog_path))
