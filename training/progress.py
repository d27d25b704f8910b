"""Run folder bookkeeping shared by the trainer, the CLI and the admin page.

``<run>/progress.jsonl``: one JSON object per line (``event``: start, step, checkpoint, export,
quantize, heldout, registered, done, cancelled, error). ``<run>/status.json``: the run's state
(``starting``/``running``/``exporting``/``completed``/``cancelled``/``failed``), pid and last step,
rewritten atomically. ``<run>/CANCEL``: created to ask the run to stop at the next step boundary
(it saves a checkpoint first, so the run can be resumed).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from backend.system import pid_alive, write_json_atomic

PROGRESS = "progress.jsonl"
STATUS = "status.json"
CANCEL = "CANCEL"


class ProgressLog:
    """Appends JSON lines to ``<run>/progress.jsonl`` and echoes them to stdout."""

    def __init__(self, run_dir: Path, echo: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / PROGRESS
        self.echo = echo

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        rec = {"event": event, "time": round(time.time(), 3), **fields}
        line = json.dumps(rec, ensure_ascii=False, default=str)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
        if self.echo:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        return rec

    def status(self, state: str, **fields: Any) -> None:
        write_status(self.run_dir, state, **fields)


def write_status(run_dir: Path, state: str, **fields: Any) -> None:
    path = Path(run_dir) / STATUS
    old = read_status(run_dir)
    data = {**old, **fields, "state": state, "updated": round(time.time(), 3)}
    write_json_atomic(path, data, fsync=False)


def read_status(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((Path(run_dir) / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def read_progress(run_dir: Path, since: int = 0) -> list[dict[str, Any]]:
    """Progress records from line ``since`` on (pass ``len(previous)`` to poll incrementally)."""
    path = Path(run_dir) / PROGRESS
    if not path.is_file():
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i < since:
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                break  # a line being written right now
    return out


def cancel_requested(run_dir: Path) -> bool:
    return (Path(run_dir) / CANCEL).exists()


def request_cancel(run_dir: Path) -> None:
    (Path(run_dir) / CANCEL).touch()


def run_status(run_dir: Path) -> dict[str, Any]:
    """status.json + whether the process lives + the last step line; a dead 'running' is failed."""
    status = read_status(run_dir)
    alive = pid_alive(status.get("pid"))
    if status.get("state") in ("starting", "running", "exporting") and not alive:
        status["state"] = "failed"
        if not status.get("error"):  # the key may be there with None
            status["error"] = (
                "the training process ended without reporting (killed?); see "
                f"{Path(run_dir) / 'stdout.log'}; run the same command again to resume"
            )
    steps = [r for r in read_progress(run_dir) if r.get("event") == "step"]
    status["alive"] = alive
    status["last_step"] = steps[-1] if steps else None
    status["cancel_requested"] = (Path(run_dir) / "CANCEL").exists()
    return status
