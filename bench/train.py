"""Training throughput: tokens/s and peak memory of the (Q)LoRA training step, per model and mode.

CPU (default): the bundled smollm2-135m and qwen2.5-0.5b (dequantised from their GGUFs), LoRA r=16
on every attention/MLP projection, batches of the real sample items
(tests/data/training_sample.jsonl rendered with the GGUF's chat template). Modes: ``lora-fp32``
(the obvious baseline) and ``lora-bf16`` (fp32 weights, bf16 autocast: what ``training run`` uses
on CPUs with native bf16).

GPU: ``--device cuda`` with random-initialised Qwen2.5-shaped models (``qwen2-0.5b-shape``,
``qwen2-1.5b-shape``, ``qwen2-7b-shape``; no checkpoint has to travel) on random tokens. Modes:
``qlora`` (NF4 base, bf16 non-quantised parts, paged 8-bit AdamW: the training path), ``qlora-upcast``
(peft's prepare_model_for_kbit_training, which upcasts embeddings/norms/lm_head to fp32: the
common recipe) and ``lora-bf16`` (bf16 base, no quantisation).

Every (model, mode) runs in its own process so peak RSS / GPU memory are its own. Prints one JSON
line, then a table.

    nice -n 10 python bench/train.py                               # CPU, 1 thread
    python bench/train.py --device cuda --models qwen2-0.5b-shape,qwen2-1.5b-shape \\
        --modes qlora,qlora-upcast,lora-bf16 --batch-size 8 --seq-len 512 --steps 20
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _base(model: str, shapes_dir: Path):
    from backend.settings import Settings
    from tests.tiny import QWEN2_SHAPES, save_random, shaped_config
    from training.model import BaseModel, resolve_base
    from training.train import cache_dir

    if model in QWEN2_SHAPES:
        folder = shapes_dir / model
        if not (folder / "config.json").is_file():
            save_random(shaped_config(model), folder)
        return BaseModel(model, folder, Path()), None
    settings = Settings()
    base = resolve_base(model, settings.models_dir, cache_dir(settings))
    return base, base


def _batches(real_base, args, vocab: int):
    import torch

    if real_base is None:  # random tokens of the requested shape
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(0, vocab, (args.batch_size, args.seq_len), generator=g)
        batch = {"input_ids": ids, "labels": ids.clone(), "attention_mask": torch.ones_like(ids)}
        while True:
            yield batch
    from training.data import ChatFormat, Collator, encode_dataset, load_dataset
    from training.model import load_tokenizer

    tok = load_tokenizer(real_base)
    chat = ChatFormat.from_gguf(real_base.gguf)
    items = load_dataset(ROOT / "tests/data/training_sample.jsonl").train
    enc, _ = encode_dataset(items, chat, tok, 2048)
    coll = Collator(tok.pad_token_id)
    i = 0
    while True:
        chunk = [enc[(i + k) % len(enc)] for k in range(args.batch_size)]
        i += args.batch_size
        yield coll(chunk)


def measure_one(spec: dict, args) -> dict:
    import torch

    from training.model import load_for_training

    model_name, mode, device = spec["model"], spec["mode"], args.device
    if args.threads:
        torch.set_num_threads(args.threads)
    base, real = _base(model_name, Path(args.shapes_dir))
    quant = "4bit" if mode.startswith("qlora") else "none"
    precision = "fp32" if mode == "lora-fp32" else "bf16"
    t0 = time.monotonic()
    model = load_for_training(
        base,
        device=device,
        quant=quant,
        precision=precision,
        rank=args.rank,
        alpha=2 * args.rank,
        dropout=0.0,
        targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        grad_checkpointing=device == "cuda",
        upcast_non_quantized=mode == "qlora-upcast",
    )
    load_s = time.monotonic() - t0
    params = [p for p in model.parameters() if p.requires_grad]
    if quant == "4bit":
        import bitsandbytes as bnb

        opt = bnb.optim.PagedAdamW8bit(params, lr=1e-4)
    else:
        opt = torch.optim.AdamW(params, lr=1e-4, fused=device == "cuda")
    dev = torch.device("cuda" if device == "cuda" else "cpu")
    batches = _batches(real, args, model.config.vocab_size)
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == "bf16")

    def step():
        b = {k: v.to(dev) for k, v in next(batches).items()}
        with autocast:
            loss = model(**b).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return int(b["attention_mask"].sum()), float(loss)

    model.train()
    for _ in range(args.warmup):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    tokens, t0 = 0, time.monotonic()
    for _ in range(args.steps):
        n, loss = step()
        tokens += n
    if device == "cuda":
        torch.cuda.synchronize()
    secs = time.monotonic() - t0
    out = {
        "model": model_name,
        "mode": mode,
        "device": device,
        "tok_per_s": round(tokens / secs, 1),
        "step_s": round(secs / args.steps, 3),
        "tokens": tokens,
        "load_s": round(load_s, 1),
        "loss": round(loss, 4),
        "threads": torch.get_num_threads(),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "trainable": sum(p.numel() for p in params),
    }
    if device == "cuda":
        out["peak_gpu_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        out["gpu"] = torch.cuda.get_device_name()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument(
        "--models",
        default=None,
        help="comma list (cpu default: smollm2-135m,qwen2.5-0.5b; cuda default: "
        "qwen2-0.5b-shape,qwen2-1.5b-shape)",
    )
    ap.add_argument(
        "--modes",
        default=None,
        help="comma list of lora-fp32, lora-bf16, qlora, qlora-upcast (cpu default: "
        "lora-fp32,lora-bf16; cuda default: qlora,qlora-upcast,lora-bf16)",
    )
    ap.add_argument("--steps", type=int, default=None, help="timed steps (cpu 3, cuda 20)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps (cpu 1, cuda 5)")
    ap.add_argument("--batch-size", type=int, default=None, help="cpu 2, cuda 8")
    ap.add_argument("--seq-len", type=int, default=512, help="random-token length (shapes only)")
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: default)")
    ap.add_argument("--shapes-dir", default="/tmp/annalyst-bench-shapes")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    cuda = args.device == "cuda"
    args.steps = args.steps or (20 if cuda else 3)
    args.warmup = args.warmup if args.warmup is not None else (5 if cuda else 1)
    args.batch_size = args.batch_size or (8 if cuda else 2)
    if args.one:
        print("RESULT " + json.dumps(measure_one(json.loads(args.one), args)), flush=True)
        return 0
    models = (
        args.models
        or ("qwen2-0.5b-shape,qwen2-1.5b-shape" if cuda else "smollm2-135m,qwen2.5-0.5b")
    ).split(",")
    modes = (
        args.modes or ("qlora,qlora-upcast,lora-bf16" if cuda else "lora-fp32,lora-bf16")
    ).split(",")
    results = []
    passthrough, skip = [], False
    for a in sys.argv[1:]:
        if skip or a.startswith("--json"):
            skip = a == "--json" and not skip
            continue
        passthrough.append(a)
    for model in models:
        for mode in modes:
            spec = json.dumps({"model": model, "mode": mode})
            proc = subprocess.run(
                [sys.executable, __file__, *passthrough, "--one", spec],
                capture_output=True,
                text=True,
                env=os.environ.copy(),
            )
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
            if line is None:
                err = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
                results.append({"model": model, "mode": mode, "error": " | ".join(err)})
            else:
                results.append(json.loads(line[7:]))
            print("# " + json.dumps(results[-1]), file=sys.stderr, flush=True)
    summary = {
        "bench": "train",
        "device": args.device,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "rank": args.rank,
        "results": results,
    }
    print(json.dumps(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))
    mem = "peak_gpu_gib" if cuda else "peak_rss_gib"
    print(f"\n{'model':20s} {'mode':13s} {'tok/s':>9s} {'s/step':>8s} {mem:>13s}")
    for r in results:
        if "error" in r:
            print(f"{r['model']:20s} {r['mode']:13s} error: {r['error'][:80]}")
        else:
            print(
                f"{r['model']:20s} {r['mode']:13s} {r['tok_per_s']:9.1f} {r['step_s']:8.3f} "
                f"{r[mem]:13.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
