"""Background work of the app: the ingestion queue and the model warm-up.

Ingestion jobs live in the catalogue's ``jobs`` table (kind ``ingest``), not in a browser session:

* the reports page *submits* a job (an upload, a re-index or a removal) and returns at once; a
  submission is refused as a duplicate while a queued or running job has the same key (content
  hash or document id), checked and inserted in one ``BEGIN IMMEDIATE`` transaction, so a double
  click, two tabs or a refresh during an upload never queue the same work twice;
* one worker thread per server process claims queued jobs one by one (an atomic ``UPDATE ...
  WHERE status='queued'``) and runs them through :class:`ingestion.pipeline.Ingestor`, writing the
  progress into the job row; it exits when the queue is empty and is started again by the next
  submission;
* a page (after a browser refresh, in another tab) only reads the table, so it sees the same jobs;
* a job left ``running`` by a process that died (server restart) is queued again by
  :meth:`IngestQueue.recover` (ingestion is idempotent: content-addressed ids, the pipeline
  finishes or cleans half-written documents), at most ``MAX_ATTEMPTS`` times;
* while a command-line ingestion holds the writer lock, the job waits (status ``queued`` with a
  message naming the other process) and retries.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.catalog import now
from backend.errors import AnnalystError, IngestionBusy, UploadTooLarge

log = logging.getLogger(__name__)

KIND = "ingest"
MAX_ATTEMPTS = 3
RETRY_BUSY_S = 2.0
PROGRESS_EVERY_S = 0.5
#: share of a file's progress bar reached when each stage starts
STAGE_START = {
    "queued": 0.0,
    "parse": 0.02,
    "chunk": 0.15,
    "embed": 0.2,
    "facts": 0.85,
    "write": 0.95,
    "done": 1.0,
}
_LIVE_OWNERS: set[str] = set()  # workers alive in this process ("pid:token")


@dataclass
class Job:
    """One row of the ``jobs`` table, decoded."""

    job_id: str
    status: str  # queued | running | done | failed
    op: str  # add | reindex | remove
    file: str
    doc_id: str
    created_at: str
    updated_at: str
    stage: str = "queued"
    done: int = 0
    total: int = 0
    message: str = ""
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    @property
    def fraction(self) -> float:
        """0..1 for a progress bar: stage start plus the stage's own progress."""
        if self.status in ("done", "failed"):
            return 1.0
        start = STAGE_START.get(self.stage, 0.0)
        stages = list(STAGE_START)
        nxt = (
            STAGE_START[stages[min(stages.index(self.stage) + 1, len(stages) - 1)]]
            if self.stage in STAGE_START
            else start
        )
        part = self.done / self.total if self.total else 0.0
        return max(0.0, min(1.0, start + (nxt - start) * part))


