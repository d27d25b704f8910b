"""What the admin page calls: start a run in the background, follow it, cancel it, manage versions.

A run is a separate process (``python -m training run ...``, its own session, so closing the page
does not stop it and a crash cannot take the app down) writing ``<run>/progress.jsonl`` and
``<run>/status.json``; the page polls :func:`read_progress` / :func:`run_status`. Runs live under
``<data_dir>/training/runs/<id>``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from backend.registry import ModelRegistry, ModelVersion
from backend.settings import PROJECT_ROOT, Settings
from training.args import TrainArgs
from training.progress import read_progress, read_status, request_cancel, write_status

__all__ = [
    "activate",
    "cancel_run",
    "format_versions",
    "list_runs",
    "list_versions",
    "new_run_dir",
    "read_progress",
    "rollback",
    "run_status",
    "start_evaluation",
    "start_run",
]


def runs_dir(settings: Settings) -> Path:
    return settings.data_dir / "training" / "runs"


def new_run_dir(settings: Settings) -> Path:
    return runs_dir(settings) / time.strftime("%Y%m%d-%H%M%S")


def _env(settings: Settings) -> dict[str, str]:
    env = {
        **os.environ,
        "ANNALYST_DATA_DIR": str(settings.data_dir),
        "ANNALYST_CORPUS_DIR": str(settings.corpus_dir),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    if settings.models_path:
        env["ANNALYST_MODELS_PATH"] = str(settings.models_path)
    return env


def _args_to_argv(args: TrainArgs) -> list[str]:
    argv = []
    for key, value in args.to_json().items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + key.replace("_", "-"))
        else:
            argv += [flag, str(value)]
    return argv


def start_run(settings: Settings, args: TrainArgs, *, nice: int = 10) -> dict[str, Any]:
    """Start ``python -m training run`` in the background; returns {run_dir, pid}."""
    args.out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "training", "run", *_args_to_argv(args)]
    log = open(args.out / "stdout.log", "ab")
    proc = subprocess.Popen(
        cmd,
        cwd=PROJECT_ROOT,
        env=_env(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=(lambda: os.nice(nice)) if nice else None,
    )
    log.close()
    write_status(args.out, "starting", pid=proc.pid, args=args.to_json())
    return {"run_dir": str(args.out), "pid": proc.pid}


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a finished child not yet reaped is a zombie: not alive
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        return state != "Z"
    except OSError:
        return True


def run_status(run_dir: Path) -> dict[str, Any]:
    """status.json + whether the process lives + the last step line; a dead 'running' is failed."""
    status = read_status(run_dir)
    alive = _alive(status.get("pid"))
    if status.get("state") in ("starting", "running", "exporting") and not alive:
        status["state"] = "failed"
        status.setdefault(
            "error",
            f"the training process ended without reporting; see {Path(run_dir) / 'stdout.log'}",
        )
    steps = [r for r in read_progress(run_dir) if r.get("event") == "step"]
    status["alive"] = alive
    status["last_step"] = steps[-1] if steps else None
    status["cancel_requested"] = (Path(run_dir) / "CANCEL").exists()
    return status


def cancel_run(run_dir: Path) -> None:
    """Ask the run to stop at the next step boundary (it saves a checkpoint; rerun resumes)."""
    request_cancel(run_dir)


def list_runs(settings: Settings) -> list[dict[str, Any]]:
    root = runs_dir(settings)
    if not root.is_dir():
        return []
    return [
        {"run_dir": str(d), **run_status(d)}
        for d in sorted(root.iterdir(), reverse=True)
        if d.is_dir()
    ]


def list_versions(settings: Settings) -> list[dict[str, Any]]:
    """Versions (newest first) with scores, gate verdict and whether active — for the table."""
    reg = ModelRegistry(settings.registry_dir)
    active = reg.active()
    out = []
    for mv in reversed(reg.versions()):
        out.append(
            {
                "version": mv.version,
                "name": mv.name,
                "base": mv.base,
                "created_at": mv.created_at,
                "quant": mv.quant,
                "active": active is not None and active.version == mv.version,
                "gate": mv.scores.get("gate"),
                "heldout": mv.scores.get("heldout"),
                "train": mv.scores.get("train"),
                "eval": mv.scores.get("eval"),
                "gguf_path": str(mv.gguf_path),
                "sha256": mv.sha256,
            }
        )
    return out


def activate(settings: Settings, version: str, *, force: bool = False) -> ModelVersion:
    return ModelRegistry(settings.registry_dir).activate(version, force=force)


def rollback(settings: Settings) -> ModelVersion | None:
    return ModelRegistry(settings.registry_dir).rollback()


def start_evaluation(
    settings: Settings, version: str, *, limit: int | None = None, nice: int = 10
) -> dict[str, Any]:
    """``python -m training evaluate VERSION`` in the background; its log is in the version dir."""
    reg = ModelRegistry(settings.registry_dir)
    mv = reg.get(version)
    cmd = [sys.executable, "-m", "training", "evaluate", version]
    if limit:
        cmd += ["--limit", str(limit)]
    (mv.dir / "eval").mkdir(exist_ok=True)
    log = open(mv.dir / "eval" / "evaluate.log", "ab")
    proc = subprocess.Popen(
        cmd,
        cwd=PROJECT_ROOT,
        env=_env(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=(lambda: os.nice(nice)) if nice else None,
    )
    log.close()
    return {"pid": proc.pid, "log": str(mv.dir / "eval" / "evaluate.log")}


def format_versions(reg: ModelRegistry) -> str:
    active = reg.active()
    rows = [f"{'':2s}{'version':44s} {'base':22s} {'quant':7s} {'held-out':>9s} {'gate':28s}"]
    for mv in reg.versions():
        mark = "* " if active and active.version == mv.version else "  "
        held = mv.scores.get("heldout", {}).get("facts")
        gate = mv.scores.get("gate")
        verdict = (
            "not evaluated"
            if not gate
            else (
                f"{'better' if gate.get('better') else 'not better'} {gate.get('candidate')} vs "
                f"{gate.get('baseline')}"
            )
        )
        rows.append(
            f"{mark}{mv.version:44s} {mv.base[:22]:22s} {mv.quant:7s} "
            f"{'-' if held is None else held:>9} {verdict[:28]:28s}"
        )
    if len(rows) == 1:
        rows.append("  (no versions yet: `python -m training run ...`)")
    rows.append("active: " + (active.version if active else "none (configured chat model)"))
    return "\n".join(rows)
