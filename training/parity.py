"""Parity of an exported LoRA GGUF with the PyTorch model it came from.

The same prompts (the chat-templated prompts of validation items) go to four models: the base
dequantised by transformers from the GGUF (``gguf_file=``) in PyTorch, the same with the peft
adapter, the base GGUF in llama.cpp, and the base GGUF with the LoRA GGUF applied by llama.cpp
(``lora_path``). The next-token logits are compared: GGUF+LoRA against PyTorch+adapter is the
export's parity; base GGUF against base PyTorch is the noise llama.cpp's quantised matmuls add
anyway; PyTorch+adapter against PyTorch base shows the adapter changes the model at all::

    python -m training parity --base qwen2.5-coder-1.5b --adapter run/adapter \\
        --lora run/lora-f16.gguf --data data/fewshot --prompts 8
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from backend.llm.bundled import resolve_gguf
from training.check import last_logits_gguf, last_logits_torch, logits_parity


def prompts_from(data: Path, tokenizer: Any, n: int) -> list[list[int]]:
    """Token ids of the first ``n`` validation prompts (everything before the last answer)."""
    path = data / "val.jsonl" if data.is_dir() else data
    out = []
    for line in path.read_text(encoding="utf-8").splitlines()[:n]:
        messages = json.loads(line)["messages"][:-1]
        enc = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=True
        )
        out.append(list(enc["input_ids"]))
    return out


def run_parity(
    settings: Any, base: str, adapter: Path, lora: Path, data: Path, n_prompts: int = 8
) -> dict[str, Any]:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.model import cache_base
    from training.train import cache_dir

    gguf = resolve_gguf(settings.models_dir, base)
    hf_dir = cache_base(gguf, cache_dir(settings))
    tok = AutoTokenizer.from_pretrained(str(hf_dir))
    prompts = prompts_from(Path(data), tok, n_prompts)
    model = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32).eval()
    torch_base = last_logits_torch(model, prompts)
    tuned = PeftModel.from_pretrained(model, str(adapter)).eval()
    torch_tuned = last_logits_torch(tuned, prompts)
    del tuned, model
    gguf_base = last_logits_gguf(gguf, prompts)
    gguf_tuned = last_logits_gguf(gguf, prompts, lora_path=str(lora))
    return {
        "prompts": len(prompts),
        "export_parity (gguf+lora vs torch+adapter)": logits_parity(gguf_tuned, torch_tuned),
        "quantised_matmul_noise (gguf vs torch, base)": logits_parity(gguf_base, torch_base),
        "adapter_effect (torch+adapter vs torch base)": logits_parity(torch_tuned, torch_base),
    }
