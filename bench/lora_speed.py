"""What a LoRA adapter applied at load time costs llama.cpp on this CPU, one run.

    python bench/lora_speed.py --lora run/lora-f16.gguf --data data/fewshot
    python bench/lora_speed.py --lora a-f16.gguf --lora a-f32.gguf --data DIR --n 6 --threads 2

The same prompts — the product's own, taken from the training data's ``val.jsonl`` (system rules,
sources, question; the answer left out) — go to the bundled base alone and to the base with each
adapter (llama-cpp-python's ``lora_path``, as the app loads a tuned version). Each prompt is
evaluated from an empty KV cache, the models alternate, and the first token ends the timing, so
the difference is the adapter's cost per prompt token. Prints a table and one JSON line; the ratio
to the base is the result — absolute times depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from backend.llm.bundled import require
from backend.settings import Settings


def prompts(data: Path, n: int) -> list[list[dict[str, str]]]:
    """``n`` answer prompts of the validation split (everything before the last assistant turn),
    the longest first so that the prompt cost dominates."""
    rows = [json.loads(line) for line in (data / "val.jsonl").read_text("utf-8").splitlines()]
    msgs = [r["messages"][:-1] for r in rows if r["messages"][-1]["role"] == "assistant"]
    msgs.sort(key=lambda m: -sum(len(x["content"]) for x in m))
    return msgs[:n]


def first_token_s(llm, messages: list[dict[str, str]]) -> tuple[int, float]:
    llm.reset()
    t0 = time.perf_counter()
    out = llm.create_chat_completion(messages=messages, max_tokens=1, temperature=0)
    return out["usage"]["prompt_tokens"], time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", default="qwen2.5-coder-1.5b", help="bundled preset the adapter tunes")
    ap.add_argument("--lora", action="append", required=True, help="LoRA GGUF (repeatable)")
    ap.add_argument("--data", type=Path, required=True, help="folder with the few-shot val.jsonl")
    ap.add_argument("--n", type=int, default=4, help="prompts")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    from llama_cpp import Llama

    base = require(Settings().models_dir, args.base)
    variants = {"base": None, **{Path(p).name: p for p in args.lora}}
    models = {
        name: Llama(
            model_path=str(base), n_ctx=4096, n_threads=args.threads,
            n_threads_batch=args.threads, n_batch=512, lora_path=lora, verbose=False,
        )
        for name, lora in variants.items()
    }  # fmt: skip
    times: dict[str, list[float]] = {name: [] for name in models}
    tokens: list[int] = []
    names = list(models)
    for i, msgs in enumerate(prompts(args.data, args.n)):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            n_tokens, seconds = first_token_s(models[name], msgs)
            times[name].append(seconds)
        tokens.append(n_tokens)
    base_s = statistics.median(times["base"])
    result = {
        "bench": "lora_speed",
        "base": args.base,
        "threads": args.threads,
        "prompts": len(tokens),
        "prompt_tokens_median": statistics.median(tokens),
        "first_token_s_median": {k: round(statistics.median(v), 2) for k, v in times.items()},
        "ratio_to_base": {k: round(statistics.median(v) / base_s, 3) for k, v in times.items()},
    }
    print(f"{'model':<28}{'first token (median)':>22}{'ms / prompt token':>20}{'× base':>9}")
    for name, values in times.items():
        med = statistics.median(values)
        per_token = 1000 * med / statistics.median(tokens)
        print(f"{name:<28}{med:>20.2f} s{per_token:>20.1f}{med / base_s:>9.2f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
