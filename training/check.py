"""Checks that run on the exported GGUFs with llama.cpp.

* :func:`heldout_scores` — answer held-out items' final turn (teacher-forced history, greedy, the
  GGUF's own chat template, as served) and score exact match and "facts" (every number and
  citation of the gold answer appears in the prediction; refusals must refuse). Quantization can
  erase a fine-tune, so this always runs on the quantized file.
* :func:`greedy_parity` — greedy continuations of fixed prompts from the merged torch model and from
  GGUFs, and how far they agree (the F16 export must match torch; a quantized file stays close).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from training.data import prompt_and_answer

log = logging.getLogger(__name__)

REFUSALS = ("Not found in the indexed reports.", "在已索引的报告中未找到相关信息。")
_NUM = re.compile(r"\d[\d,]*(?:\.\d+)?%?")
_CITE = re.compile(r"\[[^\[\]]+? p\.\s?\d+\]")


def _norm(s: str) -> str:
    return " ".join(s.split()).strip().lower()


def facts_match(pred: str, gold: str) -> bool:
    """All numbers and citations of ``gold`` appear in ``pred``; a refusal must be refused."""
    if any(r in gold for r in REFUSALS):
        return any(r in pred for r in REFUSALS)
    need = set(_NUM.findall(gold)) | set(_CITE.findall(gold))
    return (bool(need) and all(x in pred for x in need)) or _norm(pred) == _norm(gold)


def open_llama(
    gguf: Path,
    *,
    n_ctx: int = 4096,
    n_threads: int = 0,
    lora_path: str | None = None,
    logits_all: bool = False,
) -> Any:
    from llama_cpp import Llama

    from backend.settings import free_cores

    return Llama(
        model_path=str(gguf),
        n_ctx=n_ctx,
        n_threads=n_threads or free_cores(),
        lora_path=lora_path,
        verbose=False,
        seed=0,
        logits_all=logits_all,
    )


def heldout_scores(
    gguf: Path,
    items: list[dict[str, Any]],
    *,
    max_tokens: int = 160,
    n_threads: int = 0,
    lora_path: str | None = None,
    llm: Any = None,
) -> dict[str, Any]:
    """Greedy answers of the last assistant turn of each item, scored; a few examples kept."""
    llm = llm or open_llama(gguf, n_ctx=8192, n_threads=n_threads, lora_path=lora_path)
    exact = facts = 0
    examples = []
    skipped = 0
    scored = []
    for item in items:
        prompt, gold = prompt_and_answer(item)
        try:
            out = llm.create_chat_completion(
                messages=prompt, temperature=0.0, top_k=1, max_tokens=max_tokens, seed=0
            )
        except ValueError as err:  # prompt longer than the context window
            log.warning("held-out item %s skipped: %s", item.get("id"), err)
            skipped += 1
            continue
        scored.append(item)
        pred = (out["choices"][0]["message"]["content"] or "").strip()
        ok_exact = _norm(pred) == _norm(gold)
        ok_facts = facts_match(pred, gold)
        exact += ok_exact
        facts += ok_facts
        if len(examples) < 5:
            examples.append({"id": item.get("id"), "gold": gold, "pred": pred, "facts": ok_facts})
    n = len(scored)
    return {
        "n": n,
        "skipped_too_long": skipped,
        "exact": round(exact / n, 4) if n else 0.0,
        "facts": round(facts / n, 4) if n else 0.0,
        "examples": examples,
        "model": str(gguf),
    }


# --- parity ------------------------------------------------------------------------------------
def torch_greedy(model: Any, prompts: list[list[int]], n_tokens: int) -> list[list[int]]:
    """Greedy continuations from a transformers model (no sampling, no cache tricks)."""
    import torch

    outs = []
    with torch.no_grad():
        for ids in prompts:
            x = torch.tensor([ids])
            gen = model.generate(
                x,
                max_new_tokens=n_tokens,
                do_sample=False,
                num_beams=1,
                attention_mask=torch.ones_like(x),
                pad_token_id=0,
                eos_token_id=None,
            )
            outs.append(gen[0, len(ids) :].tolist())
    return outs


def gguf_greedy(
    gguf: Path,
    prompts: list[list[int]],
    n_tokens: int,
    n_threads: int = 0,
    lora_path: str | None = None,
) -> list[list[int]]:
    """Greedy continuations from llama.cpp (argmax of logits, EOS not special-cased)."""
    import numpy as np

    width = max(len(p) for p in prompts) + n_tokens + 8
    llm = open_llama(
        gguf, n_ctx=max(64, width), n_threads=n_threads, lora_path=lora_path, logits_all=True
    )
    outs = []
    for ids in prompts:
        llm.reset()
        llm.eval(ids)
        toks = []
        for _ in range(n_tokens):
            nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            toks.append(nxt)
            llm.eval([nxt])
        outs.append(toks)
    return outs


def agreement(a: list[list[int]], b: list[list[int]]) -> dict[str, float]:
    """Share of sequences identical, and mean share of tokens before the first divergence."""
    same = sum(x == y for x, y in zip(a, b, strict=True))
    prefix = []
    for x, y in zip(a, b, strict=True):
        k = 0
        while k < min(len(x), len(y)) and x[k] == y[k]:
            k += 1
        prefix.append(k / max(1, len(x)))
    return {"identical": round(same / len(a), 4), "prefix": round(sum(prefix) / len(a), 4)}


def last_logits_torch(model: Any, prompts: list[list[int]]) -> list[Any]:
    """The next-token logits after each prompt from a transformers model (fp32, CPU)."""
    import torch

    out = []
    with torch.no_grad():
        for ids in prompts:
            out.append(model(torch.tensor([ids])).logits[0, -1].float().numpy())
    return out


def last_logits_gguf(
    gguf: Path, prompts: list[list[int]], lora_path: str | None = None, n_threads: int = 0
) -> list[Any]:
    """The next-token logits after each prompt from llama.cpp (with ``lora_path`` applied)."""
    import numpy as np

    llm = open_llama(
        gguf,
        n_ctx=max(64, max(len(p) for p in prompts) + 8),
        n_threads=n_threads,
        lora_path=lora_path,
        logits_all=True,
    )
    out = []
    for ids in prompts:
        llm.reset()
        llm.eval(ids)
        out.append(np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32))
    return out


def logits_parity(a: list[Any], b: list[Any]) -> dict[str, float]:
    """How close two models' next-token logits are on the same prompts: top-1 agreement, mean
    overlap of the top 5, mean cosine similarity, and the largest absolute difference."""
    import numpy as np

    top1, top5, cos, diff = [], [], [], []
    for x, y in zip(a, b, strict=True):
        top1.append(int(np.argmax(x)) == int(np.argmax(y)))
        top5.append(len(set(np.argsort(x)[-5:]) & set(np.argsort(y)[-5:])) / 5)
        cos.append(float(np.dot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y))))
        diff.append(float(np.max(np.abs(x - y))))
    n = len(top1)
    return {
        "prompts": n,
        "top1_agree": round(sum(top1) / n, 4),
        "top5_overlap": round(sum(top5) / n, 4),
        "cosine_mean": round(sum(cos) / n, 5),
        "max_abs_diff": round(max(diff), 4),
    }
