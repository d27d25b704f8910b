"""The backend's layering (backend/__init__.py): no module imports a higher layer, and only
backend.app imports ingestion/ or training/. Imports inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

from backend.settings import PROJECT_ROOT

BACKEND = PROJECT_ROOT / "backend"
ROOT_MODULES = {"settings", "errors", "records", "system"}
ENTRY_POINTS = {"__main__", "evaluate"}
LAYERS = {"domain": 1, "store": 2, "llm": 2, "answering": 3, "app": 4, "evaluation": 5}


def _layer(module: str) -> int:
    """Layer of a dotted backend module name (entry points above everything)."""
    parts = module.split(".")
    if len(parts) == 1:
        return 0
    head = parts[1]
    if head in ROOT_MODULES:
        return 0
    if head in ENTRY_POINTS:
        return 9
    return LAYERS[head]


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
    return out


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(BACKEND.rglob("*.py")):
        rel = path.relative_to(PROJECT_ROOT).with_suffix("")
        name = ".".join(p for p in rel.parts if p != "__init__")
        out.append((name, path))
    return out


def test_backend_root_holds_few_modules():
    names = {p.stem for p in BACKEND.glob("*.py")} - {"__init__"}
    others = names - ROOT_MODULES - ENTRY_POINTS
    assert len(others) <= 3, others
    for package in LAYERS:
        assert (BACKEND / package / "__init__.py").read_text().strip(), (
            f"{package} needs a docstring"
        )


def test_no_module_imports_a_higher_layer():
    problems = []
    for name, path in _modules():
        mine = _layer(name)
        for imported in _imports(path):
            if not imported.startswith("backend."):
                continue
            if _layer(imported) > mine:
                problems.append(f"{name} (layer {mine}) imports {imported}")
            siblings = {name.split(".")[1], imported.split(".")[1]}
            if siblings == {"store", "llm"}:  # persistence and models stay independent
                problems.append(f"{name} imports its sibling {imported}")
    assert not problems, "\n".join(problems)


def test_only_the_app_layer_imports_ingestion_or_training():
    problems = []
    for name, path in _modules():
        allowed = name.startswith("backend.app")
        for imported in _imports(path):
            if imported.split(".")[0] in ("ingestion", "training") and not allowed:
                problems.append(f"{name} imports {imported}")
    assert not problems, "\n".join(problems)


def test_the_layer_check_sees_a_violation(tmp_path):
    """The check itself can fail: a domain module importing the app layer is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from backend.app.services import build_services\n")
    assert any(_layer(m) > _layer("backend.domain.bad") for m in _imports(bad))


def test_importing_the_answering_layer_loads_no_model_or_dictionary():
    """Nothing heavy happens at import time: the answering modules load no jieba dictionary
    (~1 s: a module-level set of Chinese words cut at import had done so), torch or llama.cpp."""
    import subprocess
    import sys

    probe = (
        "import sys, backend.answering.agent, backend.answering.evidence, "
        "backend.answering.table_route, backend.answering.plan\n"
        "jieba = sys.modules.get('jieba')\n"
        "print(bool(jieba and jieba.dt.initialized), 'torch' in sys.modules, "
        "'llama_cpp' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"], out.stdout + out.stderr
