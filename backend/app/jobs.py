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

import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.errors import AnnalystError, IngestionBusy, UploadTooLarge
from backend.settings import Settings
from backend.store.catalog import Catalog
from backend.store.jobs import JobRow, JobTable
from backend.system import pid_alive
from ingestion.pipeline import Ingestor, store_upload

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
_WORKER = "annalyst-ingest"  # worker thread names: "annalyst-ingest <pid>:<token>"


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


def _job(row: JobRow) -> Job:
    payload, progress = row.payload, row.progress
    return Job(
        job_id=row.job_id,
        status=row.status,
        op=payload.get("op", "add"),
        file=payload.get("file", ""),
        doc_id=payload.get("doc_id", ""),
        created_at=row.created_at,
        updated_at=row.updated_at,
        stage=progress.get("stage", "queued"),
        done=int(progress.get("done", 0)),
        total=int(progress.get("total", 0)),
        message=progress.get("message", ""),
        result=row.result,
    )


def _worker_alive(owner: str) -> bool:
    """Is the worker thread ``owner`` of this process still running?"""
    return any(t.name == f"{_WORKER} {owner}" and t.is_alive() for t in threading.enumerate())


class IngestQueue:
    """Submit ingestion work from the UI; run it in one background thread of this process."""

    def __init__(
        self, settings: Settings, catalog: Catalog, ingestor: Callable[[], Ingestor]
    ) -> None:
        self._settings = settings
        self._catalog = catalog
        self._table = JobTable(catalog, KIND)
        self._ingestor = ingestor  # built on first use (loads the embedding model)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- submitting --------------------------------------------------------------------------
    def submit_upload(self, data: bytes, name: str) -> Submission:
        """Queue an uploaded PDF (saved content-addressed under the uploads folder)."""
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
        return self._submit_doc("reindex", doc_id)

    def submit_remove(self, doc_id: str) -> Submission:
        return self._submit_doc("remove", doc_id)

    def _submit_doc(self, op: str, doc_id: str) -> Submission:
        doc = self._catalog.find_document(doc_id)
        payload = {
            "op": op,
            "file": doc.file_name,
            "doc_id": doc.doc_id,
            "key": f"doc:{doc.doc_id}",
        }
        return self._submit(payload)

    def _submit(self, payload: dict[str, Any]) -> Submission:
        job_id = f"ingest-{uuid.uuid4().hex[:12]}"
        payload = {**payload, "seq": time.time_ns(), "attempts": 0}
        if not self._table.insert_unique(job_id, payload):
            return Submission("duplicate", payload["file"])
        log.info("queued %s %s as %s", payload["op"], payload["file"], job_id)
        self.start()
        return Submission("queued", payload["file"], job_id=job_id)

    # -- reading -----------------------------------------------------------------------------
    def jobs(self, limit: int = 30) -> list[Job]:
        """Recent ingestion jobs, newest first."""
        return [_job(r) for r in self._table.recent(limit)]

    def job(self, job_id: str) -> Job | None:
        row = self._table.get(job_id)
        return _job(row) if row else None

    def has_active(self) -> bool:
        return any(j.active for j in self.jobs(limit=100))

    # -- running -----------------------------------------------------------------------------
    def recover(self) -> int:
        """Queue again jobs left 'running' by a process that is gone; start the worker if work
        is waiting. Returns how many jobs were re-queued."""

        def alive(owner: str) -> bool:
            pid = int(owner.split(":")[0]) if owner.split(":")[0].isdigit() else 0
            return _worker_alive(owner) if pid == os.getpid() else pid_alive(pid)

        def gave_up(payload: dict[str, Any]) -> dict[str, Any]:
            file = payload.get("file", "")
            return {
                "status": "failed",
                "file": file,
                "error": f"{file}: indexing was interrupted {MAX_ATTEMPTS} times (the server "
                "stopped while it ran). Try the command line: python -m ingestion add FILE.",
            }

        requeued = self._table.repair_running(alive, MAX_ATTEMPTS, gave_up)
        if requeued:
            log.warning("re-queued %d interrupted ingestion job(s)", requeued)
        if self._table.has_queued():
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
                target=self._work, args=(owner,), name=f"{_WORKER} {owner}", daemon=True
            )
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
        claimed = self._table.claim_next(owner)
        if claimed is None:
            return None
        job_id, payload = claimed
        return {"job_id": job_id, "owner": owner, **payload}

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

    def _progress(self, job_id: str, owner: str, **progress: Any) -> None:
        self._table.set_progress(job_id, {**progress, "owner": owner})

    def _finish(self, job_id: str, status: str, result: dict[str, Any]) -> None:
        self._table.finish(job_id, status, result)

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
                    {"status": "failed", "file": job.get("file", ""), **err.record()},
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
        self._table.requeue(job_id)

    def _execute(self, job: dict[str, Any], progress: Any) -> tuple[str, dict[str, Any]]:
        ingestor = self._ingestor()
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
    """Runs the model-loading ``steps`` (open Chroma, load the embedder, load the chat model) in a
    background thread after start-up, so that the first question does not pay for them; the chat
    shows a spinner while this runs."""

    def __init__(self, *steps: Callable[[], Any]) -> None:
        self._steps = steps
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.state = "idle"  # idle | loading | ready | error
        self.error = ""
        self.failure: AnnalystError | None = None  # the error, for the interface's translations

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self.state = "loading"
            self._thread = threading.Thread(target=self._load, name="annalyst-warmup", daemon=True)
            self._thread.start()

    def _load(self) -> None:
        try:
            for step in self._steps:
                step()
            self.state = "ready"
        except AnnalystError as err:
            self.error, self.failure, self.state = str(err), err, "error"
        except Exception as err:
            log.exception("loading the models failed")
            self.error, self.state = f"unexpected error ({type(err).__name__})", "error"

    def retry(self) -> None:
        with self._lock:
            if self.state == "error":
                self._thread = None
        self.start()
