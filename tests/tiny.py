"""Random-initialised models with a real model's architecture and tokenizer, for tests and benches.

``make_tiny(template_gguf, out_dir)`` writes an HF folder (config, random weights, the GGUF's
tokenizer) and a matching GGUF (the template's tokenizer, chat template and metadata with the small
shapes), a few MB each, so that the whole train → export → llama.cpp path can run in seconds, or
travel to a GPU machine. ``shaped_config(name)`` gives the shapes of Qwen2.5 0.5B / 1.5B / 7B for
throughput measurements on random weights (no checkpoint needs to travel).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Qwen2.5 shapes (config.json of the public checkpoints); vocab 151936, tied embeddings up to 3B.
QWEN2_SHAPES: dict[str, dict[str, Any]] = {
    "qwen2-0.5b-shape": dict(
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        tie_word_embeddings=True,
    ),
    "qwen2-1.5b-shape": dict(
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        tie_word_embeddings=True,
    ),
    "qwen2-7b-shape": dict(
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        tie_word_embeddings=False,
    ),
}


def shaped_config(name: str) -> Any:
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=151936,
        max_position_embeddings=32768,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
        use_sliding_window=False,
        **QWEN2_SHAPES[name],
    )


def save_random(config: Any, out_dir: Path, seed: int = 0) -> Path:
    """A random-initialised model of ``config`` saved as a bf16 HF folder."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    device = (
        "cuda" if torch.cuda.is_available() else "cpu"
    )  # initialising 1.5B on CPU takes minutes
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(str(out_dir))
    del model
    return Path(out_dir)


def make_tiny(
    template_gguf: Path,
    out_dir: Path,
    *,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    ffn: int = 128,
    seed: int = 0,
) -> tuple[Path, Path]:
    """(HF folder, GGUF) of a tiny random model with ``template_gguf``'s arch and tokenizer."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from training.export import TemplateGGUF, write_gguf

    template_gguf = Path(template_gguf)
    out_dir = Path(out_dir)
    hf_dir = out_dir / "hf"
    tok = AutoTokenizer.from_pretrained(str(template_gguf.parent), gguf_file=template_gguf.name)
    cfg = AutoConfig.from_pretrained(str(template_gguf.parent), gguf_file=template_gguf.name)
    for k, v in dict(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        intermediate_size=ffn,
        head_dim=hidden // heads,
    ).items():
        setattr(cfg, k, v)
    if hasattr(cfg, "quantization_config"):
        del cfg.quantization_config
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    with torch.no_grad():  # small weights: a tiny random model then trains stably
        for p in model.parameters():
            if p.ndim > 1:
                p.normal_(0.0, 0.02)
    model.save_pretrained(str(hf_dir))
    tok.save_pretrained(str(hf_dir))
    tmpl = TemplateGGUF(template_gguf)
    a = tmpl.arch
    tmpl = TemplateGGUF(
        template_gguf,
        overrides={
            f"{a}.block_count": layers,
            f"{a}.embedding_length": hidden,
            f"{a}.feed_forward_length": ffn,
            f"{a}.attention.head_count": heads,
            f"{a}.attention.head_count_kv": kv_heads,
            f"{a}.rope.dimension_count": hidden // heads,
            "general.name": f"tiny random {a}",
        },
    )
    tmap = tmpl.name_map()
    names = []
    for hf_name in model.state_dict():
        name = tmap.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name and not (name == "output.weight" and cfg.tie_word_embeddings):
            names.append(name)
    tmpl.tensor_names = names
    gguf_path = write_gguf(model.state_dict(), tmpl, out_dir / "tiny-f16.gguf")
    return hf_dir, gguf_path
