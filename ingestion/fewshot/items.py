"""One generated training example before filtering, and its JSONL line (the training contract).

Line format (read by :mod:`training.data`)::

    {"id": str,
     "messages": [{"role": "system"|"user"|"assistant", "content": str}, ...],
     "provenance": {"doc_id", "file", "page", "generator", "seed_ids", "type", "language",
                    "format", "split", "cited", "sources", "user_answer", ...}}

``messages`` end with the one assistant turn that is the training target; earlier assistant turns
are the fixed few-shot examples of the app's prompts (``provenance.loss_on`` says so).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from backend.answering.retrieval import Passage

TYPES = (
    "lookup", "yoy_change", "ratio", "compare", "calculation", "narrative", "refusal",
    "agent_trace",
)  # fmt: skip


@dataclass
class Candidate:
    """A proposed item: the model-facing messages plus everything needed to verify it."""

    type: str
    language: str
    question: str
    generator: str
    fmt: str  # "answer" (rag_messages) | "tool_call" (planner_messages)
    messages: list[dict[str, str]]
    passages: list[Passage]  # the numbered sources of the last user turn
    doc_ids: list[str]
    file: str
    page: int | None
    cited: list[tuple[str, str, int]] = field(default_factory=list)  # (doc_id, file, page)
    seed_ids: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    split: str = ""

    @property
    def output(self) -> str:
        return self.messages[-1]["content"]

    @property
    def item_id(self) -> str:
        h = hashlib.sha1(
            "\x1f".join([self.generator, self.question, self.output, *self.doc_ids]).encode()
        ).hexdigest()[:12]
        return f"{self.type}-{self.language}-{h}"

    def provenance(self) -> dict[str, Any]:
        prov: dict[str, Any] = {
            "doc_id": self.doc_ids[0] if self.doc_ids else "",
            "file": self.file,
            "page": self.page,
            "generator": self.generator,
            "seed_ids": list(self.seed_ids),
            "type": self.type,
            "language": self.language,
            "format": self.fmt,
            "split": self.split,
            "question": self.question,
            "doc_ids": list(self.doc_ids),
            "cited": [{"doc_id": d, "file": f, "page": p} for d, f, p in self.cited],
            "sources": [
                {
                    "n": i,
                    "doc_id": p.doc_id,
                    "file": p.file_name,
                    "page": p.page,
                    "chunk_id": p.chunk_id,
                }
                for i, p in enumerate(self.passages, start=1)
            ],
            "loss_on": "last_assistant",
        }
        prov.update(self.extra)
        return prov

    def to_line(self) -> dict[str, Any]:
        return {"id": self.item_id, "messages": self.messages, "provenance": self.provenance()}
