"""Fine-tune the chat model on generated data, export a quantized GGUF, evaluate, activate.

Usage (data from ``python -m ingestion fewshot``; runs and versions live under the data dir)::

    # CPU: plain LoRA on the smallest bundled model, a quick run
    python -m training run --data data/fewshot --base smollm2-135m --out data/training/runs/r1 \\
        --steps 300 --rank 16 --device cpu

    # one GPU: QLoRA (4-bit NF4 base; needs bitsandbytes), Q4_K_M export, also a LoRA GGUF
    python -m training run --data data/fewshot --base qwen2.5-coder-1.5b --out runs/r2 \\
        --device cuda --steps 1000 --batch-size 8 --lora-gguf

    # several processes, data parallel, same code: 4 GPUs (NCCL), or 2 CPU processes (gloo)
    python -m training run --nproc 4 --data data/fewshot --base qwen2.5-0.5b --out runs/r3 \\
        --device cuda
    torchrun --nproc-per-node 2 -m training run --data data/fewshot --base smollm2-135m \\
        --out runs/r3 --device cpu
    accelerate launch -m training run --data data/fewshot --base qwen2.5-0.5b --out runs/r3

    # a Hugging Face folder as base (the GGUF supplies tokenizer, chat template and metadata)
    python -m training run --data data/fewshot --base ~/hf/Qwen2.5-0.5B-Instruct \\
        --template-gguf qwen2.5-0.5b --out runs/r4

    python -m training status runs/r1        # state + last progress line
    python -m training cancel runs/r1        # stops at the next step (checkpoint kept; rerun resumes)
    python -m training evaluate VERSION      # new vs active model on val + dev.jsonl; stores scores
    python -m training list                  # versions, scores, which is active
    python -m training activate VERSION      # refused unless it scored better (--force overrides)
    python -m training rollback              # back to the previously active model

    # on a GPU machine elsewhere (training/bundle.py, DEVELOPERS.md)
    python -m training bundle --data data/fewshot --base qwen2.5-coder-1.5b --out bundle ...
    python -m training assemble bundle && sh bundle/run.sh            # there
    python -m training import bundle/run/lora-f16.gguf --base qwen2.5-coder-1.5b   # here
"""

from __future__ import annotations

from backend.errors import command_parser, exit_quietly_on_interrupt

if __name__ == "__main__":  # run as a program, not imported: before the slower imports
    exit_quietly_on_interrupt()

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from training.args import TrainArgs, add_dataclass_arguments, args_from_namespace


def build_parser() -> argparse.ArgumentParser:
    parser, sub = command_parser("python -m training", __doc__)
    run = sub.add_parser("run", help="train, export, quantize, check and register a model")
    add_dataclass_arguments(run, TrainArgs)
    st = sub.add_parser("status", help="state and last progress of a run folder")
    st.add_argument("run_dir", type=Path)
    ca = sub.add_parser("cancel", help="ask a running training to stop (keeps a checkpoint)")
    ca.add_argument("run_dir", type=Path)
    _add_evaluate_parser(sub)
    sub.add_parser("list", help="registered versions with scores")
    ac = sub.add_parser("activate", help="make a version the chat model")
    ac.add_argument("version")
    ac.add_argument(
        "--force", action="store_true", help="activate even without a passed evaluation"
    )
    sub.add_parser("rollback", help="re-activate the previously active model")
    # training on another (GPU) machine: training/bundle.py
    _add_bundle_parsers(sub)
    _add_import_parser(sub)
    _add_parity_parser(sub)
    return parser


def _add_evaluate_parser(sub: Any) -> None:
    """The ``evaluate`` subcommand and its options."""
    ev = sub.add_parser(
        "evaluate", help="evaluate a version against the active model and store the scores"
    )
    ev.add_argument("version")
    ev.add_argument(
        "--qa",
        type=Path,
        action="append",
        default=None,
        help="QA file(s) for `python -m backend.evaluate` (default: the run's "
        "validation data and <corpus>/dev.jsonl)",
    )
    ev.add_argument("--limit", type=int, default=None, help="evaluate the first N items of each")
    ev.add_argument(
        "--sample",
        type=int,
        default=None,
        help="evaluate a seeded sample of N items of each, spread over question types",
    )
    ev.add_argument("--mode", default="agent", choices=["agent", "rag", "retrieval"])
    ev.add_argument(
        "--reports",
        default="",
        help="only questions on these reports ('heldout': the 12 kept out of training data)",
    )
    ev.add_argument("--with-na", action="store_true", help="with --reports: also N/A questions")
    ev.add_argument(
        "--heldout-items",
        type=int,
        default=32,
        help="validation items answered directly by each GGUF (0: skip)",
    )
    ev.add_argument(
        "--ingest",
        action="store_true",
        help="let the evaluation index the reports the questions need first",
    )
    ev.add_argument(
        "--no-agent",
        action="store_true",
        help="only the held-out check (skip `python -m backend.evaluate`)",
    )


