"""QLoRA and bf16 LoRA on a CUDA GPU through the real `training run` path (skipped without CUDA).

The base is a tiny random model with SmolLM2's architecture and tokenizer (training.tiny), made
from the bundled GGUF, or read from ``ANNALYST_TINY_DIR`` (``hf/`` + ``tiny-f16.gguf``) where the
bundled models are not available (the GPU machine).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from backend.settings import Settings
from tests.conftest import MODELS

SAMPLE = Path(__file__).parent / "data" / "training_sample.jsonl"


def _tiny(tmp_path: Path) -> tuple[Path, Path]:
    given = os.environ.get("ANNALYST_TINY_DIR")
    if given:
        return Path(given) / "hf", Path(given) / "tiny-f16.gguf"
    gguf = MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not gguf.is_file():
        pytest.skip("bundled SmolLM2 GGUF not prepared and ANNALYST_TINY_DIR not set")
    from tests.tiny import make_tiny

    return make_tiny(gguf, tmp_path / "tiny", hidden=32)


@pytest.mark.gpu
@pytest.mark.parametrize("quant", ["4bit", "none"])
def test_cuda_training_run(tmp_path, quant):
    from safetensors.torch import load_file

    from training.args import TrainArgs
    from training.train import main

    hf, gguf = _tiny(tmp_path)
    args = TrainArgs(
        data=SAMPLE,
        base=str(hf),
        template_gguf=str(gguf),
        out=tmp_path / "run",
        steps=30,
        rank=8,
        lr=3e-3,
        warmup_steps=0,
        batch_size=4,
        device="cuda",
        quant=quant,
        export=False,
        register=False,
        save_every=100,
    )
    res = main(args, Settings(data_dir=tmp_path / "data", models_path=MODELS))
    assert res["mode"] == ("qlora-nf4-bf16" if quant == "4bit" else "lora-bf16")
    assert res["last_loss"] < res["first_loss"]
    lora = load_file(str(tmp_path / "run" / "adapter" / "adapter_model.safetensors"))
    assert any(float(t.abs().max()) > 0 for k, t in lora.items() if "lora_B" in k)
    steps = [
        json.loads(ln) for ln in (tmp_path / "run" / "progress.jsonl").read_text().splitlines()
    ]
    start = next(s for s in steps if s["event"] == "start")
    assert start["device"] == "cuda"
    print(
        json.dumps(
            {
                "quant": quant,
                **{
                    k: res.get(k)
                    for k in ("mode", "first_loss", "last_loss", "peak_gpu_gib", "tokens")
                },
            }
        )
    )
