"""Base models for training: resolve, cache as a Hugging Face folder, load for LoRA or QLoRA.

A bundled preset or GGUF path is loaded once by transformers (``gguf_file=``, dequantised to fp32,
~14 s for 135M) and cached as a plain HF folder (safetensors + tokenizer) under the cache dir, keyed
by the GGUF's path, size and mtime; later runs reload it in ~2 s. bitsandbytes 4-bit cannot load a
GGUF directly, so QLoRA always goes through that folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.errors import TrainingDependencyMissing, TrainingError

log = logging.getLogger(__name__)

# Module names of the attention and MLP projections in the architectures we export (llama, qwen2).
ALL_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class BaseModel:
    spec: str  # what the user gave
    hf_dir: Path  # HF folder the weights are loaded from
    gguf: Path  # GGUF whose tokenizer, chat template and metadata the export keeps


def resolve_base(
    spec: str, models_dir: Path, cache_dir: Path, template_gguf: str = ""
) -> BaseModel:
    """Preset / GGUF path / HF folder → a cached HF folder plus the GGUF to copy metadata from."""
    from backend.llm.bundled import resolve_gguf

    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise TrainingError(
                f"--base {path} is a folder without config.json (not a Hugging Face model folder)."
            )
        if not template_gguf:
            raise TrainingError(
                f"--base {path} is a Hugging Face folder: also give --template-gguf (a GGUF of the "
                "same model, e.g. a bundled preset) for the tokenizer and chat template."
            )
        return BaseModel(spec, path, resolve_gguf(models_dir, template_gguf))
    gguf = resolve_gguf(models_dir, spec)
    template = resolve_gguf(models_dir, template_gguf) if template_gguf else gguf
    return BaseModel(spec, cache_base(gguf, cache_dir), template)


def cache_key(gguf: Path) -> str:
    st = gguf.stat()
    raw = f"{gguf.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()
    return f"{gguf.stem}-{hashlib.sha256(raw).hexdigest()[:12]}"


def cache_base(gguf: Path, cache_dir: Path) -> Path:
    """Dequantise a GGUF once into an fp32 HF folder (atomic publish); return that folder."""
    target = Path(cache_dir) / cache_key(gguf)
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("dequantising %s into %s (once)", gguf.name, target)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
        )
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        state = model.state_dict()
        if getattr(model.config, "tie_word_embeddings", False):
            state.pop("lm_head.weight", None)
        model.save_pretrained(str(tmp), state_dict=state)
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        tok.save_pretrained(str(tmp))
        (tmp / "annalyst_source.json").write_text(json.dumps({"gguf": str(gguf)}))
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / "config.json").is_file():  # another process published it first
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def load_tokenizer(base: BaseModel) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(base.hf_dir))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def target_modules(spec: str) -> list[str]:
    if spec.strip().lower() == "all":
        return list(ALL_TARGETS)
    return [s.strip() for s in spec.split(",") if s.strip()]


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def load_for_training(
    base: BaseModel,
    *,
    device: str,
    quant: str,
    precision: str,
    rank: int,
    alpha: int,
    dropout: float,
    targets: list[str],
    grad_checkpointing: bool,
    upcast_non_quantized: bool = False,
) -> Any:
    """Base model + fresh LoRA adapters, ready for the Trainer.

    ``quant == "4bit"``: NF4 base with double quantisation and bf16 compute (QLoRA). Unlike peft's
    ``prepare_model_for_kbit_training`` the non-quantised parameters (embeddings, norms, lm_head)
    stay in bf16: upcasting a 152k-token embedding and its logits to fp32 dominated QLoRA memory at
    0.5B-1.5B. ``upcast_non_quantized=True`` restores peft's behaviour (for comparison benches).
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {}
    if quant == "4bit":
        if device != "cuda":
            raise TrainingError("4-bit QLoRA needs a CUDA GPU; use --device cpu --quant none.")
        try:
            import bitsandbytes  # noqa: F401
        except ImportError as err:
            raise TrainingDependencyMissing("bitsandbytes", "4-bit QLoRA on CUDA") from err
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        kwargs["dtype"] = torch.bfloat16
        kwargs["device_map"] = {"": local_rank()}
    elif device == "cuda":
        kwargs["dtype"] = torch.bfloat16 if precision == "bf16" else torch.float32
    else:
        kwargs["dtype"] = torch.float32  # CPU: fp32 master weights, bf16 via autocast
    model = AutoModelForCausalLM.from_pretrained(str(base.hf_dir), **kwargs)
    if device == "cuda" and quant != "4bit":
        model.to(f"cuda:{local_rank()}")
    model.config.use_cache = False
    if quant == "4bit" and upcast_non_quantized:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    if grad_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [t for t in targets if t not in present]
    if missing:
        raise TrainingError(
            f"--target-modules {','.join(missing)} not found in the base model "
            f"(it has e.g. {', '.join(sorted(present & set(ALL_TARGETS)))})."
        )
    cfg = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, cfg)


def merged_state_dict(base: BaseModel, adapter_dir: Path | None) -> tuple[dict[str, Any], Any]:
    """fp32 weights of base (+ merged adapter) and the HF config, on CPU."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(base.hf_dir), dtype=torch.float32)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    return model.state_dict(), model.config
