"""Fine-tune a base model with (Q)LoRA, then export, quantize, check and register it.

``main(args)`` is the whole run; ``python -m training run`` calls it. The training loop is the
Hugging Face ``Trainer``, so the same code runs on one CPU, one GPU or several processes (data
parallel: each rank trains on its shard of the items, gradients are averaged) when started with
``python -m training run --nproc N`` (it re-launches itself under ``torch.distributed.run``),
``torchrun --nproc-per-node N -m training run ...`` or ``accelerate launch -m training run ...``.
The processes talk over NCCL on GPUs and gloo on the CPU. Only rank 0 writes progress, exports and
registers; every rank writes ``<out>/ranks/rank-N.json`` (the items it trained on, its steps).

What runs where:

* CUDA: QLoRA — NF4 4-bit base (double quantisation, bf16 compute), LoRA adapters, paged 8-bit
  AdamW, gradient checkpointing. ``--quant none`` gives plain bf16 LoRA.
* CPU: plain LoRA on fp32 weights with bf16 autocast (fp32 where the CPU lacks bf16). bitsandbytes
  4-bit is not used on CPU: it brought no speed or memory gain at 135M and its weight repacking
  after an inference forward silently corrupts gradients.

The start event of the progress log says which one ran (``mode``).
"""

from __future__ import annotations

import logging
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.errors import AnnalystError, TrainingError
from backend.settings import Settings
from backend.system import cpu_has_bf16, free_cores
from training.args import TrainArgs
from training.progress import ProgressLog, cancel_requested, request_cancel

log = logging.getLogger(__name__)


@dataclass
class Plan:
    device: str
    quant: str
    precision: str
    grad_checkpointing: bool

    @property
    def mode(self) -> str:
        if self.quant == "4bit":
            return "qlora-nf4-bf16"
        return f"lora-{self.precision}" + (
            "-autocast" if self.device == "cpu" and self.precision == "bf16" else ""
        )


def plan(args: TrainArgs) -> Plan:
    import torch

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise TrainingError(
            "--device cuda was asked for but no CUDA GPU is visible; use --device cpu."
        )
    quant = args.quant if args.quant != "auto" else ("4bit" if device == "cuda" else "none")
    if device == "cpu" and quant == "4bit":
        raise TrainingError("--quant 4bit needs --device cuda.")
    precision = args.precision
    if precision == "auto":
        precision = "bf16" if device == "cuda" or cpu_has_bf16() else "fp32"
    if quant == "4bit":
        precision = "bf16"
    ckpt = {"on": True, "off": False}.get(args.grad_checkpointing, device == "cuda")
    return Plan(device, quant, precision, ckpt)


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_distributed() -> bool:
    """Started by torchrun / accelerate (one of several ranks)?"""
    return "LOCAL_RANK" in os.environ


def distributed_argv(args: TrainArgs) -> list[str]:
    """The command that runs ``args`` in ``args.nproc`` processes on this machine. The ranks'
    own arguments leave out ``--nproc`` (torchrun's parser would take it for its
    ``--nproc-per-node``; a rank knows the world size from its environment)."""
    import dataclasses
    import sys

    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        "--nproc-per-node", str(args.nproc), "-m", "training", "run",
        *dataclasses.replace(args, nproc=1).to_argv(),
    ]  # fmt: skip


