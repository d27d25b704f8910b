"""Files and CPU facts used by every stage: content hashes, atomic writes, free cores, bf16 support.

Each exists once here (ingestion hashes uploads, the model preparer and the registry verify GGUFs,
the embedder and the trainer both ask whether the CPU multiplies bfloat16 natively).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

_BLOCK = 1 << 22  # 4 MiB reads


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 4 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def copy_hashing(sources: Iterable[Path], target: Path) -> tuple[str, int]:
    """Concatenate ``sources`` into ``target`` (fsynced); return its sha256 and size."""
    h = hashlib.sha256()
    size = 0
    with open(target, "wb") as out:
        for source in sources:
            with open(source, "rb") as f:
                for block in iter(lambda f=f: f.read(_BLOCK), b""):
                    h.update(block)
                    size += len(block)
                    out.write(block)
        out.flush()
        os.fsync(out.fileno())
    return h.hexdigest(), size


def write_text_atomic(path: Path, text: str, *, fsync: bool = False) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half of one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        if fsync:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: Any, *, fsync: bool = True) -> None:
    """``data`` as indented JSON, written atomically (see :func:`write_text_atomic`)."""
    write_text_atomic(
        path, json.dumps(data, ensure_ascii=False, indent=1, default=str), fsync=fsync
    )


def cpu_has_bf16() -> bool:
    """Does this CPU multiply bfloat16 natively (AVX512-BF16 or AMX)? Elsewhere bf16 is slow."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="ignore")
    except OSError:
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def _running_threads_of(pid: str) -> int:
    """Threads of process ``pid`` that are running or runnable now (state R in /proc)."""
    n = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] == b"R":
            n += 1
    return n


def busy_elsewhere(samples: int = 5, gap_s: float = 0.002) -> float | None:
    """Threads of *other* processes running now: the kernel's runnable count (/proc/loadavg)
    minus this process's running threads, averaged over a few samples; None without /proc."""
    seen = []
    for i in range(samples):
        try:
            with open("/proc/loadavg", encoding="ascii") as f:
                running = int(f.read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return None
        seen.append(max(0, running - _running_threads_of("self")))
        if i + 1 < samples:
            time.sleep(gap_s)
    return sum(seen) / len(seen)


def free_cores() -> int:
    """Cores this process may use that other processes are not busy on (at least 1).

    llama.cpp decode collapses when a thread shares a core with other work (2 threads with one core
    busy measured 0.3 tok/s against 29 tok/s with 1 thread), so count the cores other processes
    use now. This process's own work does not count: the 1-minute load average used before
    included it, so a process that had just embedded or searched gave its model 1 thread of 2
    (measured: 40 prompt tokens/s instead of ~85 in an evaluation run). Without /proc: usable
    cores minus the 1-minute load average.
    """
    usable = usable_cores()
    others = busy_elsewhere()
    if others is None:
        try:
            others = os.getloadavg()[0]
        except OSError:  # pragma: no cover
            others = 0.0
    return max(1, min(usable, int(usable - others + 0.5)))


def pid_alive(pid: int | None) -> bool:
    """Is process ``pid`` running (a zombie — finished, not yet reaped — is not)?"""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSONL file; ValueError names the line."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as err:
                raise ValueError(f"{path} line {n} is not valid JSON ({err})") from err
            if not isinstance(item, dict):
                raise ValueError(f"{path} line {n} is not a JSON object")
            yield n, item


def lowest_priority() -> None:
    """Run the calling thread at the lowest CPU priority (Linux: threads have their own nice
    value), so that background work never slows down a question being answered."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass
