"""CPU facts the LLM, embedder and trainer size their threads by: this process's own work must not
count as load, another process's must."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np

from backend.system import _running_threads_of, busy_elsewhere, free_cores, usable_cores


def test_own_running_threads_are_not_counted_as_busy_elsewhere():
    stop = threading.Event()

    def spin() -> None:  # numpy releases the GIL: a truly running thread of this process
        a = np.random.rand(400, 400)
        while not stop.is_set():
            a @ a

    worker = threading.Thread(target=spin, daemon=True)
    worker.start()
    try:
        time.sleep(0.2)
        own = max(_running_threads_of("self") for _ in range(20))
        assert own >= 2  # the spinning thread and this one
        assert busy_elsewhere() is not None
        # the spinning thread is ours: it never shows up as another process's load
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
        assert busy_elsewhere(samples=20) <= max(0, running - 1) + 1
    finally:
        stop.set()
        worker.join()


def test_another_busy_process_takes_a_core():
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        assert busy_elsewhere(samples=20) >= 0.9
        if usable_cores() >= 2:
            assert free_cores() <= usable_cores() - 1
    finally:
        child.kill()
        child.wait()
