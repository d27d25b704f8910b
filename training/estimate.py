"""How long a training run takes on a device, from measured tokens per second.

The admin page shows this before a run starts, so nobody launches a 1.5B fine-tune on two CPU
cores expecting minutes. Tokens/s come from, in order:

1. this machine's own last run of the same base on the same device (``tok_per_s`` of the last
   ``step`` line of ``<runs>/*/progress.jsonl``);
2. the measurements in ``bench/RESULTS.md`` ("Training"), copied into :data:`MEASURED`.

Tokens per step = batch size × gradient accumulation × the data's mean tokens per item (from the
training JSONL, counted with the same ~4 characters-per-token rule the prompts use), so an
estimate is as good as the tokens/s it starts from; it says which source it used.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: (device, bundled base) → training tokens/s, LoRA on all projections (bench/RESULTS.md):
#: CPU = this 2-core machine under load with bf16 autocast; cuda = one H200, bf16 LoRA (the
#: mode ``--quant auto`` picks up to 1.5B). The 1.5B on CPU is the 0.5B's figure scaled by
#: parameters (not measured: hours per useful run).
MEASURED: dict[tuple[str, str], float] = {
    ("cpu", "smollm2-135m"): 110.0,
    ("cpu", "qwen2.5-0.5b"): 21.0,
    ("cpu", "qwen2.5-coder-1.5b"): 7.0,
    ("cuda", "smollm2-135m"): 9000.0,
    ("cuda", "qwen2.5-0.5b"): 8692.0,
    ("cuda", "qwen2.5-coder-1.5b"): 9015.0,
}

#: Entries of :data:`MEASURED` that are projections, not measurements, and from what.
PROJECTED = {("cpu", "qwen2.5-coder-1.5b"): "the 0.5B's CPU speed scaled by parameters"}

#: What a useful run needs (bench/RESULTS.md: ~300 steps before held-out answers change).
USEFUL_STEPS = 300


@dataclass(frozen=True)
class Estimate:
    """Seconds for ``steps`` optimizer steps, and where the speed came from."""

    seconds: float
    tok_per_s: float
    tokens_per_step: float
    source: str  # "this machine, run <name>" | "bench/RESULTS.md" | "unknown"

    steps: int = 0

    @property
    def useful_seconds(self) -> float:
        """The same speed for :data:`USEFUL_STEPS` steps."""
        return self.seconds / self.steps * USEFUL_STEPS if self.steps else 0.0


def mean_item_tokens(data: Path, limit: int = 400) -> float:
    """Mean tokens per training item (~4 characters a token) over the first ``limit`` items."""
    path = Path(data)
    path = path / "train.jsonl" if path.is_dir() else path
    total = n = 0
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if n >= limit:
                    break
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                total += sum(len(m.get("content", "")) for m in item.get("messages", []))
                n += 1
    except OSError:
        return 0.0
    return total / 4 / n if n else 0.0


def measured_here(runs_dir: Path, base: str, device: str) -> tuple[float, str] | None:
    """tokens/s of the newest finished-enough run of ``base`` on ``device`` under ``runs_dir``."""
    from training.progress import read_progress

    for run in sorted(Path(runs_dir).glob("*"), reverse=True):
        lines = read_progress(run)
        start = next((x for x in lines if x.get("event") == "start"), {})
        if start.get("base") != base or start.get("device") != device:
            continue
        speeds = [x["tok_per_s"] for x in lines if x.get("event") == "step" and x.get("tok_per_s")]
        if speeds:
            return float(speeds[-1]), f"this machine, run {run.name}"
    return None


def estimate(
    *,
    base: str,
    device: str,
    steps: int,
    batch_size: int,
    grad_accum: int = 1,
    data: Path,
    runs_dir: Path,
) -> Estimate:
    """Wall time of the training steps (loading, export and checks come on top: minutes)."""
    tokens_per_step = batch_size * grad_accum * mean_item_tokens(data)
    found = measured_here(runs_dir, base, device)
    if found is None and (device, base) in MEASURED:
        found = MEASURED[(device, base)], PROJECTED.get((device, base), "bench/RESULTS.md")
    if found is None or tokens_per_step <= 0:
        return Estimate(0.0, 0.0, tokens_per_step, "unknown", steps)
    tok_s, source = found
    return Estimate(steps * tokens_per_step / tok_s, tok_s, tokens_per_step, source, steps)
