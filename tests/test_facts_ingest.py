"""Facts end to end: ingestion writes them with the document (real MiniLM, real Chroma in
tmp_path), the facts CLI reads them, re-extraction replaces them, removal deletes them.

The report is a four-page extract of Weis Markets' 2022 10-K (cover, balance sheet, income
statement, cash flows) so that embedding stays quick."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.app.services import build_services
from backend.settings import Settings
from backend.store.facts import FactStore
from ingestion.__main__ import main
from tests.conftest import ERC_WEIS, FOOTLOCKER_8K


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


@pytest.fixture
def weis_extract(corpus, tmp_path: Path) -> Path:
    import pypdfium2 as pdfium

    target = tmp_path / "weis_2022_extract.pdf"
    src, new = pdfium.PdfDocument(ERC_WEIS), pdfium.PdfDocument.new()
    new.import_pages(src, [0, 23, 24, 27])  # PDF pages 1, 24, 25, 28
    new.save(target)
    return target


def test_facts_follow_the_document(settings: Settings, weis_extract: Path, capsys) -> None:
    services = build_services(settings)
    weis, footlocker = services.ingestor.add([weis_extract, FOOTLOCKER_8K])
    assert weis.status == "indexed" and weis.facts > 100 and weis.checks_failed == 0
    assert weis.checks_passed >= 6
    # an 8-K has no primary statements: it still ingests fully, just without facts
    assert footlocker.status == "indexed" and footlocker.chunks > 0 and footlocker.facts == 0

    store = FactStore(services.catalog)
    [hit] = store.lookup(company="Weis Markets", item="total_assets", year=2022)
    assert (hit.value, hit.scale, hit.page, hit.period_end) == (1959150.0, 1e3, 2, "2022-12-31")
    assert hit.citation == f"[{weis_extract.name} p.2]" and hit.checked is True

    data = str(settings.data_dir)
    code, out = run_cli(capsys, "list", "--data-dir", data)
    assert code == 0
    [line] = [ln for ln in out.splitlines() if ln.startswith(footlocker.doc_id)]
    assert " none " in line
    code, out = run_cli(
        capsys,
        "facts",
        "--data-dir",
        data,
        "--company",
        "weis",
        "--item",
        "capital expenditure",
        "--year",
        "2022",
        "--json",
    )
    assert code == 0
    [row] = [json.loads(ln) for ln in out.splitlines()]
    assert (row["value"], row["page"], row["item"]) == (-122169.0, 4, "capex")
    code, out = run_cli(capsys, "facts", "--data-dir", data, "--company", "weis", "--checks")
    assert code == 0 and out.count("ok  ") == weis.checks_passed and "FAIL" not in out
    code, _ = run_cli(capsys, "facts", "--data-dir", data, "--company", "Acme Widgets")
    assert code == 1

    # re-extraction replaces the rows in one transaction: same facts, no duplicates
    before = services.catalog.facts("f.doc_id = ?", [weis.doc_id])
    code, out = run_cli(capsys, "facts", "--data-dir", data, "--reextract", weis.doc_id[:8])
    assert code == 0 and f"facts={weis.facts}" in out
    after = services.catalog.facts("f.doc_id = ?", [weis.doc_id])
    assert sorted(map(repr, after)) == sorted(map(repr, before))

    services.ingestor.remove(weis.doc_id)
    assert services.catalog.facts("f.doc_id = ?", [weis.doc_id]) == []
    assert services.catalog.checks(weis.doc_id) == []
    assert store.resolve_company("Weis Markets") == []
