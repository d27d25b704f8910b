"""Model registry: register, list, gate-checked atomic activation, rollback, damage detection."""

from __future__ import annotations

import json

import pytest

from backend.errors import ActivationRefused, UnknownModelVersion
from backend.llm.registry import ModelRegistry


def _gguf(path, payload: bytes):
    path.write_bytes(b"GGUF" + payload)
    return path


def _register(reg, tmp_path, name, payload=b"x"):
    return reg.register(
        name=name,
        base="smollm2-135m",
        model_file=_gguf(tmp_path / f"{name}.gguf", payload),
        args={"rank": 8},
        data_card={"n_train": 3},
        quant="Q4_K_M",
    )


def test_register_lists_versions_with_hashes(tmp_path):
    reg = ModelRegistry(tmp_path / "registry")
    assert reg.versions() == [] and reg.active() is None
    a = _register(reg, tmp_path, "first", b"a")
    b = _register(reg, tmp_path, "second", b"b")
    assert [v.version for v in reg.versions()] == [a.version, b.version]
    assert a.gguf_path.read_bytes() == b"GGUFa" and a.gguf_path.name == "model.gguf"
    assert a.files["model.gguf"] == a.sha256 and len(a.sha256) == 64
    assert a.args == {"rank": 8} and a.data_card == {"n_train": 3} and a.base == "smollm2-135m"
    # the source file is copied, not moved, and a half-written folder is invisible
    assert (tmp_path / "first.gguf").is_file()
    (reg.versions_dir / ".junk.tmp123").mkdir()
    assert len(reg.versions()) == 2
    with pytest.raises(UnknownModelVersion):
        reg.get("nope")


def test_activation_needs_a_passed_gate_or_force(tmp_path):
    reg = ModelRegistry(tmp_path / "registry")
    a = _register(reg, tmp_path, "cand")
    with pytest.raises(ActivationRefused, match="not been evaluated"):
        reg.activate(a.version)
    reg.set_scores(a.version, {"gate": {"better": False, "reason": "dev accuracy: 0.1 vs 0.2"}})
    with pytest.raises(ActivationRefused, match="did not beat"):
        reg.activate(a.version)
    assert reg.active() is None
    reg.set_scores(a.version, {"gate": {"better": True}})
    assert reg.get(a.version).scores["gate"]["better"] is True
    assert reg.activate(a.version).version == a.version
    assert reg.active().version == a.version
    state = json.loads((reg.root / "active.json").read_text())
    assert state["version"] == a.version


def test_rollback_walks_back_to_the_configured_model(tmp_path):
    reg = ModelRegistry(tmp_path / "registry")
    a = _register(reg, tmp_path, "one", b"1")
    b = _register(reg, tmp_path, "two", b"2")
    reg.activate(a.version, force=True)
    reg.activate(b.version, force=True)
    assert reg.active().version == b.version
    assert reg.rollback().version == a.version
    assert reg.active().version == a.version
    assert reg.rollback() is None
    assert reg.active() is None
    assert [h["version"] for h in reg.history()] == [a.version, b.version, a.version, None]


def test_damaged_model_file_is_not_activated(tmp_path):
    reg = ModelRegistry(tmp_path / "registry")
    a = _register(reg, tmp_path, "dmg")
    a.gguf_path.write_bytes(b"GGUFchanged")
    with pytest.raises(ActivationRefused, match="sha256"):
        reg.activate(a.version, force=True)
    assert reg.active() is None


def test_remove_refuses_the_active_version(tmp_path):
    reg = ModelRegistry(tmp_path / "registry")
    a = _register(reg, tmp_path, "x1", b"1")
    b = _register(reg, tmp_path, "x2", b"2")
    reg.activate(a.version, force=True)
    with pytest.raises(ActivationRefused):
        reg.remove(a.version)
    reg.remove(b.version)
    assert [v.version for v in reg.versions()] == [a.version]


def test_a_named_version_is_served_without_activation_and_the_gate_weighs_speed(tmp_path):
    """``chat_model = "version:<V>"`` (what the gate evaluates) resolves a LoRA version to its
    base GGUF + adapter, active or not; the verdict wants accuracy >= base, N/A refused >= 90 %
    and a sooner first token."""
    from backend.llm.clients import local_target
    from backend.settings import Settings
    from tests.conftest import MODELS
    from training.gate import verdict

    settings = Settings(data_dir=tmp_path / "data", models_path=MODELS)
    reg = ModelRegistry(settings.registry_dir)
    mv = reg.register(
        name="tuned",
        base="qwen2.5-coder-1.5b",
        model_file=_gguf(tmp_path / "lora.gguf", b"adapter"),
        adapter_of="qwen2.5-coder-1.5b",
        few_shot=False,
        quant="lora",
    )
    assert reg.active() is None
    path, info = local_target(settings.model_copy(update={"chat_model": f"version:{mv.version}"}))
    assert path.name == "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    assert info.adapter == str(mv.gguf_path) and info.few_shot is False
    with pytest.raises(UnknownModelVersion):
        local_target(settings.model_copy(update={"chat_model": "version:nope"}))

    def result(acc: tuple[float, float], ft: tuple[float, float], na: float) -> dict:
        def one(a: float, f: float, n: float) -> dict:
            s = {"accuracy": a, "model_first_token_median_s": f, "refusal_accuracy_na": n}
            return {"evaluate": {"dev": {"summary": {"agent": s}}}}

        return {"candidate": one(acc[0], ft[0], na), "baseline": one(acc[1], ft[1], 1.0)}

    assert verdict(result((0.40, 0.40), (4.0, 9.0), 0.9), "agent", "base")["better"]
    assert not verdict(result((0.39, 0.40), (4.0, 9.0), 1.0), "agent", "base")["better"]
    assert not verdict(result((0.45, 0.40), (9.5, 9.0), 1.0), "agent", "base")["better"]
    slow_na = verdict(result((0.45, 0.40), (4.0, 9.0), 0.8), "agent", "base")
    assert not slow_na["better"] and "N/A refused 0.8" in slow_na["reason"]
