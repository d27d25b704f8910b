"""Servers that tests start as users would (a subprocess on a free loopback port, in its own
process group), wait for, and stop; the server's log must hold no traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from backend.settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(
    cmd: list[str],
    env: dict[str, str],
    log_path: Path,
    ready: Callable[[], bool],
    wait_s: float,
    *,
    clean_log: bool = True,
) -> Iterator[subprocess.Popen]:
    """Start ``cmd``, wait until ``ready()`` (fail with the log if it dies or takes longer than
    ``wait_s``), yield, then stop the whole process group. ``clean_log=False`` for a server that
    logs a traceback for a request the test makes it refuse."""
    log = open(log_path, "wb")  # closed below
    proc = subprocess.Popen(
        cmd, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + wait_s
        while not ready():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{cmd[2:4]} did not start:\n" + log_path.read_text(errors="replace"))
            time.sleep(0.3)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
        text = log_path.read_text(errors="replace")
        assert not clean_log or "Traceback" not in text, text[-3000:]


#: A tool-call schema and a question that needs it (structured-output tests).
SCHEMA = {
    "type": "object",
    "properties": {
        "tool": {"enum": ["calculate", "search_reports"]},
        "args": {
            "type": "object",
            "properties": {"expression": {"type": "string", "maxLength": 40}},
            "required": ["expression"],
        },
    },
    "required": ["tool", "args"],
}
ASK = [{"role": "user", "content": "Compute 2 + 3 with the calculate tool. Reply in JSON."}]
