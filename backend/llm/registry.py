"""Registry of fine-tuned model versions: which GGUFs exist, how they scored, which one is active.

Layout under ``<data_dir>/registry`` (``Settings.registry_dir``)::

    versions/<version>/version.json   metadata: base, args, data card, scores, file hashes
    versions/<version>/model.gguf     the quantized GGUF the chat loads (+ optional other files)
    active.json                       {"version": str | null, "stack": [...], "history": [...]}

A version directory is assembled under a temporary name and renamed into place, so a failed or
killed training run never leaves a half-registered version, and it never touches ``active.json``.
Activation and rollback rewrite ``active.json`` with an atomic ``os.replace`` under a file lock;
the serving side calls :meth:`ModelRegistry.active` before each answer (two small JSON reads).

A version becomes active only through :meth:`ModelRegistry.activate`, and only when its evaluation
says it beat the model that was active when it was evaluated (``scores["gate"]["better"]``), unless
the caller forces it.

The files are validated when read, each failure with its own remedy (:class:`RegistryDamaged`):
a damaged ``active.json`` is never read as "nothing active" — that would silently serve the base
model and let the next rollback overwrite the history — its previous content is kept in
``active.json.bak``; a damaged ``version.json`` or a missing or non-GGUF model file of the active
version says to roll back (``python -m training rollback``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backend.errors import ActivationRefused, RegistryDamaged, UnknownModelVersion
from backend.system import sha256_file, write_json_atomic

log = logging.getLogger(__name__)

MODEL_FILE = "model.gguf"
META_FILE = "version.json"
ACTIVE_FILE = "active.json"


@dataclass(frozen=True)
class ModelVersion:
    """One registered model version (read from ``version.json``)."""

    version: str
    name: str
    gguf_path: Path
    base: str
    created_at: str
    sha256: str
    scores: dict[str, Any] = field(default_factory=dict)
    args: dict[str, Any] = field(default_factory=dict)
    data_card: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    quant: str = ""
    notes: str = ""
    #: set when model.gguf is a LoRA adapter: the base it applies to (bundled preset or GGUF path)
    adapter_of: str = ""
    #: the answer prompt carries few-shot examples (False for a model tuned on the product's
    #: prompts, which were generated without them)
    few_shot: bool = True

    @property
    def dir(self) -> Path:
        return self.gguf_path.parent

    @property
    def gate_passed(self) -> bool:
        return bool(self.scores.get("gate", {}).get("better"))

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["gguf_path"] = self.gguf_path.name  # stored relative: the registry folder can move
        return d

    @classmethod
    def from_json(cls, folder: Path, d: dict[str, Any]) -> ModelVersion:
        known = {f for f in cls.__dataclass_fields__}
        d = {k: v for k, v in d.items() if k in known}
        d["gguf_path"] = folder / d.get("gguf_path", MODEL_FILE)
        return cls(**d)


class ModelRegistry:
    """Model versions under one folder (``Settings.registry_dir``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.versions_dir = self.root / "versions"

    # --- reading ---------------------------------------------------------------------------------
    def versions(self) -> list[ModelVersion]:
        """Every complete version, oldest first."""
        out = []
        if self.versions_dir.is_dir():
            for meta in self.versions_dir.glob(f"*/{META_FILE}"):
                try:
                    out.append(self._load(meta.parent))
                except (OSError, RegistryDamaged) as err:
                    log.warning("skipping unreadable model version %s: %s", meta.parent, err)
        return sorted(out, key=lambda v: (v.created_at, v.version))

    def get(self, version: str) -> ModelVersion:
        folder = self.versions_dir / version
        if not re.fullmatch(r"[A-Za-z0-9._-]+", version) or not (folder / META_FILE).is_file():
            raise UnknownModelVersion(version, [v.version for v in self.versions()])
        return self._load(folder)

    def active(self) -> ModelVersion | None:
        """The active version, or None (the chat then uses ``settings.chat_model``).

        Raises :class:`RegistryDamaged` (remedy: roll back) when the active version's files are
        gone or damaged, instead of quietly answering with another model."""
        name = self._state().get("version")
        if not name:
            return None
        rollback = "Run `python -m training rollback` to go back to the previous model."
        try:
            mv = self.get(name)
        except UnknownModelVersion:
            raise RegistryDamaged(
                f"The active model version {name} is gone from {self.versions_dir}. {rollback}"
            ) from None
        except RegistryDamaged as err:
            raise RegistryDamaged(f"{err} {rollback}") from err
        try:
            with open(mv.gguf_path, "rb") as f:
                magic = f.read(4)
        except OSError as err:
            raise RegistryDamaged(
                f"The model file of the active version {name} cannot be read ({err.strerror}: "
                f"{mv.gguf_path}). {rollback}"
            ) from err
        if magic != b"GGUF":
            raise RegistryDamaged(
                f"The model file of the active version {name} is damaged ({mv.gguf_path} is not "
                f"a GGUF file). {rollback}"
            )
        return mv

    def history(self) -> list[dict[str, Any]]:
        """Activation history, oldest first: ``{"version": str | None, "at": iso time}``."""
        return list(self._state().get("history", []))

    # --- writing ---------------------------------------------------------------------------------
    def register(
        self,
        *,
        name: str,
        base: str,
        model_file: Path,
        extra_files: dict[str, Path] | None = None,
        args: dict[str, Any] | None = None,
        data_card: dict[str, Any] | None = None,
        scores: dict[str, Any] | None = None,
        quant: str = "",
        notes: str = "",
        move: bool = False,
        adapter_of: str = "",
        few_shot: bool = True,
    ) -> ModelVersion:
        """Add a version holding ``model_file`` (as model.gguf) and ``extra_files`` (by name).

        The folder is filled under a temporary name and renamed into place in one step. The new
        version is not activated.
        """
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC)
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:48] or "model"
        version = f"{stamp:%Y%m%d-%H%M%S}-{slug}"
        n = 1
        while (self.versions_dir / version).exists():
            n += 1
            version = f"{stamp:%Y%m%d-%H%M%S}-{slug}-{n}"
        tmp = self.versions_dir / f".{version}.tmp{os.getpid()}"
        tmp.mkdir()
        try:
            files: dict[str, str] = {}
            for target, src in [(MODEL_FILE, Path(model_file)), *(extra_files or {}).items()]:
                dst = tmp / target
                if move:
                    shutil.move(src, dst)
                else:
                    shutil.copyfile(src, dst)
                files[target] = sha256_file(dst)
            mv = ModelVersion(
                version=version,
                name=name,
                gguf_path=tmp / MODEL_FILE,
                base=base,
                created_at=stamp.isoformat(timespec="seconds"),
                sha256=files[MODEL_FILE],
                scores=scores or {},
                args=args or {},
                data_card=data_card or {},
                files=files,
                quant=quant,
                notes=notes,
                adapter_of=adapter_of,
                few_shot=few_shot,
            )
            write_json_atomic(tmp / META_FILE, mv.to_json())
            os.replace(tmp, self.versions_dir / version)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log.info("registered model version %s", version)
        return self.get(version)

    def set_scores(self, version: str, scores: dict[str, Any]) -> ModelVersion:
        """Merge ``scores`` into a version's stored scores (top-level keys replace)."""
        with self._locked():
            mv = self.get(version)
            data = mv.to_json()
            data["scores"] = {**mv.scores, **scores}
            write_json_atomic(mv.dir / META_FILE, data)
        return self.get(version)

    def activate(self, version: str, *, force: bool = False) -> ModelVersion:
        """Make ``version`` the chat model (atomic). Refused unless its gate passed or ``force``."""
        with self._locked():
            mv = self.get(version)
            if not force and not mv.gate_passed:
                gate = mv.scores.get("gate")
                why = (
                    "it has not been evaluated yet; run `python -m training evaluate "
                    f"{version}` first"
                    if not gate
                    else f"its evaluation did not beat the active model ({gate.get('reason', '')})"
                )
                raise ActivationRefused(
                    f"Model version {version} was not activated: {why}. Use --force (admin page: "
                    "'activate anyway') to override."
                )
            if not mv.gguf_path.is_file():
                raise ActivationRefused(
                    f"Model version {version} was not activated: its model file {mv.gguf_path} "
                    "is missing. Retrain it, or delete the version's folder."
                )
            if mv.files.get(MODEL_FILE) and sha256_file(mv.gguf_path) != mv.sha256:
                raise ActivationRefused(
                    f"Model version {version} was not activated: {mv.gguf_path} does not match "
                    "its recorded sha256 (damaged or replaced). Retrain or re-register it."
                )
            state = self._state()
            if state.get("version") != version:
                history = [*state.get("history", []), {"version": version, "at": _now()}]
                stack = [*state.get("stack", []), version]
                self._save_state({"version": version, "stack": stack, "history": history})
            log.info("activated model version %s", version)
            return mv

    def rollback(self) -> ModelVersion | None:
        """Re-activate the version that was active before the current one (None: configured model)."""
        with self._locked():
            state = self._state()
            current = state.get("version")
            stack = list(state.get("stack", []))  # versions activated, in order
            if stack and stack[-1] == current:
                stack.pop()
            # go back to the newest earlier version that still exists
            while stack and not (self.versions_dir / stack[-1] / META_FILE).is_file():
                stack.pop()
            previous = stack[-1] if stack else None
            history = [
                *state.get("history", []),
                {"version": previous, "at": _now(), "rollback_from": current},
            ]
            self._save_state({"version": previous, "stack": stack, "history": history})
            log.info("rolled back from %s to %s", current, previous or "the configured chat model")
            return self.get(previous) if previous else None

    def remove(self, version: str) -> None:
        """Delete a version that is not active."""
        with self._locked():
            mv = self.get(version)
            if self._state().get("version") == version:
                raise ActivationRefused(
                    f"Model version {version} is active; roll back or activate another first."
                )
            trash = self.versions_dir / f".{version}.del{os.getpid()}"
            os.replace(mv.dir, trash)
            shutil.rmtree(trash, ignore_errors=True)

    # --- internals -------------------------------------------------------------------------------
    def _load(self, folder: Path) -> ModelVersion:
        path = folder / META_FILE
        try:
            with open(path, encoding="utf-8") as f:
                return ModelVersion.from_json(folder, json.load(f))
        except (ValueError, TypeError, AttributeError) as err:
            raise RegistryDamaged(
                f"Model version {folder.name}: {path} is damaged ({type(err).__name__}: "
                f"{str(err)[:120]})."
            ) from err

    def _state(self) -> dict[str, Any]:
        """``active.json``, validated: missing means nothing was ever activated; unreadable or
        malformed raises (never read as 'nothing active')."""
        path = self.root / ACTIVE_FILE
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            raise self._damaged_state(path, str(err)) from err
        ok = (
            isinstance(data, dict)
            and isinstance(data.get("version"), str | None)
            and isinstance(data.get("stack", []), list)
            and isinstance(data.get("history", []), list)
            and all(isinstance(v, str) for v in data.get("stack", []))
            and all(isinstance(h, dict) for h in data.get("history", []))
        )
        if not ok:
            raise self._damaged_state(path, "not the expected structure")
        return data

    @staticmethod
    def _damaged_state(path: Path, why: str) -> RegistryDamaged:
        backup = path.with_name(path.name + ".bak")
        restore = (
            f"Restore the previous state (`cp {backup} {path}`) or delete {path}"
            if backup.is_file()
            else f"Delete {path}"
        )
        return RegistryDamaged(
            f"The model registry's {path} is damaged ({why}); which model is active is unknown. "
            f"{restore} to go back to the configured chat model (the activation history is then "
            "lost)."
        )

    def _save_state(self, state: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        current = self.root / ACTIVE_FILE
        if current.is_file():  # the last good state, for a manual restore
            shutil.copyfile(current, current.with_name(current.name + ".bak"))
        write_json_atomic(current, state)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
