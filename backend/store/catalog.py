"""The SQLite catalogue next to the Chroma store: documents (the manifest), page text, chunks with
their keyword index (FTS5, BM25 ranking), financial-statement facts and their accounting checks.

A document becomes visible only when its row says ``status='complete'``; every row of a document is
written in one transaction together with that status change, so a killed ingestion never leaves
half a document searchable. Vectors in Chroma are written before that commit and ignored until it
happens; vectors of removed documents are listed in ``tombstones`` (same transaction) and deleted
afterwards, so a crash between the two steps is repaired by the next run.

Re-indexing is atomic too: an indexing attempt is recorded in ``indexing`` (doc id, pid) before
any vector is written and removed only after the vectors that do not belong to the document's
visible chunks were purged. A document that is already complete stays complete — old chunks, old
facts, old metadata, searchable — until :meth:`Catalog.complete_document` swaps in the new build
(whose vectors carry different ids); a killed or failed attempt leaves it as it was, and the next
writer purges the attempt's vectors. A document whose only attempt was killed reads as
``failed`` ("interrupted") as soon as its process is gone, before any writer repairs it.

Each operation opens its own short-lived connection (WAL mode): safe across threads (Streamlit
sessions) and processes (the CLI next to the app).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from backend.domain.injection import instruction_like
from backend.errors import (
    CatalogDamaged,
    DiskFull,
    DocumentNotFound,
    StoreUnavailable,
    is_disk_full,
)
from backend.records import Chunk, Document, Fact, StatementCheck, Table
from backend.system import pid_alive

#: 2: the indexing table (attempts in progress or killed); 3: pages.ocr (text read by OCR) and
#: chunks.flagged (the chunk holds text addressed to an AI assistant: never put in a prompt)
SCHEMA_VERSION = 3

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    file_name TEXT NOT NULL,
    source_path TEXT NOT NULL DEFAULT '',
    stored_path TEXT NOT NULL DEFAULT '',
    sha256 TEXT NOT NULL DEFAULT '',
    size_bytes INTEGER NOT NULL DEFAULT 0,
    company TEXT NOT NULL DEFAULT '',
    aliases TEXT NOT NULL DEFAULT '[]',
    fiscal_year INTEGER,
    report_type TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT 'en',
    ticker TEXT NOT NULL DEFAULT '',
    pages INTEGER NOT NULL DEFAULT 0,
    pages_with_text INTEGER NOT NULL DEFAULT 0,
    chunks INTEGER NOT NULL DEFAULT 0,
    facts INTEGER NOT NULL DEFAULT 0,
    checks_passed INTEGER NOT NULL DEFAULT 0,
    checks_failed INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'indexing',
    error TEXT NOT NULL DEFAULT '',
    meta_edited INTEGER NOT NULL DEFAULT 0,
    embedder TEXT NOT NULL DEFAULT '',
    added_at TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS pages (
    doc_id TEXT NOT NULL, page INTEGER NOT NULL, text TEXT NOT NULL,
    ocr INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (doc_id, page)
);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL, page INTEGER NOT NULL, seq INTEGER NOT NULL,
    section TEXT NOT NULL DEFAULT '', heading TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT 'en', text TEXT NOT NULL,
    flagged INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (doc_id, page);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    tokens, chunk_id UNINDEXED, doc_id UNINDEXED, tokenize = 'porter unicode61'
);
CREATE TABLE IF NOT EXISTS facts (
    fact_id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL, company TEXT NOT NULL, fiscal_year INTEGER NOT NULL,
    statement TEXT NOT NULL, scope TEXT NOT NULL, label TEXT NOT NULL, item TEXT,
    value REAL NOT NULL, scale REAL NOT NULL, unit_label TEXT NOT NULL, currency TEXT NOT NULL,
    page INTEGER NOT NULL, raw TEXT NOT NULL DEFAULT '', period_end TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS facts_lookup ON facts (item, fiscal_year);
CREATE INDEX IF NOT EXISTS facts_doc ON facts (doc_id);
CREATE TABLE IF NOT EXISTS statement_checks (
    doc_id TEXT NOT NULL, statement TEXT NOT NULL, scope TEXT NOT NULL,
    fiscal_year INTEGER NOT NULL, name TEXT NOT NULL, passed INTEGER NOT NULL,
    detail TEXT NOT NULL, page INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS checks_doc ON statement_checks (doc_id);
CREATE TABLE IF NOT EXISTS doc_tables (
    table_id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL, page INTEGER NOT NULL, seq INTEGER NOT NULL,
    title TEXT NOT NULL DEFAULT '', columns TEXT NOT NULL DEFAULT '[]',
    unit_label TEXT NOT NULL DEFAULT '', scale REAL NOT NULL DEFAULT 1,
    currency TEXT NOT NULL DEFAULT '', label_header TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS doc_tables_doc ON doc_tables (doc_id, page);
CREATE TABLE IF NOT EXISTS table_rows (
    row_id INTEGER PRIMARY KEY,
    table_id INTEGER NOT NULL, doc_id TEXT NOT NULL, page INTEGER NOT NULL, seq INTEGER NOT NULL,
    label TEXT NOT NULL, path TEXT NOT NULL DEFAULT '[]', cells TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS table_rows_table ON table_rows (table_id, seq);
CREATE VIRTUAL TABLE IF NOT EXISTS table_rows_fts USING fts5(
    tokens, row_id UNINDEXED, doc_id UNINDEXED, tokenize = 'porter unicode61'
);
CREATE TABLE IF NOT EXISTS tombstones (doc_id TEXT PRIMARY KEY, added_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS indexing (
    doc_id TEXT PRIMARY KEY, pid INTEGER NOT NULL, started_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,            -- queued | running | done | failed
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    progress TEXT NOT NULL DEFAULT '{}',
    result TEXT NOT NULL DEFAULT '{}'
);
"""

