"""The one wiring function: settings → the services the app and the CLIs use.

Every component receives what it needs through its constructor; this module is the only place
that knows how they fit together. Heavy parts (embedding model, Chroma, the LLM) are created lazily
on first use and then reused for the life of the process; ``app.py`` caches the result of
:func:`build_services` with ``st.cache_resource``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from backend.settings import Settings
from backend.store.catalog import Catalog

if TYPE_CHECKING:
    from backend.answering.agent import Agent
    from backend.answering.chat import ChatService
    from backend.answering.rag import RagEngine
    from backend.answering.retrieval import Retriever
    from backend.app.admin import AdminService
    from backend.app.auth import PasswordGate
    from backend.app.conversations import ConversationService
    from backend.app.jobs import IngestQueue, ModelWarmup
    from backend.llm.clients import LLMProvider
    from backend.store.embeddings import Embedder
    from backend.store.facts import FactStore
    from backend.store.tables import TableStore
    from backend.store.vectors import VectorStore
    from ingestion.pipeline import Ingestor

log = logging.getLogger(__name__)


@dataclass
class Services:
    """The application's components, each built on first use."""

    settings: Settings
    catalog: Catalog

    @cached_property
    def embedder(self) -> Embedder:
        from backend.store.embeddings import make_embedder

        s = self.settings
        return make_embedder(
            s.embedder,
            s.embed_batch_size,
            threads=s.embed_threads,
            precision=s.embed_precision,
            settings=s,
        )

    @cached_property
    def store(self) -> VectorStore:
        from backend.store.vectors import VectorStore

        return VectorStore(self.settings, self.embedder)

    @cached_property
    def facts(self) -> FactStore:
        from backend.store.facts import FactStore

        return FactStore(self.catalog)

    @cached_property
    def tables(self) -> TableStore:
        from backend.store.tables import TableStore

        return TableStore(self.catalog)

    @cached_property
    def retriever(self) -> Retriever:
        from backend.answering.retrieval import Retriever

        s = self.settings
        return Retriever(
            self.catalog,
            self.store,
            retrieve_k=s.retrieve_k,
            facts=self.facts,
            search_threads=s.search_threads,
            keyword_cache_mb=s.keyword_cache_mb,
            keyword_index_mb=s.keyword_index_mb,
        )

    @cached_property
    def llm(self) -> LLMProvider:
        from backend.llm.clients import LLMProvider

        return LLMProvider(self.settings)

    @cached_property
    def agent(self) -> Agent:
        from backend.answering.agent import Agent

        s = self.settings
        return Agent(
            self.retriever,
            self.facts,
            self.llm,
            top_k=s.top_k,
            max_tokens=s.max_answer_tokens,
            tables=self.tables,
            evidence_tokens=s.evidence_tokens,
            max_steps=s.planner_steps,
        )

    @cached_property
    def rag(self) -> RagEngine:
        from backend.answering.rag import RagEngine

        s = self.settings
        return RagEngine(self.retriever, self.llm, top_k=s.top_k, max_tokens=s.max_answer_tokens)

    @cached_property
    def chat(self) -> ChatService:
        from backend.answering.chat import ChatService

        return ChatService(self.retriever, self.agent, self.rag)

    @cached_property
    def ingestor(self) -> Ingestor:
        from ingestion.pipeline import Ingestor

        return Ingestor(self.settings, self.catalog, self.store)

    # -- background work of the app (backend/app/jobs.py, backend/app/admin.py) ------------------
    @cached_property
    def jobs(self) -> IngestQueue:
        from backend.app.jobs import IngestQueue

        return IngestQueue(self.settings, self.catalog, lambda: self.ingestor)

    @cached_property
    def warmup(self) -> ModelWarmup:
        from backend.app.jobs import ModelWarmup

        return ModelWarmup(
            lambda: self.retriever.warm_up(),
            lambda: self.embedder.embed_query("warm-up"),
            lambda: self.llm.get(),
        )

    @cached_property
    def admin(self) -> AdminService:
        from backend.app.admin import AdminService

        return AdminService(self.settings)

    # -- the workbench: conversations, feedback, the password gate ------------------------------
    @cached_property
    def conversations(self) -> ConversationService:
        from backend.app.conversations import ConversationService
        from backend.store.conversations import ConversationStore

        return ConversationService(
            ConversationStore(self.catalog),
            lambda: self.chat,
            mode=self.settings.chat_mode,
            data_dir=self.settings.data_dir,
        )

    @cached_property
    def gate(self) -> PasswordGate:
        from backend.app.auth import PasswordGate
        from backend.store.throttle import AttemptLog

        return PasswordGate(self.settings, AttemptLog(self.catalog))


def build_services(settings: Settings) -> Services:
    """Build every service from one settings object (nothing heavy happens here)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Services(settings=settings, catalog=Catalog(settings.catalog_path))
