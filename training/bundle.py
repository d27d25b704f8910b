"""Train on another machine: a bundle to carry there, and the adapter to bring back.

A GPU host often cannot reach a model hub, and some transfer paths carry only so much at a time
(the project's lent GPU: 64 MiB a call; the bundled 1.5B GGUF is 1,117 MB). So the bundle holds
the base GGUF in pieces with their checksums, next to the training data and the exact command::

    python -m training bundle --data data/fewshot --base qwen2.5-coder-1.5b --out bundle \\
        --steps 600 --rank 8 --batch-size 8           # here: data, pieces, manifest, run.sh
    # copy bundle/ to the GPU host (all at once, or piece by piece), then there:
    python -m training assemble bundle               # joins and verifies base.gguf
    sh bundle/run.sh                                 # trains, writes run/lora-f16.gguf
    # back here, with the adapter GGUF:
    python -m training import run/lora-f16.gguf --base qwen2.5-coder-1.5b --name tuned-v1

The GPU host needs torch, transformers, peft and gguf (bitsandbytes for QLoRA) and this
repository's ``training/`` and ``backend/`` packages; DEVELOPERS.md has the full procedure as run on
the project's lent H200.
"""

from __future__ import annotations

import json
import logging
import shlex
import shutil
from pathlib import Path
from typing import Any

from backend.errors import TrainingError
from backend.system import sha256_file, write_json_atomic
from training.args import TrainArgs

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
BASE_FILE = "base.gguf"


def make_bundle(
    args: TrainArgs, base_gguf: Path, out: Path, *, piece_mb: int = 60
) -> dict[str, Any]:
    """Write ``out``: ``data/`` (train/val/card), ``pieces/`` (the base GGUF cut into
    ``piece_mb`` MB pieces), ``manifest.json`` (sizes and sha256 of the pieces and the whole) and
    ``run.sh`` (the training command, LoRA GGUF export included)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise TrainingError(f"--out {out} is not empty: choose a new folder for the bundle.")
    (out / "data").mkdir(parents=True, exist_ok=True)
    data = Path(args.data)
    files = [data] if data.is_file() else sorted(data.glob("*.json*"))
    for f in files:
        shutil.copyfile(f, out / "data" / f.name)
    pieces = _cut(Path(base_gguf), out / "pieces", piece_mb * 1_000_000)
    manifest = {
        "base": args.base,
        "base_file": BASE_FILE,
        "size": Path(base_gguf).stat().st_size,
        "sha256": sha256_file(Path(base_gguf)),
        "pieces": pieces,
        "args": args.to_json(),
    }
    write_json_atomic(out / MANIFEST, manifest)
    remote = TrainArgs(
        **{
            **{k: getattr(args, k) for k in args.__dataclass_fields__},
            "data": out / "data",
            "base": BASE_FILE,
            "out": Path("run"),
            "export": False,
            "register": False,
        }
    )
    argv = remote.to_argv()
    argv[argv.index("--data") + 1] = "data"  # run.sh runs inside the bundle
    script = (
        "#!/bin/sh\n# Run inside the bundle folder on the GPU host (after `python -m training "
        'assemble .`).\nset -e\ncd "$(dirname "$0")"\n'
        f"python3 -m training run {shlex.join(argv)}\n"
        f"python3 -m training export-lora run --base-gguf {BASE_FILE} --dtype f16\n"
    )
    (out / "run.sh").write_text(script, encoding="utf-8")
    return manifest


def _cut(src: Path, folder: Path, size: int) -> list[dict[str, Any]]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    with open(src, "rb") as f:
        n = 0
        while chunk := f.read(size):
            n += 1
            piece = folder / f"part{n:02d}"
            piece.write_bytes(chunk)
            out.append({"file": piece.name, "size": len(chunk), "sha256": sha256_file(piece)})
    return out


def assemble(bundle: Path, pieces_dir: Path | None = None) -> Path:
    """Join the pieces (from ``bundle/pieces`` or ``pieces_dir``) into ``bundle/base.gguf``,
    checking each piece and the whole against the manifest."""
    bundle = Path(bundle)
    manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
    folder = Path(pieces_dir) if pieces_dir else bundle / "pieces"
    target = bundle / manifest["base_file"]
    tmp = target.with_suffix(".part")
    with open(tmp, "wb") as out:
        for p in manifest["pieces"]:
            path = folder / p["file"]
            if not path.is_file():
                raise TrainingError(f"piece {path} is missing: copy it from the bundle's pieces/.")
            if sha256_file(path) != p["sha256"]:
                raise TrainingError(f"piece {path} is damaged (checksum): copy it again.")
            with open(path, "rb") as f:
                shutil.copyfileobj(f, out)
    if sha256_file(tmp) != manifest["sha256"]:
        tmp.unlink()
        raise TrainingError(
            "the joined base GGUF does not match the manifest: copy the pieces again."
        )
    tmp.replace(target)
    return target


def export_lora(run_dir: Path, base_gguf: Path, dtype: str = "f16") -> Path:
    """The trained adapter of ``run_dir`` as a llama.cpp LoRA GGUF (``run_dir/lora-<dtype>.gguf``)."""
    from training.export import write_lora_gguf

    adapter = Path(run_dir) / "adapter"
    if not (adapter / "adapter_model.safetensors").is_file():
        raise TrainingError(
            f"{run_dir} has no trained adapter (adapter/adapter_model.safetensors)."
        )
    return write_lora_gguf(adapter, Path(base_gguf), Path(run_dir) / f"lora-{dtype}.gguf", dtype)


def import_adapter(
    settings: Any,
    lora: Path,
    *,
    base: str,
    name: str,
    few_shot: bool = False,
    card: dict[str, Any] | None = None,
) -> Any:
    """Register a LoRA GGUF trained elsewhere as a model version of ``base`` (a bundled preset or
    GGUF path); not activated — evaluate it first (``python -m training evaluate``)."""
    from backend.llm.bundled import resolve_gguf
    from backend.llm.registry import ModelRegistry

    lora = Path(lora)
    with open(lora, "rb") as f:
        if f.read(4) != b"GGUF":
            raise TrainingError(f"{lora} is not a GGUF file.")
    resolve_gguf(settings.models_dir, base)  # the base must be usable here
    return ModelRegistry(settings.registry_dir).register(
        name=name,
        base=base,
        model_file=lora,
        adapter_of=base,
        few_shot=few_shot,
        data_card=card or {},
        quant="lora",
        notes=f"imported from {lora}",
    )
