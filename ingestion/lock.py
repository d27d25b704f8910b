"""One writer at a time: an exclusive ``flock`` on ``<data_dir>/ingest.lock``.

The lock file names its holder (pid, command, start time) so that a second writer can say who is
busy. ``flock`` is released by the kernel when the holder dies, so a ``kill -9`` never leaves a stale
lock behind.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sys
import time
from pathlib import Path

from backend.errors import IngestionBusy

log = logging.getLogger(__name__)


class WriterLock:
    def __init__(self, data_dir: Path, *, timeout: float = 0.0, purpose: str = "") -> None:
        self.path = Path(data_dir) / "ingest.lock"
        self.timeout = timeout
        self.purpose = purpose or " ".join(sys.argv[:3])
        self._fd: int | None = None

    def holder(self) -> str:
        try:
            info = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return "unknown process"
        return f"pid {info.get('pid')}, {info.get('purpose', '')}, since {info.get('since', '?')}"

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        waiting = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waiting and self.timeout > 0:
                    log.warning(
                        "another ingestion is running (%s); waiting up to %.0f s",
                        self.holder(),
                        self.timeout,
                    )
                    waiting = True
                if time.monotonic() >= deadline:
                    holder = self.holder()
                    os.close(fd)
                    raise IngestionBusy(holder) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.write(
            fd,
            json.dumps(
                {
                    "pid": os.getpid(),
                    "purpose": self.purpose,
                    "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                }
            ).encode(),
        )
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
