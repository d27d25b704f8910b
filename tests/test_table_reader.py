"""The table reader on pages set in two text columns (older 10-Ks: prose on the left, a table on
the right at the same height): each column is read on its own, so a row's label does not take
the neighbouring column's prose and the header over the amounts is found."""

from __future__ import annotations

import pytest

from ingestion.facts.layout import PdfGeometry, column_bands
from ingestion.tables import read_tables
from tests.conftest import MMM_2018, REPORTS, require

GS_2016 = REPORTS / "uda_finqa_tatqa/GS_2016.pdf"  # two text columns on most pages


@pytest.fixture(scope="module")
def gs():
    require(GS_2016.is_file(), f"report not found: {GS_2016}")
    with PdfGeometry(GS_2016) as geo:
        yield geo


def _row(tables, label):
    rows = [(t, r) for t in tables for r in t.rows if r.label == label]
    assert len(rows) == 1, [r.label for t in tables for r in t.rows]
    return rows[0]


def test_a_table_beside_prose_keeps_its_labels_and_header(gs) -> None:
    lines = gs.lines(186)
    left, right = column_bands(lines)
    assert all(w.x1 < 300 for ln in left for w in ln.words)
    assert all(w.x0 > 300 for ln in right for w in ln.words)
    # every word is kept, in one band or the other
    assert sum(len(ln.words) for ln in left + right) == sum(len(ln.words) for ln in lines)

    table, row = _row(read_tables(lines, 186, "en"), "Total cost of common share repurchases")
    assert [c.value for c in row.cells] == [6069, 4195, 5469]
    assert table.columns == [f"Year Ended December {y}" for y in (2016, 2015, 2014)]
    assert table.unit_label == "millions"
    assert table.title.startswith("The table below presents the amount of common stock")


def test_a_title_is_not_the_middle_of_a_sentence(gs) -> None:
    table, row = _row(read_tables(gs.lines(161), 161, "en"), "Total loans receivable, gross")
    assert [c.value for c in row.cells] == [50181, 45821]
    assert table.columns == ["As of December 2016", "As of December 2015"]
    assert not table.title[:1].islower()


def test_single_column_pages_are_one_band() -> None:
    require(MMM_2018.is_file(), f"report not found: {MMM_2018}")
    with PdfGeometry(MMM_2018) as geo:
        for page in (20, 60, 61):  # prose, an income statement, a balance sheet
            lines = geo.lines(page)
            assert column_bands(lines) == [lines]


def test_a_year_line_inside_a_table_starts_the_next_section() -> None:
    """Lifeway's stock price table prints 2018's quarters, then "2019" over the same Low / High
    columns and 2019's quarters: each section gets its own year."""
    lifeway = REPORTS / "uda_finqa_tatqa/lifeway-foods-inc_2019.pdf"
    require(lifeway.is_file(), f"report not found: {lifeway}")
    with PdfGeometry(lifeway) as geo:
        tables = read_tables(geo.lines(37), 37, "en")
    first = {(t.columns[0], r.cells[0].value) for t in tables for r in t.rows}
    assert ("Common Stock Price Range 2018 Low", 5.99) in first
    assert ("2019 Low", 1.98) in first
    assert not any(
        "2018" in t.columns[0] and r.cells[0].value == 1.98 for t in tables for r in t.rows
    )