_DOC_COLUMNS = [
    "doc_id", "file_name", "source_path", "stored_path", "sha256", "size_bytes", "company",
    "aliases", "fiscal_year", "report_type", "language", "ticker", "pages", "pages_with_text",
    "chunks", "facts", "checks_passed", "checks_failed", "status", "error", "meta_edited",
    "embedder", "added_at", "updated_at",
]  # fmt: skip

_FACT_COLUMNS = [
    "doc_id", "company", "fiscal_year", "statement", "scope", "label", "item", "value", "scale",
    "unit_label", "currency", "page", "raw", "period_end",
]  # fmt: skip


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


INTERRUPTED = (
    "{file}: indexing was interrupted (its process stopped); add the file again or run "
    "`python -m ingestion reindex`."
)


def _doc_from_row(row: sqlite3.Row) -> Document:
    d = dict(row)
    attempt_pid = d.pop("attempt_pid", None)
    d["aliases"] = json.loads(d["aliases"] or "[]")
    d["meta_edited"] = bool(d["meta_edited"])
    doc = Document(**d)
    if doc.status == "indexing" and not pid_alive(attempt_pid):
        doc.status, doc.error = "failed", INTERRUPTED.format(file=doc.file_name)
    return doc


#: Every table holding rows of a document (deleted together with it).
_DOC_TABLES = (
    "pages", "chunks", "chunks_fts", "facts", "statement_checks", "doc_tables", "table_rows",
    "table_rows_fts",
)  # fmt: skip


def _insert_tables(
    conn: sqlite3.Connection, doc_id: str, tables: Sequence[Table], row_tokens: Sequence[str]
) -> None:
    """A document's tables, their rows and the rows' keyword index (``row_tokens``: one string
    per row, in the order of the tables' rows)."""
    tokens = iter(row_tokens)
    for seq, tb in enumerate(tables):
        cur = conn.execute(
            "INSERT INTO doc_tables (doc_id, page, seq, title, columns, unit_label, scale,"
            " currency, label_header) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc_id, tb.page, seq, tb.title, json.dumps(tb.columns, ensure_ascii=False),
                tb.unit_label, tb.scale, tb.currency, tb.label_header,
            ),
        )  # fmt: skip
        table_id = cur.lastrowid
        for n, row in enumerate(tb.rows):
            cells = [asdict(c) for c in row.cells]
            cur = conn.execute(
                "INSERT INTO table_rows (table_id, doc_id, page, seq, label, path, cells)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    table_id, doc_id, tb.page, n, row.label,
                    json.dumps(row.path, ensure_ascii=False), json.dumps(cells, ensure_ascii=False),
                ),
            )  # fmt: skip
            conn.execute(
                "INSERT INTO table_rows_fts (tokens, row_id, doc_id) VALUES (?, ?, ?)",
                (next(tokens), cur.lastrowid, doc_id),
            )


