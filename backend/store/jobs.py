"""The catalogue's ``jobs`` table: background work that must outlive a browser session.

Rows hold a ``kind`` (``ingest``), a ``status`` (queued | running | done | failed) and three JSON
columns: ``payload`` (what to do; ``key`` identifies duplicates, ``seq`` orders the queue),
``progress`` (stage, counts, the owning worker) and ``result``. Every statement on the table lives
here; :class:`backend.app.jobs.IngestQueue` decides what to do with them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from backend.store.catalog import Catalog, now


@dataclass
class JobRow:
    job_id: str
    status: str
    created_at: str
    updated_at: str
    payload: dict[str, Any]
    progress: dict[str, Any]
    result: dict[str, Any]


def _row(r: Any) -> JobRow:
    d = dict(r)
    return JobRow(
        d["job_id"],
        d["status"],
        d["created_at"],
        d["updated_at"],
        json.loads(d["payload"] or "{}"),
        json.loads(d["progress"] or "{}"),
        json.loads(d["result"] or "{}"),
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class JobTable:
    """Jobs of one ``kind`` in the catalogue."""

    def __init__(self, catalog: Catalog, kind: str) -> None:
        self.catalog = catalog
        self.kind = kind

    def insert_unique(self, job_id: str, payload: dict[str, Any]) -> bool:
        """Queue a job unless a queued or running one has the same ``payload['key']`` (checked and
        inserted in one ``BEGIN IMMEDIATE`` transaction). True when inserted."""
        stamp = now()
        with self.catalog.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO jobs (job_id, kind, status, created_at, updated_at, payload, progress,"
                " result) SELECT ?, ?, 'queued', ?, ?, ?, '{}', '{}' WHERE NOT EXISTS (SELECT 1"
                " FROM jobs WHERE kind=? AND status IN ('queued', 'running')"
                " AND json_extract(payload, '$.key') = ?)",
                (job_id, self.kind, stamp, stamp, _json(payload), self.kind, payload["key"]),
            )
            return cur.rowcount == 1

    def recent(self, limit: int) -> list[JobRow]:
        """Jobs newest first (by submission order)."""
        with self.catalog.connect() as conn:
            rows = conn.execute(
                "SELECT * FROM jobs WHERE kind=? ORDER BY json_extract(payload, '$.seq') DESC"
                " LIMIT ?",
                (self.kind, limit),
            ).fetchall()
        return [_row(r) for r in rows]

    def get(self, job_id: str) -> JobRow | None:
        with self.catalog.connect() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE job_id=?", (job_id,)).fetchone()
        return _row(row) if row else None

    def has_queued(self) -> bool:
        with self.catalog.connect() as conn:
            row = conn.execute(
                "SELECT 1 FROM jobs WHERE kind=? AND status='queued' LIMIT 1", (self.kind,)
            ).fetchone()
        return row is not None

    def repair_running(self, alive: Any, max_attempts: int, error: Any) -> int:
        """Jobs left 'running' by a worker that is gone (``alive(owner)`` False): queued again,
        or failed with ``error(payload)`` after ``max_attempts``. Returns how many were queued."""
        requeued = 0
        with self.catalog.transaction() as conn:
            rows = conn.execute(
                "SELECT * FROM jobs WHERE kind=? AND status='running'", (self.kind,)
            ).fetchall()
            for job in map(_row, rows):
                if alive(job.progress.get("owner", "")):
                    continue
                if job.payload.get("attempts", 0) >= max_attempts:
                    conn.execute(
                        "UPDATE jobs SET status='failed', result=?, updated_at=? WHERE job_id=?",
                        (_json(error(job.payload)), now(), job.job_id),
                    )
                    continue
                progress = {"stage": "queued", "message": "restarted after an interruption"}
                conn.execute(
                    "UPDATE jobs SET status='queued', progress=?, updated_at=? WHERE job_id=?",
                    (_json(progress), now(), job.job_id),
                )
                requeued += 1
        return requeued

    def claim_next(self, owner: str) -> tuple[str, dict[str, Any]] | None:
        """Mark the oldest queued job running for ``owner`` (attempts + 1); its id and payload."""
        with self.catalog.transaction() as conn:
            row = conn.execute(
                "SELECT job_id, payload FROM jobs WHERE kind=? AND status='queued'"
                " ORDER BY json_extract(payload, '$.seq') LIMIT 1",
                (self.kind,),
            ).fetchone()
            if row is None:
                return None
            payload = json.loads(row[1] or "{}")
            payload["attempts"] = payload.get("attempts", 0) + 1
            conn.execute(
                "UPDATE jobs SET status='running', payload=?, progress=?, updated_at=?"
                " WHERE job_id=? AND status='queued'",
                (_json(payload), _json({"stage": "queued", "owner": owner}), now(), row[0]),
            )
        return row[0], payload

    def set_progress(self, job_id: str, progress: dict[str, Any]) -> None:
        with self.catalog.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET progress=?, updated_at=? WHERE job_id=?",
                (_json(progress), now(), job_id),
            )

    def finish(self, job_id: str, status: str, result: dict[str, Any]) -> None:
        done = {"stage": "done", "done": 1, "total": 1}
        with self.catalog.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET status=?, result=?, progress=?, updated_at=? WHERE job_id=?",
                (status, _json(result), _json(done), now(), job_id),
            )

    def requeue(self, job_id: str) -> None:
        with self.catalog.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET status='queued', updated_at=? WHERE job_id=?", (now(), job_id)
            )
