"""Write trained weights as GGUF files llama.cpp runs, keeping the base GGUF's tokenizer and template.

Two outputs:

* :func:`write_gguf` — a full model (the merged LoRA) in F16 (1-D tensors F32). Every metadata key
  of the base GGUF is copied except the ``GGUF.*`` header fields, the architecture (the writer sets
  it) and the file type; tensor names come from gguf-py's name map; the tensor set and order are the
  base GGUF's own. llama-architecture GGUFs store q/k projection rows permuted (llama.cpp's rotary
  layout) and transformers' GGUF loader un-permutes them, so the permutation is re-applied here.
  Exporting the untouched base this way reproduces its dequantised weights bit for bit in F16.
* :func:`write_lora_gguf` — the adapter alone in llama.cpp's LoRA adapter format (``general.type =
  adapter``), to apply on the untouched base GGUF (``Llama(lora_path=...)``). ``lora_b`` rows of q/k
  get the same permutation (the base rows are permuted, so must the delta's be).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from backend.errors import ModelExportError

log = logging.getLogger(__name__)

PERMUTED_ARCHS = {"llama"}  # archs whose q/k rows transformers un-permutes on load
SUPPORTED_ARCHS = {"llama", "qwen2", "qwen3"}
SKIP_KEYS = ("GGUF.", "general.architecture", "general.file_type", "general.quantization_version")
FILE_TYPE_F16 = 1


def llama_permute(w: np.ndarray, n_head: int, n_head_kv: int | None = None) -> np.ndarray:
    """llama.cpp's q/k row permutation (convert_hf_to_gguf.py ``LlamaModel.permute``)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (
        w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


class TemplateGGUF:
    """The base GGUF read once: architecture, head counts, metadata fields, tensor names."""

    def __init__(self, path: Path, overrides: dict[str, Any] | None = None) -> None:
        from gguf import GGUFReader

        self.path = Path(path)
        self.reader = GGUFReader(str(path))
        self.overrides = dict(overrides or {})  # metadata key -> value (same type as the base's)
        f = self.reader.fields
        self.arch = f["general.architecture"].contents()
        if self.arch not in SUPPORTED_ARCHS:
            raise ModelExportError(
                f"{path.name}: architecture '{self.arch}' is not supported by the exporter "
                f"(supported: {', '.join(sorted(SUPPORTED_ARCHS))})."
            )
        self.n_layers = int(self.get(f"{self.arch}.block_count"))
        self.n_head = int(self.get(f"{self.arch}.attention.head_count"))
        self.n_head_kv = int(self.get(f"{self.arch}.attention.head_count_kv", self.n_head))
        self.tensor_names = [t.name for t in self.reader.tensors]

    def get(self, key: str, default: Any = None) -> Any:
        if key in self.overrides:
            return self.overrides[key]
        field = self.reader.fields.get(key)
        return field.contents() if field is not None else default

    def copy_metadata(self, writer: Any) -> None:
        from gguf import GGUFValueType

        for key, field in self.reader.fields.items():
            if key.startswith(SKIP_KEYS):
                continue
            vtype = field.types[0]
            sub = field.types[-1] if vtype == GGUFValueType.ARRAY else None
            writer.add_key_value(key, self.get(key), vtype, sub_type=sub)

    def name_map(self) -> Any:
        import gguf

        arch_enum = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == self.arch)
        return gguf.get_tensor_name_map(arch_enum, self.n_layers)

    def gguf_name(self, hf_name: str) -> str | None:
        return self.name_map().get_name(hf_name, try_suffixes=(".weight", ".bias"))

    def permute_if_needed(self, gguf_name: str, w: np.ndarray) -> np.ndarray:
        if self.arch not in PERMUTED_ARCHS:
            return w
        if ".attn_q." in gguf_name:
            return llama_permute(w, self.n_head, self.n_head)
        if ".attn_k." in gguf_name:
            return llama_permute(w, self.n_head, self.n_head_kv)
        return w


def _to_numpy(t: Any) -> np.ndarray:
    import torch

    if isinstance(t, torch.Tensor):
        return t.detach().to(torch.float32).cpu().numpy()
    return np.asarray(t, dtype=np.float32)


def gguf_tensors(state: dict[str, Any], tmpl: TemplateGGUF) -> dict[str, np.ndarray]:
    """HF state dict → {gguf tensor name: array in GGUF layout (permuted, F16/F32)}."""
    tmap = tmpl.name_map()
    mapped: dict[str, np.ndarray] = {}
    unmapped = []
    for hf_name, tensor in state.items():
        if hf_name.endswith("rotary_emb.inv_freq"):
            continue
        name = tmap.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            unmapped.append(hf_name)
            continue
        mapped[name] = _to_numpy(tensor)
    wanted = set(tmpl.tensor_names)
    missing = [n for n in tmpl.tensor_names if n not in mapped]
    unmapped += [n for n in mapped if n not in wanted and n != "output.weight"]
    if missing or unmapped:
        raise ModelExportError(
            f"The trained weights do not match {tmpl.path.name}: missing {missing[:5]}, "
            f"unexpected {unmapped[:5]}. Train on the same base model the GGUF holds."
        )
    out = {}
    for name in tmpl.tensor_names:  # the base GGUF's own set and order
        w = tmpl.permute_if_needed(name, mapped[name])
        out[name] = w.astype(np.float32 if w.ndim == 1 else np.float16)
    return out