class ShardLog:
    """Wraps the collator to note which training items this rank was given (the data loader
    hands each rank its shard; items are the list's own objects, so identity finds them)."""

    def __init__(self, collate: Any, items: list[Any]) -> None:
        self._collate = collate
        self._index = {id(item): i for i, item in enumerate(items)}
        self.items: list[int] = []
        self.batches = 0

    def __call__(self, batch: list[Any]) -> Any:
        self.items += [self._index.get(id(b), -1) for b in batch]
        self.batches += 1
        return self._collate(batch)

    def write(self, out: Path, **extra: Any) -> None:
        """``<out>/ranks/rank-N.json``: this rank's items, batches and ``extra``."""
        import json

        rank = int(os.environ.get("RANK", "0"))
        folder = out / "ranks"
        folder.mkdir(parents=True, exist_ok=True)
        record = {"rank": rank, "world_size": world_size(), "pid": os.getpid(),
                  "batches": self.batches, "items": self.items, **extra}  # fmt: skip
        (folder / f"rank-{rank}.json").write_text(json.dumps(record))
        log.info("rank %d of %d trained on items %s", rank, world_size(), sorted(set(self.items)))


def cache_dir(settings: Settings) -> Path:
    return settings.data_dir / "training" / "cache"


# --- progress + cancellation ---------------------------------------------------------------------
MAX_NONFINITE_IN_A_ROW = 5


def drop_nonfinite_grads(model: Any) -> bool:
    """Clear every gradient when any is NaN/inf (the optimizer then skips the step); True if so.

    One bad batch in pure bf16 gave a finite loss but NaN gradients (H200, 1.5B, step 89); the
    clipped update then wrote NaN into every adapter weight and the rest of the run trained a dead
    model with loss 0.0. Skipping that update keeps the weights as they were.
    """
    import torch

    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        return False
    total = torch.stack([g.detach().float().sum() for g in grads]).sum()
    if bool(torch.isfinite(total)):
        return False
    for p in model.parameters():
        p.grad = None
    return True


def _make_callback(plog: ProgressLog | None, run_dir: Path) -> Any:
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        """Step/loss/tokens-per-second/ETA lines; stops (after a checkpoint) when asked to;
        skips updates with non-finite gradients and fails the run after several in a row."""

        def __init__(self) -> None:
            self.t0 = time.monotonic()
            self.step0 = 0
            self.tok0 = 0
            self.cancelled = False
            self.losses: list[float] = []
            self.skipped = 0
            self.in_a_row = 0

        def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if not drop_nonfinite_grads(kw["model"]):
                self.in_a_row = 0
                return
            self.skipped += 1
            self.in_a_row += 1
            if plog is not None:
                plog.emit("skipped_step", step=state.global_step + 1, reason="non-finite gradients")
            if self.in_a_row >= MAX_NONFINITE_IN_A_ROW:
                raise TrainingError(
                    f"Gradients were NaN/inf for {self.in_a_row} steps in a row (up to step "
                    f"{state.global_step + 1}); the weights were left as before those steps. "
                    "Lower --lr or use --precision fp32, then run again."
                )

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.t0 = time.monotonic()
            self.step0 = state.global_step
            self.tok0 = state.num_input_tokens_seen

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if plog is None or not logs or "loss" not in logs:
                return
            elapsed = time.monotonic() - self.t0
            done = max(1, state.global_step - self.step0)
            tokens = state.num_input_tokens_seen - self.tok0
            self.losses.append(float(logs["loss"]))
            plog.emit(
                "step",
                step=state.global_step,
                max_steps=state.max_steps,
                loss=round(float(logs["loss"]), 5),
                lr=logs.get("learning_rate"),
                grad_norm=logs.get("grad_norm"),
                tokens=int(state.num_input_tokens_seen),
                tok_per_s=round(tokens / elapsed, 1) if elapsed > 0 else None,
                elapsed_s=round(elapsed, 1),
                eta_s=round(elapsed / done * (state.max_steps - state.global_step), 1),
            )
            plog.status("running", step=state.global_step, max_steps=state.max_steps)

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            stop = cancel_requested(run_dir)
            if world_size() > 1:  # every rank must stop at the same step
                import torch
                import torch.distributed as dist

                if dist.is_available() and dist.is_initialized():
                    dev = "cuda" if dist.get_backend() == "nccl" else "cpu"
                    flag = torch.tensor([1 if stop else 0], device=dev)
                    dist.all_reduce(flag)
                    stop = bool(flag.item())
            if stop and not self.cancelled:
                self.cancelled = True
                control.should_save = True
                control.should_training_stop = True

        def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if plog is not None:
                plog.emit("checkpoint", step=state.global_step)

    return ProgressCallback()


