"""Conversations, their turns and the user's feedback on answers, in the catalogue's SQLite file
(through :class:`backend.store.catalog.Catalog`'s connections; these tables are created here on
first use). Answers are stored as JSON documents: this layer does not know the answer record
(:mod:`backend.app.conversations` converts).

Feedback rows copy the question and answer they rate, so a correction stays reviewable (and
usable as a training item) after its conversation is deleted.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from backend.errors import ConversationNotFound
from backend.store.catalog import Catalog, now
from backend.store.schema import LazySchema

_DDL = """
CREATE TABLE IF NOT EXISTS conversations (
    conv_id TEXT PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conv_id TEXT NOT NULL REFERENCES conversations(conv_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    filters TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    PRIMARY KEY (conv_id, seq)
);
CREATE TABLE IF NOT EXISTS feedback (
    conv_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    rating INTEGER NOT NULL DEFAULT 0,          -- 1 thumbs up, -1 thumbs down, 0 none
    correction TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    review TEXT NOT NULL DEFAULT 'pending',     -- pending | accepted | rejected
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (conv_id, seq)
);
CREATE INDEX IF NOT EXISTS conversations_recent ON conversations (updated_at);
"""

TITLE_CHARS = 80


@dataclass
class ConversationRow:
    conv_id: str
    title: str
    created_at: str
    updated_at: str
    turns: int = 0


@dataclass
class TurnRow:
    conv_id: str
    seq: int
    question: str
    answer: dict[str, Any]
    filters: dict[str, Any]
    created_at: str


@dataclass
class FeedbackRow:
    conv_id: str
    seq: int
    rating: int
    correction: str
    question: str
    answer: str
    review: str
    created_at: str
    updated_at: str


def title_from(question: str) -> str:
    """A conversation's title: its first question on one line, cut at a word."""
    text = " ".join(question.split())
    if len(text) <= TITLE_CHARS:
        return text
    cut = text[:TITLE_CHARS].rsplit(" ", 1)[0]
    return (cut if len(cut) > TITLE_CHARS // 2 else text[:TITLE_CHARS]) + "…"


class ConversationStore:
    """Every SQL statement on conversations, turns and feedback."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._schema = LazySchema(catalog, _DDL).ensure

    # -- conversations ---------------------------------------------------------------------------
    def create(self, title: str = "") -> ConversationRow:
        self._schema()
        stamp = now()
        row = ConversationRow(uuid.uuid4().hex[:12], title_from(title), stamp, stamp)
        with self.catalog.transaction() as conn:
            conn.execute(
                "INSERT INTO conversations (conv_id, title, created_at, updated_at) "
                "VALUES (?, ?, ?, ?)",
                (row.conv_id, row.title, row.created_at, row.updated_at),
            )
        return row

    def conversations(self, limit: int = 100) -> list[ConversationRow]:
        """Most recently used first, with their number of turns."""
        return self._rows("ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ?", (limit,))

    def get(self, conv_id: str) -> ConversationRow:
        rows = self._rows("WHERE c.conv_id = ?", (conv_id,))
        if not rows:
            raise ConversationNotFound(conv_id)
        return rows[0]

    def _rows(self, tail: str, args: tuple[Any, ...]) -> list[ConversationRow]:
        """Conversations with their number of turns; ``tail``: the WHERE / ORDER BY clauses."""
        self._schema()
        with self.catalog.connect() as conn:
            rows = conn.execute(
                "SELECT c.conv_id, c.title, c.created_at, c.updated_at, "
                "(SELECT COUNT(*) FROM turns t WHERE t.conv_id = c.conv_id) "
                f"FROM conversations c {tail}",
                args,
            ).fetchall()
        return [ConversationRow(*r) for r in rows]

    def rename(self, conv_id: str, title: str) -> None:
        self._schema()
        with self.catalog.transaction() as conn:
            cur = conn.execute(
                "UPDATE conversations SET title = ? WHERE conv_id = ?",
                (title_from(title), conv_id),
            )
            if cur.rowcount == 0:
                raise ConversationNotFound(conv_id)

    def delete(self, conv_id: str) -> None:
        """The conversation and its turns (feedback keeps its own copy)."""
        self._schema()
        with self.catalog.transaction() as conn:
            conn.execute("DELETE FROM turns WHERE conv_id = ?", (conv_id,))
            cur = conn.execute("DELETE FROM conversations WHERE conv_id = ?", (conv_id,))
            if cur.rowcount == 0:
                raise ConversationNotFound(conv_id)

    # -- turns -----------------------------------------------------------------------------------
    def add_turn(
        self, conv_id: str, question: str, answer: dict[str, Any], filters: dict[str, Any]
    ) -> int:
        """Append a finished turn; the first one names an untitled conversation. Returns its
        sequence number."""
        self._schema()
        stamp = now()
        with self.catalog.transaction() as conn:
            if not conn.execute(
                "SELECT 1 FROM conversations WHERE conv_id = ?", (conv_id,)
            ).fetchone():
                raise ConversationNotFound(conv_id)
            seq = conn.execute(
                "SELECT COALESCE(MAX(seq), -1) + 1 FROM turns WHERE conv_id = ?", (conv_id,)
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO turns (conv_id, seq, question, answer, filters, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (conv_id, seq, question, _json(answer), _json(filters), stamp),
            )
            conn.execute(
                "UPDATE conversations SET updated_at = ?, title = CASE WHEN title = '' "
                "THEN ? ELSE title END WHERE conv_id = ?",
                (stamp, title_from(question), conv_id),
            )
        return int(seq)

    def turns(self, conv_id: str) -> list[TurnRow]:
        self._schema()
        with self.catalog.connect() as conn:
            rows = conn.execute(
                "SELECT conv_id, seq, question, answer, filters, created_at FROM turns "
                "WHERE conv_id = ? ORDER BY seq",
                (conv_id,),
            ).fetchall()
        return [TurnRow(r[0], r[1], r[2], json.loads(r[3]), json.loads(r[4]), r[5]) for r in rows]

    # -- feedback --------------------------------------------------------------------------------
    def set_feedback(
        self, conv_id: str, seq: int, *, rating: int, correction: str, question: str, answer: str
    ) -> None:
        """Record (or replace) the feedback on one answer; a changed correction is reviewed
        again."""
        self._schema()
        stamp = now()
        with self.catalog.transaction() as conn:
            conn.execute(
                "INSERT INTO feedback (conv_id, seq, rating, correction, question, answer, review,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?) "
                "ON CONFLICT (conv_id, seq) DO UPDATE SET rating = excluded.rating, "
                "review = CASE WHEN feedback.correction = excluded.correction "
                "THEN feedback.review ELSE 'pending' END, "
                "correction = excluded.correction, updated_at = excluded.updated_at",
                (conv_id, seq, rating, correction, question, answer, stamp, stamp),
            )

    def feedback(self, conv_id: str) -> dict[int, FeedbackRow]:
        self._schema()
        with self.catalog.connect() as conn:
            rows = conn.execute("SELECT * FROM feedback WHERE conv_id = ?", (conv_id,)).fetchall()
        return {r["seq"]: FeedbackRow(**dict(r)) for r in rows}

    def corrections(self, review: str | None = None) -> list[FeedbackRow]:
        """Feedback rows with a correction (candidate training items), newest first."""
        self._schema()
        sql = "SELECT * FROM feedback WHERE correction != ''"
        args: tuple[Any, ...] = ()
        if review:
            sql += " AND review = ?"
            args = (review,)
        with self.catalog.connect() as conn:
            rows = conn.execute(sql + " ORDER BY updated_at DESC", args).fetchall()
        return [FeedbackRow(**dict(r)) for r in rows]

    def set_review(self, conv_id: str, seq: int, review: str) -> None:
        self._schema()
        with self.catalog.transaction() as conn:
            conn.execute(
                "UPDATE feedback SET review = ?, updated_at = ? WHERE conv_id = ? AND seq = ?",
                (review, now(), conv_id, seq),
            )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
