"""The one launcher of background processes: a command of this project (``python -m ingestion
fewshot``, ``python -m training run``, ``python -m backend.evaluate``) started in its own session
(it survives page reloads and app restarts) at a lower CPU priority, with the app's settings passed
as ``ANNALYST_*`` variables and its output in ``<run dir>/log.txt``.

Each kind of job runs at most once at a time. A kind's lock file ``<data_dir>/admin/<kind>.lock`` is
``flock``-ed by the starting server and inherited by the process, so the kernel holds it exactly as
long as the job runs, whatever happens to the server; ``<run dir>/job.json`` records the command,
the pid and the start time, and ``<run dir>/exit_code`` is written when the command ends. Status
is read from those files, never from a browser session.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backend.errors import JobBusy
from backend.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)


# --- settings for child processes -----------------------------------------------------------
def settings_env(settings: Settings) -> dict[str, str]:
    """The app's settings as ``ANNALYST_*`` variables, so a CLI child sees the same data, models
    and options (paths made absolute; the admin password is not passed on)."""
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        if name == "admin_password":
            continue
        value = getattr(settings, name)
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if isinstance(value, Path):
            value = value.resolve()
        env[f"ANNALYST_{name.upper()}"] = str(value)
    return env


# --- one background process per kind ----------------------------------------------------------
@dataclass
class ProcStatus:
    """State of the last job of one kind."""

    kind: str
    state: str  # none | running | finished | failed | stopped
    run_dir: Path | None = None
    pid: int = 0
    started: float = 0.0
    exit_code: int | None = None
    command: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def log_tail(self, lines: int = 30) -> str:
        return tail(self.run_dir / "log.txt", lines) if self.run_dir else ""


def tail(path: Path, lines: int = 30, max_bytes: int = 64_000) -> str:
    """The last ``lines`` lines of a text file ('' if missing); progress bars collapsed."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    rows = [r.split("\r")[-1] for r in data.rstrip("\n").split("\n")]  # bars: last state
    return "\n".join(rows[-lines:])


class ProcessJobs:
    """Start and watch the background command of each kind."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.data_dir / "admin"
        self._children: dict[int, subprocess.Popen[bytes]] = {}  # reaped on status reads

    def _lock_path(self, kind: str) -> Path:
        return self.root / f"{kind}.lock"

    def _last_path(self, kind: str) -> Path:
        return self.root / f"{kind}.last"

    def is_running(self, kind: str) -> bool:
        self._reap()
        path = self._lock_path(kind)
        if not path.exists():
            return False
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing drops our shared lock too
        return False

    def start(self, kind: str, cmd: list[str], run_dir: Path, meta: dict[str, Any]) -> ProcStatus:
        """Run ``cmd`` in the background as the one job of ``kind``; raise JobBusy if one runs."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path(kind), os.O_RDWR | os.O_CREAT, 0o644)
        for _ in range(10):  # a status reader may hold a shared lock for a moment
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(0.05)
        else:
            os.close(fd)
            current = self.status(kind)
            raise JobBusy(
                f"A {kind} job is already running (started {_ago(current.started)}, folder "
                f"{current.run_dir}). Wait for it to finish or cancel it first."
            )
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "exit_code").unlink(missing_ok=True)
            script = f"{shlex.join(cmd)} > log.txt 2>&1; echo $? > exit_code"
            env = {
                **os.environ,
                **settings_env(self.settings),
                "PYTHONUNBUFFERED": "1",
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "PYTHONPATH": str(PROJECT_ROOT),
            }
            env.pop("ANNALYST_ADMIN_PASSWORD", None)
            os.set_inheritable(fd, True)
            proc = subprocess.Popen(
                ["nice", "-n", "10", "sh", "-c", script],
                cwd=run_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                pass_fds=(fd,),
            )
        finally:
            os.close(fd)  # the child keeps the lock through its inherited descriptor
        self._children[proc.pid] = proc
        record = {
            "kind": kind,
            "pid": proc.pid,
            "started": time.time(),
            "command": cmd,
            "run_dir": str(run_dir),
            "meta": meta,
        }
        (run_dir / "job.json").write_text(json.dumps(record, indent=1, default=str))
        tmp = self._last_path(kind).with_suffix(".tmp")
        tmp.write_text(str(run_dir))
        os.replace(tmp, self._last_path(kind))
        log.info("started %s job pid %d in %s: %s", kind, proc.pid, run_dir, shlex.join(cmd))
        return self.status(kind)

    def status(self, kind: str) -> ProcStatus:
        try:
            run_dir = Path(self._last_path(kind).read_text().strip())
            record = json.loads((run_dir / "job.json").read_text())
        except (OSError, ValueError):
            return ProcStatus(kind, "none")
        st = ProcStatus(
            kind,
            "running",
            run_dir,
            int(record.get("pid", 0)),
            float(record.get("started", 0)),
            None,
            record.get("command", []),
            record.get("meta", {}),
        )
        if self.is_running(kind):
            return st
        try:
            st.exit_code = int((run_dir / "exit_code").read_text().strip())
            st.state = "finished" if st.exit_code == 0 else "failed"
        except (OSError, ValueError):
            st.state = "stopped"  # killed before the wrapper could record an exit code
        return st

    def stop(self, kind: str, *, kill: bool = False) -> bool:
        """Signal the running job's process group (only while it still holds its lock, so the
        pid is still ours): SIGTERM, or SIGKILL with ``kill``."""
        st = self.status(kind)
        if not st.running or st.pid <= 0:
            return False
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(st.pid, signal.SIGKILL if kill else signal.SIGTERM)
        return True

    def _reap(self) -> None:
        for pid, proc in list(self._children.items()):
            if proc.poll() is not None:
                self._children.pop(pid, None)


def _ago(ts: float) -> str:
    if not ts:
        return "at an unknown time"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