# --- the run ---------------------------------------------------------------------------------------
def build_dataset(args: TrainArgs, base: Any) -> tuple[Any, Any, list[Any], int]:
    """Tokenizer, the data set (train/val), the encoded training items and how many were too long."""
    from training.data import ChatFormat, encode_dataset, load_dataset
    from training.model import load_tokenizer

    tok = load_tokenizer(base)
    chat = ChatFormat.from_gguf(base.gguf)
    ds = load_dataset(args.data, args.max_items)
    train_set, too_long = encode_dataset(ds.train, chat, tok, args.max_len)
    if not train_set:
        raise TrainingError(
            f"Every training item is longer than --max-len {args.max_len} tokens; raise --max-len."
        )
    return tok, ds, train_set, too_long


def build_model(args: TrainArgs, p: Plan, base: Any) -> Any:
    """The base model with LoRA adapters (4-bit base for QLoRA), ready for the trainer."""
    from training.model import load_for_training, target_modules

    return load_for_training(
        base,
        device=p.device,
        quant=p.quant,
        precision=p.precision,
        rank=args.rank,
        alpha=args.alpha,
        dropout=args.dropout,
        targets=target_modules(args.target_modules),
        grad_checkpointing=p.grad_checkpointing,
    )


def build_trainer(
    args: TrainArgs, p: Plan, model: Any, train_set: list[Any], collate: Any, callback: Any
) -> Any:
    """A Hugging Face ``Trainer`` for the run (checkpoints under ``<out>/checkpoints``)."""
    from transformers import Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    optim = "adamw_torch"
    if p.quant == "4bit":
        optim = "paged_adamw_8bit"
    elif p.device == "cuda":
        optim = "adamw_torch_fused"
    targs = TrainingArguments(
        output_dir=str(args.out / "checkpoints"),
        max_steps=args.steps,
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=args.grad_accum,
        learning_rate=args.lr,
        lr_scheduler_type="cosine",
        warmup_steps=args.warmup_steps,
        weight_decay=0.0,
        logging_steps=1,
        save_strategy="steps",
        save_steps=args.save_every,
        save_total_limit=2,
        bf16=p.precision == "bf16",
        use_cpu=p.device == "cpu",
        optim=optim,
        seed=args.seed,
        report_to="none",
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
        include_num_input_tokens_seen="non_padding",
        ddp_find_unused_parameters=False if world_size() > 1 else None,
        ddp_backend=("nccl" if p.device == "cuda" else "gloo") if world_size() > 1 else None,
    )
    trainer = Trainer(
        model=model,
        args=targs,
        train_dataset=train_set,
        data_collator=collate,
        callbacks=[callback],
    )
    trainer.remove_callback(PrinterCallback)  # our JSON lines are the stdout protocol
    return trainer


