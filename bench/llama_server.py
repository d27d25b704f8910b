"""llama.cpp's own OpenAI-compatible server (``llama-server``, C++), built once per machine.

    python bench/llama_server.py [--jobs N] [--cmake-args "..."]   build unless cached; JSON line
    python bench/llama_server.py --path                             where the binary is (or goes)

Unlike llama-cpp-python's server, llama-server turns the standard ``response_format``
``{"type": "json_schema", "json_schema": {...}}`` into a grammar, so ``tests/test_scale.py`` checks
Annalyst's default structured-output form against a server that enforces it. The sources are the
llama.cpp that llama-cpp-python's sdist vendors (the version ``requirements.txt`` pins, fetched with
``pip download``): the server runs the same llama.cpp as the in-process backend. The binary is
cached under ``~/.cache/annalyst/llama-server/<version>-<cpu>/`` (the CPU's feature flags name the
folder: it is built with ``-march=native``), so later runs and CI runs on a warm cache skip the
build. Measured on 2 dedicated cores (a Xeon, `taskset -c 0,1`): 4 min 32 s for the 206 build
steps (510 s user CPU), 5 min 34 s for this script from a local sdist (627 s user CPU); on the
project's shared 2-core machine under a load of 5-10, 29 min. ``pip download`` of the sdist (73 MB,
with pip's metadata step) took 2 min 8 s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: llama-server's CMake options: the server alone, statically linked, no web UI (it would be
#: downloaded from Hugging Face or built with npm), no OpenSSL (it serves plain HTTP on loopback)
CMAKE_OPTIONS = [
    "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_APP=OFF", "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF", "-DLLAMA_OPENSSL=OFF",
]  # fmt: skip


def version() -> str:
    """The llama-cpp-python version requirements.txt pins."""
    text = (ROOT / "requirements.txt").read_text()
    return re.search(r"^llama-cpp-python==(\S+)", text, re.M).group(1)


def cpu_tag() -> str:
    flags = next(
        (x for x in Path("/proc/cpuinfo").read_text().splitlines() if x.startswith("flags")), ""
    )
    return hashlib.sha256(flags.encode()).hexdigest()[:10]


def binary_path() -> Path:
    """Where llama-server is: ``ANNALYST_LLAMA_SERVER``, else the per-machine cache."""
    if os.environ.get("ANNALYST_LLAMA_SERVER"):
        return Path(os.environ["ANNALYST_LLAMA_SERVER"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "annalyst"
    return cache / "llama-server" / f"{version()}-{cpu_tag()}" / "llama-server"


def runs(binary: Path) -> bool:
    if not binary.is_file():
        return False
    done = subprocess.run([binary, "--version"], capture_output=True, timeout=60)
    return done.returncode == 0


def build(binary: Path, jobs: int, cmake_args: list[str], sdist: Path | None = None) -> None:
    """Fetch the sdist (unless given), configure and build the llama-server target, install it at
    ``binary``."""
    with tempfile.TemporaryDirectory(prefix="llama-server-") as tmp:
        work = Path(tmp)
        if sdist is None:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary",
                 ":all:", f"llama-cpp-python=={version()}", "-d", str(work)],
                check=True,
            )  # fmt: skip
            (sdist,) = work.glob("llama_cpp_python-*.tar.gz")
        with tarfile.open(sdist) as tar:
            members = [m for m in tar.getmembers() if "/vendor/llama.cpp/" in m.name]
            tar.extractall(work, members=members, filter="data")
        (src,) = work.glob("llama_cpp_python-*/vendor/llama.cpp")
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        out = work / "build"
        subprocess.run(
            ["cmake", "-S", str(src), "-B", str(out), *generator, *CMAKE_OPTIONS, *cmake_args],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            ["cmake", "--build", str(out), "--target", "llama-server", "-j", str(jobs)],
            check=True,
        )
        binary.parent.mkdir(parents=True, exist_ok=True)
        partial = binary.with_name(binary.name + ".partial")
        shutil.copy2(out / "bin" / "llama-server", partial)
        os.replace(partial, binary)  # never a half-copied binary at the cached path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--path", action="store_true", help="print the binary's path and exit")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--cmake-args", default="", help="more CMake options: the Makefile's flags")
    ap.add_argument("--sdist", type=Path, help="llama-cpp-python's sdist, already downloaded")
    args = ap.parse_args()
    binary = binary_path()
    if args.path:
        print(binary)
        return 0
    started = time.monotonic()
    cached = runs(binary)
    if not cached:
        build(binary, args.jobs, shlex.split(args.cmake_args), args.sdist)
        if not runs(binary):
            print(f"llama-server was built but does not run: {binary}", file=sys.stderr)
            return 1
    seconds = round(time.monotonic() - started, 1)
    print(f"llama-server {version()}: {binary} ({'cached' if cached else f'built in {seconds} s'})")
    print(json.dumps({"binary": str(binary), "cached": cached, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
