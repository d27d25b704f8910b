"""Embedding backends for the bundled all-MiniLM-L6-v2, on real chunks of the index, in one run.

    python bench/embed_backends.py                       # 256 chunks, one thread
    python bench/embed_backends.py --chunks 512 --threads 2

Times each backend on the same chunk texts (sorted by length, batches of 32, as ingestion does)
and reports chunks per CPU-second, the speed-up over torch fp32 and the cosine of its vectors to
torch fp32's (the index's). Every model file is exported here, from the bundled model, into a
temporary folder: nothing is downloaded.

* torch fp32 / bf16 / int8 (dynamic, per-channel): what ``embed_precision`` offers;
* ONNX Runtime: the model exported with ``torch.onnx.export``, fp32, then int8 weights
  (``onnxruntime.quantization.quantize_dynamic``, per-channel and per-tensor);
* OpenVINO: the same ONNX files, fp32 and bf16 inference.

ONNX Runtime comes with chromadb; ``onnx`` (to quantize) and ``openvino`` are not dependencies of
Annalyst (neither backend won, see bench/RESULTS.md): ``pip install onnx==1.23.2
openvino==2026.4.1`` to run their rows, which are skipped otherwise. Prints a table and one JSON
line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np


class OnnxEmbedder:
    """Mean pooling over an exported MiniLM (its pooling config: mean of token vectors)."""

    def __init__(self, path: Path, tokenizer, threads: int, openvino: str = "") -> None:
        self.tokenizer = tokenizer
        if openvino:
            import openvino as ov

            core = ov.Core()
            compiled = core.compile_model(
                core.read_model(str(path)),
                "CPU",
                {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": openvino},
            )
            self.run = lambda feeds: compiled(feeds)[0]
        else:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            self.run = lambda feeds: session.run(None, feeds)[0]

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        out = []
        for i in range(0, len(texts), 32):
            batch = self.tokenizer(
                texts[i : i + 32],
                padding=True,
                truncation=True,
                max_length=256,
                return_tensors="np",
            )
            hidden = self.run(
                {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
            )
            mask = batch["attention_mask"][..., None].astype(np.float32)
            vecs = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
            out.append(vecs / np.linalg.norm(vecs, axis=1, keepdims=True))
        return np.concatenate(out)


def export_onnx(folder: Path) -> dict[str, Path]:
    """fp32 ONNX of the bundled model, plus int8-weight versions when ``onnx`` is installed."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from backend.store.embeddings import minilm_dir

    model = AutoModel.from_pretrained(str(minilm_dir())).eval()

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = AutoTokenizer.from_pretrained(str(minilm_dir()))(
        ["a b", "c"], padding=True, return_tensors="pt"
    )
    files = {"fp32": folder / "model.onnx"}
    torch.onnx.export(
        Hidden(), tuple(sample[n] for n in names), str(files["fp32"]), input_names=names,
        output_names=["hidden"], opset_version=17, dynamo=False,
        dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*names, "hidden"]},
    )  # fmt: skip
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        return files
    for label, per_channel in (("int8", True), ("int8-per-tensor", False)):
        files[label] = folder / f"model-{label}.onnx"
        quantize_dynamic(
            str(files["fp32"]),
            str(files[label]),
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
        )
    return files


def backends(folder: Path, threads: int) -> dict:
    """label → a function that builds the embedder (the ones whose packages are installed)."""
    import importlib.util

    from transformers import AutoTokenizer

    from backend.store.embeddings import make_embedder, minilm_dir

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_dir()))
    out = {
        f"torch-{p}": (lambda p=p: make_embedder("minilm", precision=p, threads=threads))
        for p in ("fp32", "bf16", "int8")
    }
    files = export_onnx(folder)
    for label, path in files.items():
        out[f"onnxruntime-{label}"] = lambda path=path: OnnxEmbedder(path, tokenizer, threads)
    if importlib.util.find_spec("openvino") is not None:
        for hint in ("f32", "bf16"):
            out[f"openvino-{hint}"] = lambda hint=hint: OnnxEmbedder(
                files["fp32"], tokenizer, threads, openvino=hint
            )
    return out


def main() -> int:
    from backend.settings import Settings
    from backend.store.catalog import Catalog

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chunks", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    catalog = Catalog(Settings().catalog_path)
    with catalog.connect() as conn:
        rows = conn.execute("SELECT text FROM chunks ORDER BY chunk_id LIMIT ?", (args.chunks * 7,))
        texts = sorted([r[0] for r in rows][::7], key=len)
    if not texts:
        raise SystemExit(
            "no chunks in the index: index some reports first (python -m ingestion add)"
        )
    result: dict = {"bench": "embed_backends", "chunks": len(texts), "threads": args.threads,
                    "load_avg": round(os.getloadavg()[0], 1), "runs": {}}  # fmt: skip
    reference = None
    with tempfile.TemporaryDirectory(prefix="bench-embed-") as tmp:
        for label, build in backends(Path(tmp), args.threads).items():
            embedder = build()
            embedder.embed_documents(texts[:8])  # warm-up
            cpu0, t0 = time.process_time(), time.perf_counter()
            vecs = embedder.embed_documents(texts)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
            reference = vecs if reference is None else reference
            cos = (vecs * reference).sum(axis=1)
            result["runs"][label] = {
                "chunks_per_cpu_s": round(len(texts) / cpu, 1),
                "chunks_per_s": round(len(texts) / wall, 1),
                "cosine_to_fp32": {"mean": round(float(cos.mean()), 4), "min": round(float(cos.min()), 4)},
            }  # fmt: skip
    base = result["runs"]["torch-fp32"]["chunks_per_cpu_s"]
    print(f"{'backend':26s} {'chunks/CPU-s':>12s} {'vs fp32':>8s} {'chunks/s':>9s} {'cosine':>14s}")
    for label, r in result["runs"].items():
        r["vs_fp32"] = round(r["chunks_per_cpu_s"] / base, 2)
        cos = r["cosine_to_fp32"]
        print(f"{label:26s} {r['chunks_per_cpu_s']:12.1f} {r['vs_fp32']:7.2f}x "
              f"{r['chunks_per_s']:9.1f} {cos['mean']:.4f} (min {cos['min']:.3f})")  # fmt: skip
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
