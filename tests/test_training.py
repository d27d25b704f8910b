"""End to end on CPU with the smallest bundled model (SmolLM2-135M): LoRA training on real items,
merge → F16 GGUF → Q4_K_M, llama.cpp answers, torch/GGUF parity, registry; cancel and resume."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from backend.llm.registry import ModelRegistry
from backend.settings import Settings
from tests.conftest import CORPUS, MODELS, require

SAMPLE = Path(__file__).parent / "data" / "training_sample.jsonl"
SMOL = MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    require(SMOL.is_file(), "SmolLM2 GGUF not prepared (python -m backend models prepare)")
    root = tmp_path_factory.mktemp("training")
    lines = SAMPLE.read_text().splitlines()
    data = root / "fewshot"
    data.mkdir()
    (data / "train.jsonl").write_text("\n".join(lines[:9]) + "\n")
    (data / "val.jsonl").write_text("\n".join(lines[9:]) + "\n")
    (data / "card.json").write_text(json.dumps({"generator": "tests/data/training_sample.jsonl"}))
    settings = Settings(data_dir=root / "data", models_path=MODELS, corpus_dir=CORPUS)
    return root, data, settings


def test_train_export_quantize_answer_register(env):
    import torch
    from llama_cpp import Llama
    from safetensors.torch import load_file

    from training.args import TrainArgs
    from training.check import agreement, gguf_greedy, torch_greedy
    from training.model import BaseModel, merged_state_dict
    from training.progress import read_progress, read_status
    from training.train import main

    root, data, settings = env
    out = root / "run"
    args = TrainArgs(
        data=data,
        base="smollm2-135m",
        out=out,
        steps=8,
        rank=8,
        batch_size=2,
        lr=1e-3,
        warmup_steps=0,
        save_every=4,
        threads=1,
        lora_gguf=True,
        heldout_items=1,
    )
    res = main(args, settings)

    # trained: loss fell, LoRA B (initialised to zero) moved
    assert res["mode"].startswith("lora-") and res["steps"] == 8
    assert res["last_loss"] < res["first_loss"]
    lora = load_file(str(out / "adapter" / "adapter_model.safetensors"))
    assert max(float(t.abs().max()) for k, t in lora.items() if "lora_B" in k) > 0
    steps = [r for r in read_progress(out) if r["event"] == "step"]
    assert len(steps) == 8 and all(r["tok_per_s"] > 0 and "eta_s" in r for r in steps)
    assert read_status(out)["state"] == "completed"

    # exported + quantized; llama.cpp answers with the GGUF's own chat template
    f16, q4 = Path(res["f16"]), Path(res["gguf"])
    assert q4.name == "model-q4_k_m.gguf" and q4.stat().st_size < f16.stat().st_size
    llm = Llama(model_path=str(q4), n_ctx=1024, n_threads=1, verbose=False)
    msgs = json.loads(SAMPLE.read_text().splitlines()[0])["messages"][:4]
    reply = llm.create_chat_completion(messages=msgs, max_tokens=48, temperature=0.0)
    assert reply["choices"][0]["message"]["content"].strip()
    del llm

    # parity: merged torch model (weights rounded to F16, as stored) == F16 GGUF, greedy
    base = BaseModel("smollm2-135m", Path(res["hf_dir"]), SMOL)
    state, _ = merged_state_dict(base, out / "adapter")
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(base.hf_dir), dtype=torch.float32)
    model.load_state_dict({k: v.half().float() for k, v in state.items()}, strict=False)
    model.eval()
    vocab = Llama(model_path=str(f16), vocab_only=True, verbose=False)
    prompts = [
        vocab.tokenize(t.encode(), add_bos=False, special=True)
        for t in (
            "<|im_start|>user\nWhat is Foot Locker's IRS number?<|im_end|>\n<|im_start|>assistant\n",
            "The annual report shows that net revenue",
        )
    ]
    ref = torch_greedy(model, prompts, 12)
    assert agreement(ref, gguf_greedy(f16, prompts, 12, n_threads=1))["identical"] == 1.0
    quant = agreement(ref, gguf_greedy(q4, prompts, 12, n_threads=1))
    print("Q4_K_M vs torch greedy agreement:", quant)
    assert quant["prefix"] > 0  # close, not identical: reported

    # the llama.cpp LoRA adapter applies to the untouched base GGUF
    adapted = Llama(
        model_path=str(SMOL),
        lora_path=str(out / "lora-f32.gguf"),
        n_ctx=512,
        n_threads=1,
        verbose=False,
    )
    assert adapted.create_completion("The report", max_tokens=4, temperature=0.0)["choices"]
    del adapted

    # logits parity of the LoRA GGUF (base GGUF + lora_path) with PyTorch base + peft adapter
    from training.parity import run_parity

    parity = run_parity(settings, "smollm2-135m", out / "adapter", out / "lora-f32.gguf", data, 2)
    export = parity["export_parity (gguf+lora vs torch+adapter)"]
    assert export["prompts"] == 2 and export["cosine_mean"] > 0.99
    assert parity["adapter_effect (torch+adapter vs torch base)"]["max_abs_diff"] > 0

    # registered, with hashes, scores and data card; not active
    reg = ModelRegistry(settings.registry_dir)
    (mv,) = reg.versions()
    assert mv.version == res["version"] and mv.base == "smollm2-135m" and mv.quant == "Q4_K_M"
    assert mv.scores["heldout"]["n"] == 1 and mv.scores["train"]["steps"] == 8
    assert mv.data_card["n_train"] == 9 and "lora-f32.gguf" in mv.files
    assert reg.active() is None


def test_cancel_keeps_a_checkpoint_and_rerun_resumes(env):
    from backend.app.processes import ProcessJobs
    from training.args import TrainArgs
    from training.progress import read_progress, request_cancel, run_status
    from training.train import main

    root, data, settings = env
    out = root / "cancel"
    args = TrainArgs(
        data=data,
        base="smollm2-135m",
        out=out,
        steps=400,
        rank=4,
        batch_size=1,
        save_every=1000,
        threads=1,
        export=False,
        register=False,
    )
    procs = ProcessJobs(settings)  # the launcher the admin page uses
    cmd = [sys.executable, "-m", "training", "run", *args.to_argv()]
    job = procs.start("training", cmd, out, {})
    deadline = time.monotonic() + 300
    while not any(r["event"] == "step" for r in read_progress(out)):
        assert procs.status("training").running, (out / "log.txt").read_text()[-2000:]
        assert time.monotonic() < deadline, "no training step within 300 s"
        time.sleep(1)
    request_cancel(out)
    while procs.status("training").running:
        assert time.monotonic() < deadline + 120
        time.sleep(1)
    st = run_status(out)
    assert st["state"] == "cancelled" and procs.status("training").exit_code == 2
    assert job.run_dir == out
    stopped_at = st["last_step"]["step"]
    assert stopped_at < 400 and list((out / "checkpoints").glob("checkpoint-*"))

    # rerun with a near target: resumes from the checkpoint instead of starting over
    args.steps = stopped_at + 1
    res = main(args, settings)
    events = read_progress(out)
    assert any(r["event"] == "resume" for r in events)
    assert res["steps"] == stopped_at + 1
    new_steps = [r for r in events if r["event"] == "step" and r["step"] > stopped_at]
    assert [r["step"] for r in new_steps][-1] == stopped_at + 1


def test_a_bundle_trains_elsewhere_and_its_adapter_comes_back(env, monkeypatch):
    """The GPU-host path, run here on CPU: bundle (base GGUF in pieces) → assemble → run.sh
    (train, LoRA GGUF) → import → the chat model is the base with the adapter, named so."""
    import subprocess

    from backend.llm.clients import LLMProvider
    from training.args import TrainArgs
    from training.bundle import assemble, import_adapter, make_bundle

    root, data, settings = env
    bundle = root / "bundle"
    args = TrainArgs(data=data, base="smollm2-135m", out=bundle, steps=3, rank=4, batch_size=2,
                     lr=1e-3, warmup_steps=0, device="cpu", threads=1, heldout_items=0)  # fmt: skip
    manifest = make_bundle(args, SMOL, bundle, piece_mb=30)
    assert len(manifest["pieces"]) == 4 and (bundle / "run.sh").is_file()
    (bundle / "pieces" / "part02").write_bytes(b"damaged")
    with pytest.raises(Exception, match="damaged"):
        assemble(bundle)
    make_bundle(args, SMOL, root / "bundle2", piece_mb=30)  # a fresh copy of the pieces
    (bundle / "pieces" / "part02").write_bytes((root / "bundle2/pieces/part02").read_bytes())
    assert assemble(bundle).stat().st_size == SMOL.stat().st_size
    env_vars = {"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "HF_HUB_OFFLINE": "1",
                "PATH": "/usr/bin:/bin", "ANNALYST_DATA_DIR": str(root / "remote")}  # fmt: skip
    run_sh = (bundle / "run.sh").read_text().replace("python3 ", f"{sys.executable} ")
    (bundle / "run.sh").write_text(run_sh)
    subprocess.run(["sh", str(bundle / "run.sh")], check=True, env=env_vars, timeout=600)
    lora = bundle / "run" / "lora-f16.gguf"
    assert lora.read_bytes()[:4] == b"GGUF"

    mv = import_adapter(settings, lora, base="smollm2-135m", name="smol-tuned")
    reg = ModelRegistry(settings.registry_dir)
    reg.activate(mv.version, force=True)
    info = LLMProvider(settings).info()
    assert info.adapter.endswith("model.gguf") and not info.few_shot
    assert "LoRA on SmolLM2" in info.label() and mv.version in info.label()
    llm = LLMProvider(settings).get()
    assert "".join(llm.stream([{"role": "user", "content": "Hi"}], max_tokens=4))