def _upsert_document(conn: sqlite3.Connection, doc: Document) -> None:
    values = doc.to_dict()
    values["aliases"] = json.dumps(doc.aliases, ensure_ascii=False)
    values["meta_edited"] = int(doc.meta_edited)
    conn.execute(
        f"INSERT OR REPLACE INTO documents ({', '.join(_DOC_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in _DOC_COLUMNS)})",
        [values[c] for c in _DOC_COLUMNS],
    )


def _pending(table: str) -> str:
    """The name of a bookkeeping table of unsettled vectors (checked: it goes into SQL text)."""
    if table not in ("indexing", "tombstones"):
        raise ValueError(f"no bookkeeping table {table!r}")
    return table


def _add_column(conn: sqlite3.Connection, table: str, column: str, decl: str) -> bool:
    """Add ``column`` to ``table`` of an older catalogue; True when it was missing."""
    have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
    if column in have:
        return False
    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
    return True


def _fts5_varints(blob: bytes) -> list[int]:
    """The SQLite varints FTS5 packs into a record (big-endian, 7 bits a byte, 8 in a 9th)."""
    out: list[int] = []
    value = 0
    length = 0
    for byte in blob:
        length += 1
        if length == 9:
            out.append((value << 8) | byte)
            value = length = 0
        elif byte & 0x80:
            value = (value << 7) | (byte & 0x7F)
        else:
            out.append((value << 7) | byte)
            value = length = 0
    return out


def _fts5_vocabulary(conn: sqlite3.Connection) -> None:
    """fts5vocab tables over the keyword index in this connection's temp schema (nothing is
    written to the catalogue): terms with their row counts, and every term occurrence."""
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_fts_terms "
        "USING fts5vocab(main, chunks_fts, row)"
    )
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_fts_instances "
        "USING fts5vocab(main, chunks_fts, instance)"
    )


