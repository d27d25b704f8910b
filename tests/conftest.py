"""Shared fixtures: real corpus PDFs, a settings object on a temporary data dir, built services.

Prepared models are shared from the repository's data dir (``make setup`` prepares them) through
``ANNALYST_MODELS_PATH`` so that no test re-assembles a 1 GB GGUF.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from backend.settings import PROJECT_ROOT, Settings

CORPUS = Path(os.environ.get("ANNALYST_CORPUS_DIR", PROJECT_ROOT.parent / "shared" / "corpus"))
REPORTS = CORPUS / "reports"
MODELS = Path(os.environ.get("ANNALYST_MODELS_PATH", PROJECT_ROOT / "data" / "models"))

# Small real reports used across tests.
FOOTLOCKER_8K = REPORTS / "financebench/FOOTLOCKER_2022_8K_dated-2022-05-20.pdf"  # 4 pages
AMCOR_8K = REPORTS / "financebench/AMCOR_2022_8K_dated-2022-07-01.pdf"  # 9 pages
BESTBUY_10Q = REPORTS / "financebench/BESTBUY_2024Q2_10Q.pdf"  # 30 pages, RC4-encrypted
MMM_2018 = REPORTS / "financebench/3M_2018_10K.pdf"  # 160 pages
ERC_WEIS = (
    REPORTS / "erc_round2/31a60b930e0f1034afff6e2d1e406e7d9141b2a1.pdf"
)  # 49 pages, SHA-1 name
ERC_RECTIFIER = REPORTS / "erc_round2/3bb894b4201667baf60b0b2c8a47109fa2357acb.pdf"  # AES, 56 pages
ERC_RAPID7 = (
    REPORTS / "erc_round2/99cd0edaf5bfb233e5f46ee55af837de0b725274.pdf"
)  # undecodable fonts
PEPSICO_2022 = REPORTS / "financebench/PEPSICO_2022_10K.pdf"  # 503 pages
HUAJIN_2019 = (
    REPORTS
    / "finglm_cn/2020-04-03__北方华锦化学工业股份有限公司__000059__华锦股份__2019年__年度报告.pdf"
)


#: Under CI (``CI=1``) a missing corpus, model or browser fails the run; only GPU tests may skip.
UNDER_CI = os.environ.get("CI", "").lower() not in ("", "0", "false")


def require(ok: bool, reason: str) -> None:
    """Skip the test when ``ok`` is false, except under CI, where that is a failure."""
    if ok:
        return
    if UNDER_CI:
        pytest.fail(f"{reason} (CI=1: a missing prerequisite fails the run)", pytrace=False)
    pytest.skip(reason)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than ~30 s (still part of make test)")
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU (skipped on CI)")
    config.addinivalue_line("markers", "browser: drives Debian's Chromium with Playwright")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import importlib.util

    has_cuda = False
    if importlib.util.find_spec("torch") is not None:
        import torch

        has_cuda = torch.cuda.is_available()
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def corpus() -> Path:
    require(REPORTS.is_dir(), f"corpus not found at {CORPUS} (setting ANNALYST_CORPUS_DIR)")
    return CORPUS


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", models_path=MODELS, corpus_dir=CORPUS)


def indexed_services(root: Path, files: list[Path], **settings: object) -> object:
    """Real services over a fresh data folder in ``root`` with ``files`` indexed (SmolLM2, a
    2,048-token window: the tests' chat model); every file must index."""
    from backend.app.services import build_services

    values = {"chat_model": "smollm2-135m", "n_ctx": 2048, **settings}
    services = build_services(
        Settings(data_dir=root / "data", models_path=MODELS, corpus_dir=CORPUS, **values)
    )
    results = services.ingestor.add(files)
    assert all(r.status == "indexed" for r in results), [r.error for r in results]
    return services


@pytest.fixture(scope="session")
def netflix_extract(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    """A small real 10-K: four pages of Netflix's 2017 10-K (cover, income statement, cash flows,
    balance sheet) copied into a new PDF; the facts module reads its statements (~200 facts)."""
    import pypdfium2 as pdfium

    source = REPORTS / "financebench/NETFLIX_2017_10K.pdf"
    target = tmp_path_factory.mktemp("netflix") / "NETFLIX_2017_10K_extract.pdf"
    src, new = pdfium.PdfDocument(source), pdfium.PdfDocument.new()
    new.import_pages(src, [0, 41, 43, 44])
    new.save(target)
    return target
