"""Multi-process training on the CPU (issue 17): `python -m training run --nproc 2` re-launches
itself under torch.distributed.run; two ranks talk over gloo, each trains on its shard of the
items, only rank 0 exports and registers. The GPU path is the same code with NCCL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.llm.registry import ModelRegistry
from backend.settings import PROJECT_ROOT
from tests.conftest import MODELS, require

SAMPLE = Path(__file__).parent / "data" / "training_sample.jsonl"
SMOL = MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.mark.slow
def test_two_processes_train_one_model(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from training.progress import read_progress, read_status

    require(SMOL.is_file(), "SmolLM2 GGUF not prepared (python -m backend models prepare)")
    lines = SAMPLE.read_text().splitlines()
    data = tmp_path / "fewshot"
    data.mkdir()
    (data / "train.jsonl").write_text("\n".join(lines[:8]) + "\n")
    (data / "val.jsonl").write_text("\n".join(lines[8:]) + "\n")
    (data / "card.json").write_text(json.dumps({"generator": "tests/data/training_sample.jsonl"}))
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANNALYST_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(PROJECT_ROOT),
               ANNALYST_DATA_DIR=str(tmp_path / "data"), ANNALYST_MODELS_PATH=str(MODELS))  # fmt: skip
    # 8 items, batch 1, 2 ranks: 4 steps are one epoch, each rank trains on 4 items
    cmd = [sys.executable, "-m", "training", "run", "--nproc", "2", "--data", str(data),
           "--base", "smollm2-135m", "--out", str(out), "--steps", "4", "--rank", "4",
           "--batch-size", "1", "--lr", "1e-3", "--warmup-steps", "0", "--device", "cpu",
           "--threads", "1", "--heldout-items", "0", "--name", "ddp"]  # fmt: skip
    run = subprocess.run(cmd, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True,
                         timeout=900)  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    assert "torch.distributed.run --standalone --nproc-per-node 2" in run.stderr

    ranks = [json.loads((out / "ranks" / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert [r["rank"] for r in ranks] == [0, 1] and ranks[0]["pid"] != ranks[1]["pid"]
    assert all(r["world_size"] == 2 and r["backend"] == "gloo" and r["steps"] == 4 for r in ranks)
    shards = [set(r["items"]) for r in ranks]
    assert all(len(r["items"]) == 4 for r in ranks)  # one epoch: 4 items each
    assert not shards[0] & shards[1] and shards[0] | shards[1] == set(range(8))

    lora = load_file(str(out / "adapter" / "adapter_model.safetensors"))
    assert max(float(t.abs().max()) for k, t in lora.items() if "lora_B" in k) > 0  # trained
    events = read_progress(out)
    assert next(e for e in events if e["event"] == "start")["world_size"] == 2
    assert [e["event"] for e in events].count("registered") == 1  # rank 0 only
    assert read_status(out)["state"] == "completed"
    (mv,) = ModelRegistry(tmp_path / "data" / "registry").versions()
    assert mv.name == "ddp" and mv.gguf_path.read_bytes()[:4] == b"GGUF"


@pytest.mark.parametrize("nproc", [2, 4])
def test_nproc_relaunches_under_torchrun(tmp_path: Path, nproc: int) -> None:
    """What `--nproc N` (CLI, admin page) runs: torch.distributed.run with N processes, whose
    ranks get the same arguments without --nproc (torchrun's parser would claim it)."""
    from backend.errors import TrainingError
    from training.args import TrainArgs
    from training.train import distributed_argv

    args = TrainArgs(data=SAMPLE, base="smollm2-135m", out=tmp_path / "r", steps=3, nproc=nproc)
    flags = args.to_argv()
    assert flags[flags.index("--nproc") + 1] == str(nproc)
    argv = distributed_argv(args)
    head = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node"]
    assert argv[:6] == [*head, str(nproc)] and argv[6:9] == ["-m", "training", "run"]
    assert "--nproc" not in argv[9:] and ["--steps", "3"] == argv[argv.index("--steps") :][:2]
    with pytest.raises(TrainingError, match="--nproc must be at least 1"):
        TrainArgs(data=SAMPLE, base="smollm2-135m", out=tmp_path / "r", nproc=0)