class Catalog:
    """Access to the SQLite catalogue. Cheap to construct; creates the schema on first use."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._init_lock = threading.Lock()
        self._ready = False

    # -- connections -----------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except (sqlite3.Error, OSError) as err:
            raise StoreUnavailable(
                f"Cannot open the catalogue {self.path} ({err}). Check that the data directory "
                "is writable (setting ANNALYST_DATA_DIR)."
            ) from err
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as err:
            conn.close()
            fault = self._fault(err)
            if fault is err:
                raise
            raise fault from err
        return conn

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection; a damaged file or a full disk becomes a one-line :class:`StoreUnavailable`
        (whether it shows when opening or in the caller's statements)."""
        try:
            with self._connection() as conn:
                yield conn
        except sqlite3.DatabaseError as err:
            fault = self._fault(err)
            if fault is err:
                raise
            raise fault from err

    def _fault(self, err: sqlite3.DatabaseError) -> Exception:
        if is_disk_full(err):
            return DiskFull(str(self.path.parent))
        text = str(err).lower()
        if "not a database" in text or "malformed" in text or "file is encrypted" in text:
            return CatalogDamaged(str(self.path), str(err))
        return err  # a programming error: keep it as it is

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            if not self._ready:
                with self._init_lock:
                    if not self._ready:
                        self._init_schema(conn)
                        self._ready = True
            yield conn
        finally:
            conn.close()

    @staticmethod
    def _init_schema(conn: sqlite3.Connection) -> None:
        conn.executescript(_DDL)
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is not None and int(row[0]) < 2:
            # catalogues written before the indexing table: their unfinished documents' vectors
            # were never purged; let the next writer do it
            conn.execute(
                "INSERT OR IGNORE INTO indexing SELECT doc_id, 0, ? FROM documents "
                "WHERE status != 'complete'",
                (now(),),
            )
        _add_column(conn, "pages", "ocr", "INTEGER NOT NULL DEFAULT 0")
        if _add_column(conn, "chunks", "flagged", "INTEGER NOT NULL DEFAULT 0"):
            flagged = [
                (cid,) for cid, text in conn.execute("SELECT chunk_id, text FROM chunks")
                if instruction_like(text)
            ]  # fmt: skip
            conn.executemany("UPDATE chunks SET flagged=1 WHERE chunk_id=?", flagged)
        conn.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _column(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """The first column of a query's rows."""
        with self.connect() as conn:
            return [r[0] for r in conn.execute(sql, args)]

    def _write(self, sql: str, args: Sequence[Any] = ()) -> None:
        """One statement in its own transaction."""
        with self.transaction() as conn:
            conn.execute(sql, args)

    # -- generation: bumps whenever the searchable set of documents changes -------------------
    def generation(self) -> int:
        with self.connect() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
            return int(row[0]) if row else 0

    @staticmethod
    def _bump(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")

    # -- documents ---------------------------------------------------------------------------
    _SELECT = (
        "SELECT d.*, i.pid AS attempt_pid FROM documents d LEFT JOIN indexing i USING (doc_id)"
    )

    def documents(self, status: str | None = "complete") -> list[Document]:
        """Documents with ``status`` (None: all). One left 'indexing' by a process that is gone
        reads as 'failed' (interrupted)."""
        with self.connect() as conn:
            rows = conn.execute(self._SELECT + " ORDER BY company, fiscal_year, file_name")
            docs = [_doc_from_row(r) for r in rows]
        return [d for d in docs if status is None or d.status == status]

    def document(self, doc_id: str) -> Document | None:
        with self.connect() as conn:
            row = conn.execute(self._SELECT + " WHERE doc_id = ?", (doc_id,)).fetchone()
        return _doc_from_row(row) if row else None

    def find_document(self, prefix: str) -> Document:
        """A document by id or unique id prefix (as printed by `ingestion list`): at least four
        hex digits, matched literally (never as a pattern)."""
        prefix = prefix.strip().lower()
        if len(prefix) < 4 or not re.fullmatch(r"[0-9a-f]+", prefix):
            raise DocumentNotFound(prefix)
        with self.connect() as conn:
            rows = conn.execute(
                self._SELECT + " WHERE substr(doc_id, 1, ?) = ?", (len(prefix), prefix)
            ).fetchall()
        if len(rows) != 1:
            raise DocumentNotFound(prefix)
        return _doc_from_row(rows[0])

    def complete_ids(self) -> list[str]:
        return self._column("SELECT doc_id FROM documents WHERE status='complete'")

    def begin_document(self, doc: Document) -> bool:
        """Record an indexing attempt of ``doc`` (before any of its vectors is written).

        When a complete version of the document exists it stays as it is, visible, and this
        returns True: the new build must give its vectors ids of their own. Otherwise ``doc`` is
        recorded as 'indexing' (invisible to search until completed) and this returns False.
        """
        doc.updated_at = now()
        doc.added_at = doc.added_at or doc.updated_at
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO indexing (doc_id, pid, started_at) VALUES (?, ?, ?)",
                (doc.doc_id, os.getpid(), doc.updated_at),
            )
            row = conn.execute(
                "SELECT status FROM documents WHERE doc_id=?", (doc.doc_id,)
            ).fetchone()
            if row is not None and row[0] == "complete":
                return True
            doc.status = "indexing"
            _upsert_document(conn, doc)
            return False

    def fail_document(self, doc_id: str, error: str) -> None:
        """Mark an unfinished document failed; a complete one (a failed re-index) stays."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE documents SET status='failed', error=?, updated_at=? "
                "WHERE doc_id=? AND status != 'complete'",
                (error, now(), doc_id),
            )

    def pending(self, table: Literal["indexing", "tombstones"]) -> list[str]:
        """Ids of documents whose vectors are not settled yet: an indexing attempt not cleaned up
        ('indexing'), or a deleted document whose vectors may remain ('tombstones')."""
        return self._column(f"SELECT doc_id FROM {_pending(table)}")

    def settle(self, table: Literal["indexing", "tombstones"], doc_id: str) -> None:
        """A document's vectors are settled (kept as the visible build, or purged)."""
        self._write(f"DELETE FROM {_pending(table)} WHERE doc_id=?", (doc_id,))

    def chunk_ids(self, doc_id: str) -> set[str]:
        """Ids of the chunks of a document's visible build."""
        return set(self._column("SELECT chunk_id FROM chunks WHERE doc_id=?", (doc_id,)))

    def complete_document(
        self,
        doc: Document,
        pages: Sequence[tuple[int, str] | tuple[int, str, bool]],
        chunks: Sequence[Chunk],
        chunk_tokens: Sequence[str],
        facts: Sequence[Fact] = (),
        checks: Sequence[StatementCheck] = (),
        replaces: Iterable[str] = (),
        tables: Sequence[Table] = (),
        table_tokens: Sequence[str] = (),
    ) -> None:
        """Write every row of ``doc`` and make it visible, in one transaction.

        ``replaces``: ids of documents this one supersedes (an earlier version of the same file);
        they disappear in the same transaction and their vectors are queued for deletion.
        """
        doc.status = "complete"
        doc.error = ""
        doc.chunks = len(chunks)
        doc.facts = len(facts)
        doc.checks_passed = sum(1 for c in checks if c.passed)
        doc.checks_failed = sum(1 for c in checks if not c.passed)
        doc.updated_at = now()
        with self.transaction() as conn:
            self._delete_rows(conn, doc.doc_id, keep_document=True)
            for old in replaces:
                if old != doc.doc_id:
                    self._delete_rows(conn, old, keep_document=False)
            _upsert_document(conn, doc)
            conn.executemany(
                "INSERT INTO pages (doc_id, page, text, ocr) VALUES (?, ?, ?, ?)",
                [(doc.doc_id, p[0], p[1], int(bool(p[2:] and p[2]))) for p in pages],
            )
            conn.executemany(
                "INSERT INTO chunks (chunk_id, doc_id, page, seq, section, heading, language, text,"
                " flagged) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        c.chunk_id,
                        c.doc_id,
                        c.page,
                        c.seq,
                        c.section,
                        c.heading,
                        c.language,
                        c.text,
                        int(instruction_like(c.text)),
                    )
                    for c in chunks
                ],
            )
            conn.executemany(
                "INSERT INTO chunks_fts (tokens, chunk_id, doc_id) VALUES (?, ?, ?)",
                [(tok, c.chunk_id, c.doc_id) for c, tok in zip(chunks, chunk_tokens, strict=True)],
            )
            self._insert_facts(conn, facts, checks)
            _insert_tables(conn, doc.doc_id, tables, table_tokens)
            self._bump(conn)

    @staticmethod
    def _insert_facts(
        conn: sqlite3.Connection, facts: Sequence[Fact], checks: Sequence[StatementCheck]
    ) -> None:
        conn.executemany(
            f"INSERT INTO facts ({', '.join(_FACT_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in _FACT_COLUMNS)})",
            [[getattr(f, c) for c in _FACT_COLUMNS] for f in facts],
        )
        conn.executemany(
            "INSERT INTO statement_checks (doc_id, statement, scope, fiscal_year, name, passed,"
            " detail, page) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    c.doc_id,
                    c.statement,
                    c.scope,
                    c.fiscal_year,
                    c.name,
                    int(c.passed),
                    c.detail,
                    c.page,
                )
                for c in checks
            ],
        )

    def replace_facts(
        self, doc_id: str, facts: Sequence[Fact], checks: Sequence[StatementCheck]
    ) -> None:
        """Re-extract facts of an indexed document without touching its chunks."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM facts WHERE doc_id=?", (doc_id,))
            conn.execute("DELETE FROM statement_checks WHERE doc_id=?", (doc_id,))
            self._insert_facts(conn, facts, checks)
            conn.execute(
                "UPDATE documents SET facts=?, checks_passed=?, checks_failed=?, updated_at=? "
                "WHERE doc_id=?",
                (
                    len(facts),
                    sum(c.passed for c in checks),
                    sum(not c.passed for c in checks),
                    now(),
                    doc_id,
                ),
            )

    def replace_tables(
        self, doc_id: str, tables: Sequence[Table], row_tokens: Sequence[str]
    ) -> None:
        """Re-extract the tables of an indexed document without touching its chunks."""
        with self.transaction() as conn:
            for table in ("doc_tables", "table_rows", "table_rows_fts"):
                conn.execute(f"DELETE FROM {table} WHERE doc_id=?", (doc_id,))
            _insert_tables(conn, doc_id, tables, row_tokens)

    def table_row_search(
        self, match: str, doc_ids: Sequence[str] | None, limit: int
    ) -> list[dict[str, Any]]:
        """Table rows whose label, parents, title or headers match ``match`` (FTS5, BM25), of
        complete documents, best first: each row with its table's title, headers and unit."""
        if not match or (doc_ids is not None and not doc_ids):
            return []
        sql = (
            "SELECT r.row_id, r.doc_id, r.page, r.label, r.path, r.cells, t.title, t.columns,"
            " t.unit_label, t.scale, t.currency, t.label_header, t.table_id,"
            " bm25(table_rows_fts) AS s FROM table_rows_fts f"
            " JOIN table_rows r ON r.row_id = f.row_id"
            " JOIN doc_tables t ON t.table_id = r.table_id"
            " JOIN documents d ON d.doc_id = r.doc_id AND d.status = 'complete'"
            " WHERE table_rows_fts MATCH ?"
        )
        return [_table_row(r, -float(r["s"])) for r in self._best(sql, match, doc_ids, limit)]

    def table_rows(self, table_ids: Sequence[int]) -> list[dict[str, Any]]:
        """Every row of the tables ``table_ids`` (of complete documents), table by table, in
        printed order, with the same fields as :meth:`table_row_search` (score 0)."""
        if not table_ids:
            return []
        sql = (
            "SELECT r.row_id, r.doc_id, r.page, r.label, r.path, r.cells, t.title, t.columns,"
            " t.unit_label, t.scale, t.currency, t.label_header, t.table_id"
            " FROM table_rows r JOIN doc_tables t ON t.table_id = r.table_id"
            " JOIN documents d ON d.doc_id = r.doc_id AND d.status = 'complete'"
            f" WHERE r.table_id IN ({','.join('?' for _ in table_ids)})"
            " ORDER BY r.table_id, r.row_id"
        )
        with self.connect() as conn:
            return [_table_row(r, 0.0) for r in conn.execute(sql, list(table_ids)).fetchall()]

    def _delete_rows(self, conn: sqlite3.Connection, doc_id: str, *, keep_document: bool) -> None:
        for table in _DOC_TABLES:
            conn.execute(f"DELETE FROM {table} WHERE doc_id = ?", (doc_id,))
        if not keep_document:
            conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
            conn.execute(
                "INSERT OR REPLACE INTO tombstones (doc_id, added_at) VALUES (?, ?)",
                (doc_id, now()),
            )

    def remove_document(self, doc_id: str) -> None:
        """Delete every row of a document; its vectors are queued in ``tombstones``."""
        with self.transaction() as conn:
            if not conn.execute("SELECT 1 FROM documents WHERE doc_id=?", (doc_id,)).fetchone():
                raise DocumentNotFound(doc_id)
            self._delete_rows(conn, doc_id, keep_document=False)
            self._bump(conn)

    def update_metadata(
        self,
        doc_id: str,
        *,
        company: str,
        fiscal_year: int | None,
        report_type: str,
        aliases: list[str] | None = None,
    ) -> None:
        """User correction of detected metadata (the reports page); facts follow the company."""
        with self.transaction() as conn:
            if not conn.execute("SELECT 1 FROM documents WHERE doc_id=?", (doc_id,)).fetchone():
                raise DocumentNotFound(doc_id)
            sets = "company=?, fiscal_year=?, report_type=?, meta_edited=1, updated_at=?"
            args: list[Any] = [company, fiscal_year, report_type, now()]
            if aliases is not None:
                sets += ", aliases=?"
                args.append(json.dumps(aliases, ensure_ascii=False))
            conn.execute(f"UPDATE documents SET {sets} WHERE doc_id=?", (*args, doc_id))
            conn.execute("UPDATE facts SET company=? WHERE doc_id=?", (company, doc_id))
            self._bump(conn)

    # -- pages and chunks -----------------------------------------------------------------------
    def ocr_pages(self, doc_id: str) -> set[int]:
        """Pages of a document whose text was read by OCR (numbers on them may be misread)."""
        return set(self._column("SELECT page FROM pages WHERE doc_id=? AND ocr=1", (doc_id,)))

    def flagged_chunks(self) -> list[tuple[str, str, int]]:
        """(chunk id, doc id, page) of every chunk holding text addressed to an AI assistant."""
        with self.connect() as conn:
            rows = conn.execute("SELECT chunk_id, doc_id, page FROM chunks WHERE flagged=1")
            return [(r[0], r[1], r[2]) for r in rows]

    def page_text(self, doc_id: str, page: int) -> str | None:
        with self.connect() as conn:
            row = conn.execute(
                "SELECT text FROM pages WHERE doc_id=? AND page=?", (doc_id, page)
            ).fetchone()
        return row[0] if row else None

    def chunks_by_id(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        if not chunk_ids:
            return {}
        out: dict[str, Chunk] = {}
        with self.connect() as conn:
            for start in range(0, len(chunk_ids), 500):
                part = list(chunk_ids[start : start + 500])
                marks = ",".join("?" for _ in part)
                for r in conn.execute(
                    f"SELECT chunk_id, doc_id, page, seq, text, section, heading, language "
                    f"FROM chunks WHERE chunk_id IN ({marks})",
                    part,
                ):
                    out[r[0]] = Chunk(*r)
        return out

    def chunks_on_pages(self, pages: Sequence[tuple[str, int]]) -> list[str]:
        """Chunk ids on the given (doc_id, page) pairs, in that order, then by position."""
        out: list[str] = []
        with self.connect() as conn:
            for doc_id, page in pages:
                out.extend(
                    r[0]
                    for r in conn.execute(
                        "SELECT chunk_id FROM chunks WHERE doc_id=? AND page=? ORDER BY seq",
                        (doc_id, page),
                    )
                )
        return out

    def keyword_search(
        self, match: str, doc_ids: Sequence[str] | None, limit: int
    ) -> list[tuple[str, float]]:
        """FTS5 BM25 search over visible documents → [(chunk_id, score)] best first."""
        if not match:
            return []
        sql = (
            "SELECT f.chunk_id, bm25(chunks_fts) AS s FROM chunks_fts f "
            "JOIN documents d ON d.doc_id = f.doc_id AND d.status = 'complete' "
            "WHERE chunks_fts MATCH ?"
        )
        return [(r[0], -float(r[1])) for r in self._best(sql, match, doc_ids, limit)]

    def _best(
        self, sql: str, match: str, doc_ids: Sequence[str] | None, limit: int
    ) -> list[sqlite3.Row]:
        """The best ``limit`` rows of an FTS5 query ``sql`` (``… WHERE x MATCH ?``, its table
        aliased ``f``, BM25 as ``s``) within ``doc_ids`` (None: all); none for a query FTS5
        cannot parse."""
        if doc_ids is not None and not doc_ids:
            return []
        args: list[Any] = [match]
        if doc_ids is not None:
            sql += f" AND f.doc_id IN ({','.join('?' for _ in doc_ids)})"
            args.extend(doc_ids)
        with self.connect() as conn:
            try:
                return conn.execute(sql + " ORDER BY s LIMIT ?", [*args, limit]).fetchall()
            except sqlite3.OperationalError:
                return []

    # -- reads for backend.store.keywords.KeywordIndex ----------------------------------------------
    def keyword_layout(self) -> list[tuple[str, int, int, int]]:
        """(doc_id, first rowid, last rowid, rows) of each document in the keyword index."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT doc_id, MIN(rowid), MAX(rowid), COUNT(*) FROM chunks_fts GROUP BY doc_id"
            )
            return [(r[0], r[1], r[2], r[3]) for r in rows]

    def term_scores(self, term: str) -> list[tuple[int, float]]:
        """(rowid, BM25 score) of every row holding ``term`` (one quoted FTS5 phrase): that term's
        share of the row's BM25 score in any OR query containing it."""
        with self.connect() as conn:
            try:
                return [
                    (r[0], -float(r[1]))
                    for r in conn.execute(
                        "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ?",
                        (term,),
                    )
                ]
            except sqlite3.OperationalError:
                return []

    # FTS5's own BM25 statistics and vocabulary, for the in-memory copy of the keyword index
    # (backend.store.postings.Postings): the averages record (id 1 of %_data: varints of the row
    # count, then of each column's token count), each row's column sizes (%_docsize) and the
    # stemmed terms with the rows holding them (fts5vocab over the table).
    def keyword_statistics(self) -> tuple[int, int, list[tuple[int, int]]]:
        """(rows, tokens, [(rowid, tokens in the row)]) of the keyword index, as FTS5's
        ``bm25()`` reads them (N, average length = tokens / rows, and each row's length)."""
        with self.connect() as conn:
            conn.execute("BEGIN")  # one snapshot of both
            try:
                head = conn.execute("SELECT block FROM chunks_fts_data WHERE id = 1").fetchone()
                sizes = [
                    (r[0], sum(_fts5_varints(r[1])))
                    for r in conn.execute("SELECT id, sz FROM chunks_fts_docsize")
                ]
            finally:
                conn.execute("COMMIT")
        totals = _fts5_varints(head[0]) if head and head[0] else [0]
        return totals[0], sum(totals[1:]), sizes

    def keyword_terms(self, min_rows: int) -> list[tuple[str, int]]:
        """(term, rows holding it) of the keyword index's terms in at least ``min_rows`` rows,
        most common first; terms as FTS5 stores them (lower-cased, stemmed)."""
        with self.connect() as conn:
            _fts5_vocabulary(conn)
            rows = conn.execute(
                "SELECT term, doc FROM temp.chunks_fts_terms WHERE doc >= ? ORDER BY doc DESC",
                (min_rows,),
            )
            return [(r[0], r[1]) for r in rows]

    def keyword_postings(self, terms: Iterable[str] | None = None) -> Iterator[tuple[str, str]]:
        """(term, rowids) of each of ``terms`` (stored terms, as :meth:`keyword_terms` gives
        them; None: every term, in one pass over the index) found in the keyword index: its
        rowids comma-separated in ascending order, a rowid once per occurrence in the row (term
        frequency = repeats), from FTS5's instance vocabulary, so a term is in exactly the rows
        a one-token FTS5 phrase matches."""
        with self.connect() as conn:
            _fts5_vocabulary(conn)
            if terms is None:  # FTS5 gives the vocabulary in term order: no sort
                yield from (
                    (r[0], r[1])
                    for r in conn.execute(
                        "SELECT term, group_concat(doc) FROM temp.chunks_fts_instances "
                        "GROUP BY term"
                    )
                )
                return
            for term in terms:
                row = conn.execute(
                    "SELECT group_concat(doc) FROM temp.chunks_fts_instances WHERE term = ?",
                    (term,),
                ).fetchone()
                if row and row[0]:
                    yield term, row[0]

    def keyword_tokenizer(self) -> str:
        """The keyword index's FTS5 ``tokenize`` argument (query terms are cut the same way)."""
        with self.connect() as conn:
            row = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'").fetchone()
        m = re.search(r"tokenize\s*=\s*'([^']*)'", row[0] if row else "")
        return m.group(1) if m else "unicode61"

    def keyword_search_rows(
        self, match: str, ranges: Sequence[tuple[int, int, str | None]], limit: int
    ) -> list[tuple[int, float]]:
        """BM25 search within rowid ranges ``(first, last, doc_id or None)`` → [(rowid, score)]
        best first. FTS5 seeks to each range, so a report's search reads only its rows; a doc_id
        also filters the range's rows by document (for a report whose rows are not contiguous)."""
        out: list[tuple[int, float]] = []
        with self.connect() as conn:
            for first, last, doc_id in ranges:
                sql = (
                    "SELECT rowid, bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ? "
                    "AND rowid >= ? AND rowid <= ?"
                )
                args: list[Any] = [match, first, last]
                if doc_id is not None:
                    sql += " AND doc_id = ?"
                    args.append(doc_id)
                try:
                    rows = conn.execute(sql + " ORDER BY s LIMIT ?", (*args, limit)).fetchall()
                except sqlite3.OperationalError:
                    return []
                out.extend((r[0], -float(r[1])) for r in rows)
        out.sort(key=lambda rs: -rs[1])
        return out[:limit]

    def keyword_chunk_ids(self, rowids: Sequence[int]) -> dict[int, str]:
        """rowid → chunk_id for rows of the keyword index."""
        if not rowids:
            return {}
        marks = ",".join("?" for _ in rowids)
        with self.connect() as conn:
            rows = conn.execute(
                f"SELECT rowid, chunk_id FROM chunks_fts WHERE rowid IN ({marks})", list(rowids)
            )
            return {r[0]: r[1] for r in rows}

    def count_chunks(self) -> int:
        with self.connect() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM chunks c JOIN documents d ON d.doc_id=c.doc_id "
                "AND d.status='complete'"
            ).fetchone()
            return int(row[0])

    # -- facts -------------------------------------------------------------------------------
    def facts(self, where: str = "", args: Sequence[Any] = ()) -> list[Fact]:
        sql = (
            f"SELECT {', '.join('f.' + c for c in _FACT_COLUMNS)} FROM facts f "
            "JOIN documents d ON d.doc_id = f.doc_id AND d.status = 'complete'"
        )
        if where:
            sql += f" WHERE {where}"
        with self.connect() as conn:
            return [Fact(*r) for r in conn.execute(sql, list(args))]

    def checks(self, doc_id: str | None = None) -> list[StatementCheck]:
        sql = (
            "SELECT doc_id, statement, scope, fiscal_year, name, passed, detail, page FROM "
            "statement_checks"
        )
        args: tuple[Any, ...] = ()
        if doc_id:
            sql += " WHERE doc_id=?"
            args = (doc_id,)
        with self.connect() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [StatementCheck(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7]) for r in rows]


def _table_row(r: sqlite3.Row, score: float) -> dict[str, Any]:
    """A table row read back: its JSON columns decoded, its search score set."""
    d = {k: r[k] for k in r.keys() if k != "s"}
    for key in ("path", "cells", "columns"):
        d[key] = json.loads(d[key] or "[]")
    d["score"] = score
    return d