@dataclass
class Submission:
    """What happened to one submitted file or request."""

    status: str  # queued | duplicate | indexed_already
    file: str
    job_id: str = ""
    doc: Any = None  # the Document when status == 'indexed_already'


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class IngestQueue:
    """Submit ingestion work from the UI; run it in one background thread of this process."""

    def __init__(self, services: Any) -> None:
        self._services = services
        self._settings = services.settings
        self._catalog = services.catalog
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- submitting --------------------------------------------------------------------------
    def submit_upload(self, data: bytes, name: str) -> Submission:
        """Queue an uploaded PDF (saved content-addressed under the uploads folder)."""
        import hashlib

        from ingestion.pipeline import store_upload

        limit = self._settings.max_upload_mb
        if len(data) > limit * 1024 * 1024:
            raise UploadTooLarge(name, len(data) / 1024 / 1024, limit)
        sha = hashlib.sha256(data).hexdigest()
        doc = self._catalog.document(sha[:16])
        if doc is not None and doc.status == "complete":
            return Submission("indexed_already", name, doc=doc)
        path = store_upload(self._settings, data, name)
        payload = {
            "op": "add",
            "file": name,
            "path": str(path),
            "sha256": sha,
            "doc_id": sha[:16],
            "key": f"add:{sha[:16]}",
        }
        return self._submit(payload)

    def submit_reindex(self, doc_id: str) -> Submission:
        doc = self._catalog.find_document(doc_id)
        return self._submit(
            {
                "op": "reindex",
                "file": doc.file_name,
                "doc_id": doc.doc_id,
                "key": f"doc:{doc.doc_id}",
            }
        )

    def submit_remove(self, doc_id: str) -> Submission:
        doc = self._catalog.find_document(doc_id)
        return self._submit(
            {
                "op": "remove",
                "file": doc.file_name,
                "doc_id": doc.doc_id,
                "key": f"doc:{doc.doc_id}",
            }
        )

    def _submit(self, payload: dict[str, Any]) -> Submission:
        job_id = f"ingest-{uuid.uuid4().hex[:12]}"
        payload = {**payload, "seq": time.time_ns(), "attempts": 0}
        stamp = now()
        with self._catalog.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO jobs (job_id, kind, status, created_at, updated_at, payload, progress,"
                " result) SELECT ?, ?, 'queued', ?, ?, ?, '{}', '{}' WHERE NOT EXISTS (SELECT 1"
                " FROM jobs WHERE kind=? AND status IN ('queued', 'running')"
                " AND json_extract(payload, '$.key') = ?)",
                (
                    job_id,
                    KIND,
                    stamp,
                    stamp,
                    json.dumps(payload, ensure_ascii=False),
                    KIND,
                    payload["key"],
                ),
            )
            inserted = cur.rowcount == 1
        if not inserted:
            return Submission("duplicate", payload["file"])
        log.info("queued %s %s as %s", payload["op"], payload["file"], job_id)
        self.start()
        return Submission("queued", payload["file"], job_id=job_id)

    # -- reading -----------------------------------------------------------------------------
    def jobs(self, limit: int = 30) -> list[Job]:
        """Recent ingestion jobs, newest first."""
        with self._catalog.connect() as conn:
            rows = conn.execute(
                "SELECT * FROM jobs WHERE kind=? ORDER BY json_extract(payload, '$.seq') DESC"
                " LIMIT ?",
                (KIND, limit),
            ).fetchall()
        return [self._decode(dict(r)) for r in rows]

    def job(self, job_id: str) -> Job | None:
        with self._catalog.connect() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE job_id=?", (job_id,)).fetchone()
        return self._decode(dict(row)) if row else None

    def has_active(self) -> bool:
        return any(j.active for j in self.jobs(limit=100))

    @staticmethod
    def _decode(row: dict[str, Any]) -> Job:
        payload = json.loads(row["payload"] or "{}")
        progress = json.loads(row["progress"] or "{}")
        return Job(
            job_id=row["job_id"],
            status=row["status"],
            op=payload.get("op", "add"),
            file=payload.get("file", ""),
            doc_id=payload.get("doc_id", ""),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            stage=progress.get("stage", "queued"),
            done=int(progress.get("done", 0)),
            total=int(progress.get("total", 0)),
            message=progress.get("message", ""),
            result=json.loads(row["result"] or "{}"),
        )

    # -- running -----------------------------------------------------------------------------
    def recover(self) -> int:
        """Queue again jobs left 'running' by a process that is gone; start the worker if work
        is waiting. Returns how many jobs were re-queued."""
        requeued = 0
        with self._catalog.transaction() as conn:
            rows = conn.execute(
                "SELECT job_id, payload, progress FROM jobs WHERE kind=? AND status='running'",
                (KIND,),
            ).fetchall()
            for job_id, payload_s, progress_s in rows:
                owner = json.loads(progress_s or "{}").get("owner", "")
                pid = int(owner.split(":")[0]) if owner.split(":")[0].isdigit() else 0
                alive = owner in _LIVE_OWNERS if pid == os.getpid() else _pid_alive(pid)
                if alive:
                    continue
                payload = json.loads(payload_s or "{}")
                if payload.get("attempts", 0) >= MAX_ATTEMPTS:
                    result = {
                        "status": "failed",
                        "file": payload.get("file", ""),
                        "error": f"{payload.get('file', '')}: indexing was interrupted "
                        f"{MAX_ATTEMPTS} times (the server stopped while it ran). Try the "
                        "command line: python -m ingestion add FILE.",
                    }
                    conn.execute(
                        "UPDATE jobs SET status='failed', result=?, updated_at=? WHERE job_id=?",
                        (json.dumps(result), now(), job_id),
                    )
                else:
                    conn.execute(
                        "UPDATE jobs SET status='queued', progress=?, updated_at=? WHERE job_id=?",
                        (
                            json.dumps(
                                {"stage": "queued", "message": "restarted after an interruption"}
                            ),
                            now(),
                            job_id,
                        ),
                    )
                    requeued += 1
        if requeued:
            log.warning("re-queued %d interrupted ingestion job(s)", requeued)
        with self._catalog.connect() as conn:
            waiting = conn.execute(
                "SELECT 1 FROM jobs WHERE kind=? AND status='queued' LIMIT 1", (KIND,)
            ).fetchone()
        if waiting:
            self.start()
        return requeued

    def start(self) -> None:
        """Start the worker thread unless it is running."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            owner = f"{os.getpid()}:{uuid.uuid4().hex[:8]}"  # one per worker thread
            self._thread = threading.Thread(
                target=self._work, args=(owner,), name="annalyst-ingest", daemon=True
            )
            _LIVE_OWNERS.add(owner)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the worker to stop after the current job (tests, shutdown)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Block until no job is queued or running (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.has_active():
                return True
            time.sleep(0.2)
        return False

    def _claim(self, owner: str) -> dict[str, Any] | None:
        with self._catalog.transaction() as conn:
            row = conn.execute(
                "SELECT job_id, payload FROM jobs WHERE kind=? AND status='queued'"
                " ORDER BY json_extract(payload, '$.seq') LIMIT 1",
                (KIND,),
            ).fetchone()
            if row is None:
                return None
            payload = json.loads(row[1] or "{}")
            payload["attempts"] = payload.get("attempts", 0) + 1
            conn.execute(
                "UPDATE jobs SET status='running', payload=?, progress=?, updated_at=?"
                " WHERE job_id=? AND status='queued'",
                (
                    json.dumps(payload, ensure_ascii=False),
                    json.dumps({"stage": "queued", "owner": owner}),
                    now(),
                    row[0],
                ),
            )
        return {"job_id": row[0], "owner": owner, **payload}

    def _work(self, owner: str) -> None:
        try:
            while not self._stop.is_set():
                job = self._claim(owner)
                if job is None:
                    with self._lock:
                        job = self._claim(owner)
                        if job is None:
                            self._thread = None
                            return
                self._run(job)
        except Exception:
            log.exception("the ingestion worker stopped")
            with self._lock:
                self._thread = None
        finally:
            _LIVE_OWNERS.discard(owner)

    def _progress(self, job_id: str, owner: str, **progress: Any) -> None:
        progress["owner"] = owner
        with self._catalog.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET progress=?, updated_at=? WHERE job_id=?",
                (json.dumps(progress, ensure_ascii=False), now(), job_id),
            )

    def _finish(self, job_id: str, status: str, result: dict[str, Any]) -> None:
        with self._catalog.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET status=?, result=?, progress=?, updated_at=? WHERE job_id=?",
                (
                    status,
                    json.dumps(result, ensure_ascii=False, default=str),
                    json.dumps({"stage": "done", "done": 1, "total": 1}),
                    now(),
                    job_id,
                ),
            )

    def _run(self, job: dict[str, Any]) -> None:
        job_id = job["job_id"]
        last = {"t": 0.0, "stage": ""}

        def progress(_name: str, stage: str, done: int, total: int) -> None:
            t = time.monotonic()
            if stage == last["stage"] and t - last["t"] < PROGRESS_EVERY_S:
                return
            last.update(t=t, stage=stage)
            self._progress(job_id, job["owner"], stage=stage, done=done, total=total)

        while True:
            try:
                status, result = self._execute(job, progress)
            except IngestionBusy as err:
                self._progress(job_id, job["owner"], stage="queued", message=str(err))
                if self._stop.wait(RETRY_BUSY_S):
                    self._requeue(job_id)
                    return
                continue
            except AnnalystError as err:
                status, result = (
                    "failed",
                    {"status": "failed", "file": job.get("file", ""), "error": str(err)},
                )
            except Exception as err:
                log.exception("ingestion job %s failed", job_id)
                status, result = (
                    "failed",
                    {
                        "status": "failed",
                        "file": job.get("file", ""),
                        "error": f"{job.get('file', '')}: unexpected error ({type(err).__name__}); "
                        "the server log has the details.",
                    },
                )
            self._finish(job_id, status, result)
            return

    def _requeue(self, job_id: str) -> None:
        with self._catalog.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET status='queued', updated_at=? WHERE job_id=?", (now(), job_id)
            )

    def _execute(self, job: dict[str, Any], progress: Any) -> tuple[str, dict[str, Any]]:
        ingestor = self._services.ingestor
        op = job.get("op")
        if op == "remove":
            doc = ingestor.remove(job["doc_id"])
            return "done", {"status": "removed", "file": doc.file_name, "doc_id": doc.doc_id}
        if op == "reindex":
            results = ingestor.reindex([job["doc_id"]], progress=progress)
        else:
            path = Path(job["path"])
            if not path.is_file():
                return "failed", {
                    "status": "failed",
                    "file": job.get("file", ""),
                    "error": f"{job.get('file', '')}: the uploaded file is gone "
                    f"({path}); upload it again.",
                }
            results = ingestor.add([path], names={path: job["file"]}, progress=progress)
        if not results:
            return "failed", {
                "status": "failed",
                "file": job.get("file", ""),
                "error": f"{job.get('file', '')}: the document is no longer in the catalogue.",
            }
        result = results[0].to_dict()
        return ("failed" if result["status"] == "failed" else "done"), result


class ModelWarmup:
    """Loads the embedding model and the chat model in a background thread after start-up, so that
    the first question does not pay for it; the chat shows a spinner while this runs."""

    def __init__(self, services: Any) -> None:
        self._services = services
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.state = "idle"  # idle | loading | ready | error
        self.error = ""

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self.state = "loading"
            self._thread = threading.Thread(target=self._load, name="annalyst-warmup", daemon=True)
            self._thread.start()

    def _load(self) -> None:
        try:
            _ = self._services.store.collection  # opens Chroma
            self._services.store.embedder.embed_query("warm-up")
            self._services.llm.get()
            self.state = "ready"
        except AnnalystError as err:
            self.error, self.state = str(err), "error"
        except Exception as err:
            log.exception("loading the models failed")
            self.error, self.state = f"unexpected error ({type(err).__name__})", "error"

    def retry(self) -> None:
        with self._lock:
            if self.state == "error":
                self._thread = None
        self.start()
