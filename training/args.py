"""Arguments of a training run: one dataclass, every field with help, checked in ``__post_init__``.

The command line is generated from the dataclass (``add_dataclass_arguments``), so the CLI, the
admin page (which builds ``TrainArgs`` directly) and tests share one definition.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from backend.errors import TrainingError

QUANT_TYPES = ("Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "F16")


def _help(text: str, **kw: Any) -> Any:
    return field(metadata={"help": text}, **kw)


@dataclass
class TrainArgs:
    """One fine-tuning run: data, base model, LoRA shape, schedule, export."""

    data: Path = _help(
        "Folder with train.jsonl, val.jsonl and card.json (written by `python -m ingestion "
        "fewshot`), or one .jsonl file (then 1 item in 8 is held out for validation)."
    )
    base: str = _help(
        "Base model: a bundled preset (smollm2-135m, qwen2.5-0.5b, qwen2.5-coder-1.5b), a GGUF "
        "path, or a Hugging Face model folder (then --template-gguf supplies the GGUF metadata)."
    )
    out: Path = _help(
        "Run folder: progress.jsonl, status.json, checkpoints/, adapter/, the exported GGUFs."
    )
    steps: int = _help("Optimizer steps.", default=300)
    rank: int = _help("LoRA rank r.", default=16)
    alpha: int = _help("LoRA alpha (0: twice the rank).", default=0)
    dropout: float = _help("LoRA dropout.", default=0.05)
    target_modules: str = _help(
        "Comma-separated module names that get adapters, or 'all' (every attention and MLP "
        "projection).",
        default="all",
    )
    lr: float = _help("Peak learning rate (cosine decay after warm-up).", default=2e-4)
    warmup_steps: int = _help("Linear warm-up steps.", default=10)
    batch_size: int = _help("Sequences per device per micro-batch.", default=4)
    grad_accum: int = _help("Micro-batches per optimizer step.", default=1)
    max_len: int = _help(
        "Longest sequence in tokens; longer items are skipped (counted in the log). Generated "
        "answer items carry up to 7 passages (3-4k tokens).",
        default=4096,
    )
    device: Literal["auto", "cpu", "cuda"] = _help(
        "'cuda' runs QLoRA (4-bit NF4 base, bitsandbytes); 'cpu' runs plain LoRA; 'auto' picks "
        "cuda when a GPU is visible.",
        default="auto",
    )
    quant: Literal["auto", "4bit", "none"] = _help(
        "Base weights during training: '4bit' (QLoRA, CUDA only), 'none' (plain LoRA), 'auto' "
        "(4bit on cuda, none on cpu).",
        default="auto",
    )
    precision: Literal["auto", "fp32", "bf16"] = _help(
        "Compute precision: 'bf16' (autocast) or 'fp32'; 'auto' is bf16 on cuda and on CPUs with "
        "native bf16, else fp32.",
        default="auto",
    )
    grad_checkpointing: Literal["auto", "on", "off"] = _help(
        "Recompute activations in the backward pass (less memory, ~25%% slower); auto: on for "
        "cuda.",
        default="auto",
    )
    seed: int = _help("Random seed (data order, LoRA init).", default=0)
    save_every: int = _help("Checkpoint every N steps (resume point).", default=50)
    resume: bool = _help(
        "Continue from the last checkpoint in --out if there is one.", default=True
    )
    max_items: int = _help("Use at most N training items (0: all).", default=0)
    threads: int = _help(
        "CPU threads for torch per process (0: the free cores, shared among --nproc processes).",
        default=0,
    )
    nproc: int = _help(
        "Training processes, data parallel (each trains on its shard of the items; rank 0 "
        "exports and registers): re-launches itself under torch.distributed.run. On CPU they "
        "talk over gloo; with --device cuda use one per GPU (NCCL).",
        default=1,
    )
    export: bool = _help("After training: merge, write GGUF, quantize, check.", default=True)
    quant_type: str = _help(
        f"GGUF quantization, one of {', '.join(QUANT_TYPES)}.", default="Q4_K_M"
    )
    lora_gguf: bool = _help(
        "Also write the LoRA as a llama.cpp adapter GGUF (applies to the untouched base GGUF).",
        default=False,
    )
    register: bool = _help(
        "Register the exported model in the registry (not activated).", default=True
    )
    name: str = _help("Name of the registered version (default: '<base>-ft').", default="")
    template_gguf: str = _help(
        "GGUF whose tokenizer, chat template and metadata the export reuses when --base is a "
        "Hugging Face folder (preset name or path).",
        default="",
    )
    heldout_items: int = _help(
        "Validation items answered by the exported GGUF (0: skip).", default=8
    )

    def __post_init__(self) -> None:
        self.data = Path(self.data).expanduser()
        self.out = Path(self.out).expanduser()
        problems = []
        if not self.data.exists():
            problems.append(f"--data {self.data} does not exist")
        elif self.data.is_dir() and not (self.data / "train.jsonl").is_file():
            problems.append(
                f"--data {self.data} has no train.jsonl (run `python -m ingestion fewshot` first)"
            )
        blocker = next((p for p in [self.out, *self.out.parents] if p.is_file()), None)
        if blocker is not None:
            problems.append(f"--out {self.out}: {blocker} is a file, not a folder")
        if not str(self.base).strip():
            problems.append("--base is empty")
        for name, low in (
            ("steps", 1),
            ("rank", 1),
            ("batch_size", 1),
            ("grad_accum", 1),
            ("save_every", 1),
            ("max_len", 32),
            ("nproc", 1),
        ):
            if getattr(self, name) < low:
                problems.append(f"--{name.replace('_', '-')} must be at least {low}")
        for name in ("alpha", "warmup_steps", "max_items", "threads", "heldout_items"):
            if getattr(self, name) < 0:
                problems.append(f"--{name.replace('_', '-')} must not be negative")
        if not 0 <= self.dropout < 1:
            problems.append("--dropout must be in [0, 1)")
        if not 0 < self.lr < 1:
            problems.append("--lr must be in (0, 1)")
        if self.quant_type.upper() not in QUANT_TYPES:
            problems.append(f"--quant-type must be one of {', '.join(QUANT_TYPES)}")
        self.quant_type = self.quant_type.upper()
        for name, allowed in (
            ("device", ("auto", "cpu", "cuda")),
            ("quant", ("auto", "4bit", "none")),
            ("precision", ("auto", "fp32", "bf16")),
            ("grad_checkpointing", ("auto", "on", "off")),
        ):
            if getattr(self, name) not in allowed:
                problems.append(f"--{name.replace('_', '-')} must be one of {', '.join(allowed)}")
        if self.device == "cpu" and self.quant == "4bit":
            problems.append(
                "--quant 4bit needs --device cuda (bitsandbytes 4-bit does not train "
                "correctly on CPU); use --quant none"
            )
        if problems:
            raise TrainingError("Training arguments: " + "; ".join(problems) + ".")
        if not self.alpha:
            self.alpha = 2 * self.rank

    def to_json(self) -> dict[str, Any]:
        return {
            k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()
        }

    def to_argv(self) -> list[str]:
        """The command-line flags that rebuild these arguments (``python -m training run
        ARGV``): the required fields, and every other field that differs from its default."""
        argv: list[str] = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            flag = "--" + f.name.replace("_", "-")
            if f.default is not dataclasses.MISSING and value == f.default:
                continue
            if isinstance(value, bool):
                argv.append(flag if value else "--no-" + flag[2:])
            else:
                argv += [flag, str(value)]
        return argv


# --- dataclass -> argparse -----------------------------------------------------------------------
def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """One ``--flag`` per dataclass field (required when the field has no default)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        tp = hints[f.name]
        kw: dict[str, Any] = {"help": f.metadata.get("help", ""), "dest": f.name}
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if not required:
            kw["default"] = f.default
            kw["help"] += f" (default: {f.default})"
        else:
            kw["required"] = True
        origin = typing.get_origin(tp)
        if tp is bool:
            kw["action"] = argparse.BooleanOptionalAction
        elif origin is Literal:
            kw["choices"] = list(typing.get_args(tp))
        elif origin in (typing.Union, types.UnionType):
            kw["type"] = next(a for a in typing.get_args(tp) if a is not type(None))
        else:
            kw["type"] = tp
        parser.add_argument(flag, **kw)


def args_from_namespace(cls: type, ns: argparse.Namespace) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in vars(ns).items() if k in names})