def _add_bundle_parsers(sub: Any) -> None:
    """The ``bundle``, ``assemble`` and ``export-lora`` subcommands (training elsewhere)."""
    bu = sub.add_parser(
        "bundle", help="a folder to train elsewhere: data, base GGUF in pieces, run.sh"
    )
    add_dataclass_arguments(bu, TrainArgs)
    bu.add_argument("--piece-mb", type=int, default=60, help="size of the base GGUF's pieces")
    asm = sub.add_parser("assemble", help="join and verify a bundle's base GGUF (GPU host)")
    asm.add_argument("bundle", type=Path)
    asm.add_argument("--pieces", type=Path, default=None, help="folder holding the pieces")
    ex = sub.add_parser("export-lora", help="a run's adapter as a llama.cpp LoRA GGUF")
    ex.add_argument("run_dir", type=Path)
    ex.add_argument("--base-gguf", type=Path, required=True, help="the GGUF the run trained on")
    ex.add_argument("--dtype", choices=["f16", "f32"], default="f16")


def _add_import_parser(sub: Any) -> None:
    """The ``import`` subcommand: register a LoRA GGUF trained elsewhere."""
    im = sub.add_parser("import", help="register a LoRA GGUF trained elsewhere (not activated)")
    im.add_argument("lora", type=Path)
    im.add_argument("--base", required=True, help="bundled preset or GGUF the adapter tunes")
    im.add_argument("--name", default="", help="version name (default: <base>-lora)")
    im.add_argument(
        "--few-shot",
        action="store_true",
        help="prompt it with the few-shot examples (off: tuned on the product's prompts)",
    )


def _add_parity_parser(sub: Any) -> None:
    """The ``parity`` subcommand: a LoRA GGUF's logits against its PyTorch model."""
    pa = sub.add_parser("parity", help="logits of a LoRA GGUF vs its PyTorch model")
    pa.add_argument("--base", required=True, help="bundled preset or GGUF the adapter tunes")
    pa.add_argument("--adapter", type=Path, required=True, help="the run's adapter/ folder")
    pa.add_argument("--lora", type=Path, required=True, help="the LoRA GGUF")
    pa.add_argument("--data", type=Path, required=True, help="folder with val.jsonl")
    pa.add_argument("--prompts", type=int, default=8)


def _verdict(gate: dict[str, Any] | None) -> str:
    """'better 0.41 vs 0.35', 'not better 0.3 vs 0.35', 'no score (...)', 'not evaluated'."""
    if not gate:
        return "not evaluated"
    cand, base = gate.get("candidate"), gate.get("baseline")
    if cand is None or base is None:
        missing = "candidate" if cand is None else "baseline"
        return f"no {missing} score: evaluate again"
    return f"{'better' if gate.get('better') else 'not better'} {cand} vs {base}"


def format_versions(reg: Any) -> str:
    """The `list` table: versions with held-out score and gate verdict; which is active."""
    from backend.errors import RegistryDamaged

    try:
        active, problem = reg.active(), ""
    except RegistryDamaged as err:
        active, problem = None, str(err)
    rows = [f"{'':2s}{'version':44s} {'base':22s} {'quant':7s} {'held-out':>9s} {'gate':28s}"]
    for mv in reg.versions():
        mark = "* " if active and active.version == mv.version else "  "
        held = mv.scores.get("heldout", {}).get("facts")
        verdict = _verdict(mv.scores.get("gate"))
        rows.append(
            f"{mark}{mv.version:44s} {mv.base[:22]:22s} {mv.quant:7s} "
            f"{'-' if held is None else held:>9} {verdict[:28]:28s}"
        )
    if len(rows) == 1:
        rows.append("  (no versions yet: `python -m training run ...`)")
    if problem:
        rows.append(f"active: DAMAGED — {problem}")
    else:
        rows.append("active: " + (active.version if active else "none (configured chat model)"))
    return "\n".join(rows)