def train(args: TrainArgs, settings: Settings, plog: ProgressLog | None) -> dict[str, Any]:
    """Train the adapter into ``<out>/adapter``; returns a summary (``cancelled`` when stopped)."""
    import torch
    from transformers.trainer_utils import get_last_checkpoint

    from training.data import Collator
    from training.model import resolve_base

    p = plan(args)
    if args.threads or p.device == "cpu":
        # On a busy CPU a thread sharing a core with other work stalls every step (2 threads on
        # 2 busy cores measured 11 tok/s against 136 with 1 thread): use the free cores only,
        # shared among the processes of a distributed run.
        torch.set_num_threads(args.threads or max(1, free_cores() // world_size()))
    base = resolve_base(args.base, settings.models_dir, cache_dir(settings), args.template_gguf)
    tok, ds, train_set, too_long = build_dataset(args, base)
    model = build_model(args, p, base)
    if plog is not None:
        plog.emit(
            "start",
            mode=p.mode,
            device=p.device,
            quant=p.quant,
            precision=p.precision,
            grad_checkpointing=p.grad_checkpointing,
            world_size=world_size(),
            base=args.base,
            base_gguf=str(base.gguf),
            n_train=len(train_set),
            n_val=len(ds.val),
            skipped_too_long=too_long,
            trainable_params=sum(t.numel() for t in model.parameters() if t.requires_grad),
            total_params=sum(t.numel() for t in model.parameters()),
            max_steps=args.steps,
        )
    callback = _make_callback(plog, args.out)
    shard = ShardLog(Collator(tok.pad_token_id), train_set)
    trainer = build_trainer(args, p, model, train_set, shard, callback)
    ckpt_dir = args.out / "checkpoints"
    resume = get_last_checkpoint(str(ckpt_dir)) if args.resume and ckpt_dir.is_dir() else None
    if resume and plog is not None:
        plog.emit("resume", checkpoint=resume)
    t0 = time.monotonic()
    result = trainer.train(resume_from_checkpoint=resume)
    summary = {
        "mode": p.mode,
        "steps": trainer.state.global_step,
        "train_loss": result.training_loss,
        "first_loss": callback.losses[0] if callback.losses else None,
        "last_loss": callback.losses[-1] if callback.losses else None,
        "tokens": int(trainer.state.num_input_tokens_seen),
        "seconds": round(time.monotonic() - t0, 1),
        "cancelled": callback.cancelled,
        "skipped_steps": callback.skipped,
        "base_gguf": str(base.gguf),
        "hf_dir": str(base.hf_dir),
        "n_train": len(train_set),
    }
    if torch.cuda.is_available() and p.device == "cuda":
        summary["peak_gpu_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    if not callback.cancelled:
        trainer.save_model(str(args.out / "adapter"))  # rank 0 writes
    shard.write(args.out, steps=trainer.state.global_step, device=p.device,
                backend=_backend_name(), n_train=len(train_set))  # fmt: skip
    trainer.accelerator.wait_for_everyone()
    summary["dataset"] = ds
    summary["base"] = base
    return summary


def _backend_name() -> str:
    """The process group's backend ('gloo', 'nccl'), or '' for a single process."""
    import torch.distributed as dist

    return str(dist.get_backend()) if dist.is_available() and dist.is_initialized() else ""


def export_run(
    args: TrainArgs, settings: Settings, plog: ProgressLog, summary: dict[str, Any]
) -> dict[str, Any]:
    """Merge → F16 GGUF → quantize (→ LoRA GGUF) → held-out check → register (not activated)."""
    from backend.llm.registry import ModelRegistry
    from training.check import heldout_scores
    from training.export import quantize, write_gguf, write_lora_gguf
    from training.model import merged_state_dict

    base, ds = summary["base"], summary["dataset"]
    out = args.out
    plog.status("exporting")
    t = time.monotonic()
    state, _ = merged_state_dict(base, out / "adapter")
    f16 = write_gguf(state, base.gguf, out / "model-f16.gguf")
    del state
    plog.emit("export", path=str(f16), seconds=round(time.monotonic() - t, 1))
    _stop_if_cancelled(out)
    t = time.monotonic()
    qpath = quantize(f16, out / f"model-{args.quant_type.lower()}.gguf", args.quant_type)
    plog.emit(
        "quantize",
        path=str(qpath),
        quant=args.quant_type,
        mb=round(qpath.stat().st_size / 1e6, 1),
        seconds=round(time.monotonic() - t, 1),
    )
    extra = {}
    if args.lora_gguf:
        lora = write_lora_gguf(out / "adapter", base.gguf, out / "lora-f32.gguf")
        extra["lora-f32.gguf"] = lora
        plog.emit("lora_gguf", path=str(lora), base_gguf=str(base.gguf))
    _stop_if_cancelled(out)
    scores: dict[str, Any] = {
        "train": {
            k: summary[k]
            for k in ("mode", "steps", "train_loss", "first_loss", "last_loss", "tokens", "seconds")
        }
    }
    if args.heldout_items and ds.val:
        t = time.monotonic()
        held = heldout_scores(qpath, ds.val[: args.heldout_items], n_threads=args.threads)
        scores["heldout"] = held
        plog.emit(
            "heldout",
            model=str(qpath),
            n=held["n"],
            exact=held["exact"],
            facts=held["facts"],
            seconds=round(time.monotonic() - t, 1),
        )
    result: dict[str, Any] = {"gguf": str(qpath), "f16": str(f16), "scores": scores}
    if args.register:
        _stop_if_cancelled(out)
        reg = ModelRegistry(settings.registry_dir)
        mv = reg.register(
            name=args.name or f"{Path(str(args.base)).stem}-ft",
            base=str(args.base),
            model_file=qpath,
            extra_files=extra,
            args={**args.to_json(), "mode": summary["mode"], "base_gguf": str(base.gguf)},
            data_card=ds.card,
            scores=scores,
            quant=args.quant_type,
            notes=f"run {out}",
        )
        result["version"] = mv.version
        plog.emit("registered", version=mv.version, gguf=str(mv.gguf_path), sha256=mv.sha256)
    return result


class Cancelled(Exception):
    pass


def _stop_if_cancelled(out: Path) -> None:
    if cancel_requested(out):
        raise Cancelled


def _make_out_dir(out: Path) -> None:
    """Create ``--out``; a path through an existing file is a one-line error."""
    blocker = next((p for p in [out, *out.parents] if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise TrainingError(
            f"--out {out}: {blocker} is a file, not a folder. Choose another --out (a new or "
            "existing folder)."
        )
    out.mkdir(parents=True, exist_ok=True)


def main(args: TrainArgs, settings: Settings | None = None) -> dict[str, Any]:
    """Run one training job end to end; returns its summary (also in ``<out>/status.json``)."""
    settings = settings or Settings()
    main_proc = is_main_process()
    _make_out_dir(args.out)
    plog = ProgressLog(args.out) if main_proc else None
    if main_proc:
        (args.out / "CANCEL").unlink(missing_ok=True)
        plog.status(
            "running",
            pid=os.getpid(),
            args=args.to_json(),
            step=0,
            max_steps=args.steps,
            error=None,
        )
    prev = None
    try:
        prev = signal.signal(signal.SIGTERM, lambda *_: request_cancel(args.out))
    except ValueError:  # not the main thread (e.g. called from a test thread)
        pass
    try:
        summary = train(args, settings, plog)
        if not main_proc:
            return {"rank": int(os.environ.get("RANK", "0")), **_public(summary)}
        if summary["cancelled"]:
            raise Cancelled
        plog.emit("trained", **_public(summary))
        result = {**_public(summary)}
        if args.export:
            result.update(export_run(args, settings, plog, summary))
        plog.emit("done", **{k: v for k, v in result.items() if k != "scores"})
        plog.status("completed", result=result)
        return result
    except Cancelled:
        if plog is not None:
            plog.emit("cancelled")
            plog.status("cancelled")
        return {"cancelled": True}
    except AnnalystError as err:
        if plog is not None:
            plog.emit("error", error=str(err))
            plog.status("failed", error=str(err))
        raise
    except BaseException as err:
        if plog is not None:
            msg = f"{type(err).__name__}: {err}"
            plog.emit("error", error=msg)
            plog.status("failed", error=msg)
        raise
    finally:
        if prev is not None:
            signal.signal(signal.SIGTERM, prev)


def _public(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in summary.items()
        if k not in ("dataset", "base") and not (isinstance(v, float) and math.isnan(v))
    }