def write_gguf(state: dict[str, Any], template: Path | TemplateGGUF, out: Path) -> Path:
    """Write a full-precision (F16) GGUF of ``state`` with ``template``'s metadata; atomic."""
    from gguf import GGUFWriter

    tmpl = template if isinstance(template, TemplateGGUF) else TemplateGGUF(template)
    tensors = gguf_tensors(state, tmpl)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    try:
        writer = GGUFWriter(str(tmp), tmpl.arch)
        tmpl.copy_metadata(writer)
        writer.add_file_type(FILE_TYPE_F16)
        for name, arr in tensors.items():
            writer.add_tensor_info(name, arr.shape, arr.dtype, arr.nbytes)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for arr in tensors.values():
            writer.write_tensor_data(arr)
        writer.close()
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info("wrote %s (%d tensors, %.0f MB)", out, len(tensors), out.stat().st_size / 1e6)
    return out


def write_lora_gguf(adapter_dir: Path, template: Path, out: Path, dtype: str = "f32") -> Path:
    """Write a peft LoRA adapter as a llama.cpp adapter GGUF for the base ``template``, its
    tensors in ``dtype`` ('f32', or 'f16': half the size — a rank-8 adapter of the 1.5B on every
    projection is 18 MB — at no measurable cost: the parity check compares both)."""
    from gguf import GGUFValueType, GGUFWriter
    from safetensors.numpy import load_file

    adapter_dir = Path(adapter_dir)
    cfg = json.loads((adapter_dir / "adapter_config.json").read_text())
    weights = load_file(str(adapter_dir / "adapter_model.safetensors"))
    if cfg.get("use_rslora") or cfg.get("use_dora"):
        raise ModelExportError("rsLoRA/DoRA adapters cannot be written as llama.cpp adapters.")
    tmpl = TemplateGGUF(template)
    tmap = tmpl.name_map()
    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, w in weights.items():
        # base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight
        module, _, kind = key.removeprefix("base_model.model.").rpartition(".lora_")
        gname = tmap.get_name(module, try_suffixes=())
        if gname is None or gname + ".weight" not in tmpl.tensor_names:
            raise ModelExportError(f"LoRA tensor {key} has no counterpart in {template.name}.")
        part = "a" if kind.startswith("A") else "b"
        w = w.astype(np.float32)
        if part == "b":
            w = tmpl.permute_if_needed(gname + ".weight", w)
        pairs.setdefault(gname + ".weight", {})[part] = w
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    try:
        writer = GGUFWriter(str(tmp), tmpl.arch)
        writer.add_string("general.type", "adapter")
        writer.add_string("adapter.type", "lora")
        writer.add_key_value("adapter.lora.alpha", float(cfg["lora_alpha"]), GGUFValueType.FLOAT32)
        for name, name_field in (("general.name", "general.name"),):
            if name_field in tmpl.reader.fields:
                writer.add_string(name, tmpl.reader.fields[name_field].contents() + " LoRA")
        for base_name in sorted(pairs):
            ab = pairs[base_name]
            as_type = np.float16 if dtype == "f16" else np.float32
            writer.add_tensor(base_name + ".lora_a", ab["a"].astype(as_type))
            writer.add_tensor(base_name + ".lora_b", ab["b"].astype(as_type))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


# --- quantization ----------------------------------------------------------------------------------
FTYPES = {"Q4_K_M": 15, "Q5_K_M": 17, "Q6_K": 18, "Q8_0": 7}


def quantize(src: Path, dst: Path, qtype: str = "Q4_K_M", threads: int = 0) -> Path:
    """Quantize a F16 GGUF with llama.cpp (``llama_model_quantize``); atomic; F16 copies."""
    import ctypes
    import shutil

    qtype = qtype.upper()
    dst = Path(dst)
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
    if qtype == "F16":
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
        return dst
    if qtype not in FTYPES:
        raise ModelExportError(f"Unknown quantization {qtype}; use one of {', '.join(FTYPES)}.")
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[qtype]
    params.nthread = threads
    from llama_cpp._utils import suppress_stdout_stderr

    try:
        with suppress_stdout_stderr(disable=log.isEnabledFor(logging.DEBUG)):
            rc = llama_cpp.llama_model_quantize(
                str(src).encode(), str(tmp).encode(), ctypes.byref(params)
            )
        if rc != 0 or not tmp.is_file():
            raise ModelExportError(f"llama.cpp could not quantize {src} to {qtype} (code {rc}).")
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    log.info(
        "quantized %s -> %s (%s, %.0f MB)", src.name, dst.name, qtype, dst.stat().st_size / 1e6
    )
    return dst