def cmd_run(ns: argparse.Namespace, settings: Any) -> int:
    from training.train import distributed_argv, is_distributed
    from training.train import main as train_main

    args = args_from_namespace(TrainArgs, ns)
    if args.nproc > 1 and not is_distributed():
        argv = distributed_argv(args)
        print("launching: " + " ".join(argv[1:]), file=sys.stderr, flush=True)
        os.execv(argv[0], argv)  # torchrun becomes this process: a cancel (SIGTERM) reaches it
    result = train_main(args, settings)
    return 2 if result.get("cancelled") else 0


def cmd_status(ns: argparse.Namespace, settings: Any) -> int:
    from training.progress import run_status

    print(json.dumps(run_status(ns.run_dir), indent=1, default=str))
    return 0


def cmd_cancel(ns: argparse.Namespace, settings: Any) -> int:
    from training.progress import request_cancel

    request_cancel(ns.run_dir)
    print(f"cancel requested for {ns.run_dir}")
    return 0


def cmd_evaluate(ns: argparse.Namespace, settings: Any) -> int:
    from training.gate import evaluate_version

    res = evaluate_version(
        settings,
        ns.version,
        qa_files=ns.qa,
        run_agent_eval=not ns.no_agent,
        extra=(["--reports", ns.reports] if ns.reports else [])
        + (["--with-na"] if ns.with_na else []),
        **{
            name: getattr(ns, name)
            for name in ("limit", "sample", "mode", "heldout_items", "ingest")
        },
    )
    print(json.dumps(res["gate"], indent=1, default=str))
    return 0


def cmd_registry(ns: argparse.Namespace, settings: Any) -> int:
    from backend.llm.registry import ModelRegistry

    reg = ModelRegistry(settings.registry_dir)
    if ns.cmd == "list":
        print(format_versions(reg))
    elif ns.cmd == "activate":
        mv = reg.activate(ns.version, force=ns.force)
        print(f"active: {mv.version} ({mv.gguf_path})")
    else:
        mv = reg.rollback()
        print(f"active: {mv.version if mv else 'configured chat model ' + settings.chat_model}")
    return 0


def cmd_bundle(ns: argparse.Namespace, settings: Any) -> int:
    from backend.llm.bundled import resolve_gguf
    from training import bundle

    if ns.cmd == "bundle":
        args = args_from_namespace(TrainArgs, ns)
        gguf = resolve_gguf(settings.models_dir, args.base)
        m = bundle.make_bundle(args, gguf, args.out, piece_mb=ns.piece_mb)
        print(f"bundle {args.out}: {len(m['pieces'])} pieces of {gguf.name}; run.sh")
    elif ns.cmd == "assemble":
        print(f"assembled {bundle.assemble(ns.bundle, ns.pieces)}")
    elif ns.cmd == "export-lora":
        path = bundle.export_lora(ns.run_dir, ns.base_gguf, ns.dtype)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    else:
        mv = bundle.import_adapter(
            settings, ns.lora, base=ns.base, name=ns.name or f"{ns.base}-lora",
            few_shot=ns.few_shot,
        )  # fmt: skip
        print(f"registered {mv.version} (LoRA on {ns.base}); evaluate it, then activate")
    return 0


def cmd_parity(ns: argparse.Namespace, settings: Any) -> int:
    from training.parity import run_parity

    res = run_parity(settings, ns.base, ns.adapter, ns.lora, ns.data, ns.prompts)
    print(json.dumps(res, indent=1))
    return 0


COMMANDS = {
    "run": cmd_run,
    "status": cmd_status,
    "cancel": cmd_cancel,
    "evaluate": cmd_evaluate,
    "list": cmd_registry,
    "activate": cmd_registry,
    "rollback": cmd_registry,
    "bundle": cmd_bundle,
    "assemble": cmd_bundle,
    "export-lora": cmd_bundle,
    "import": cmd_bundle,
    "parity": cmd_parity,
}


def main(argv: list[str] | None = None) -> int:
    from backend.errors import run_cli
    from backend.settings import Settings

    ns = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    return run_cli(lambda: COMMANDS[ns.cmd](ns, Settings()), error_code=1)


if __name__ == "__main__":
    sys.exit(main())
