"""Clean-up and chunking on real reports: page and section boundaries, artefacts that hurt search."""

from __future__ import annotations

import re

import pytest

from ingestion.chunking import chunk_pages
from ingestion.clean import clean_pages, join_split_words, normalize_whitespace
from ingestion.pdf import Page, read_pages
from tests.conftest import HUAJIN_2019, MMM_2018

pytestmark = pytest.mark.usefixtures("corpus")


@pytest.fixture(scope="module")
def mmm() -> tuple[list[Page], list[Page]]:
    raw = list(read_pages(MMM_2018))
    return raw, clean_pages(raw, "en")


@pytest.fixture(scope="module")
def huajin() -> tuple[list[Page], list[Page]]:
    raw = list(read_pages(HUAJIN_2019))
    return raw, clean_pages(raw, "zh")


def test_cleaning_keeps_page_numbers(mmm: tuple[list[Page], list[Page]]) -> None:
    raw, clean = mmm
    assert [p.number for p in clean] == [p.number for p in raw] == list(range(1, 161))


def test_running_headers_and_folios_removed(mmm: tuple[list[Page], list[Page]]) -> None:
    raw, clean = mmm
    assert raw[59].text.startswith("Table of Contents")
    assert raw[59].text.rstrip().endswith("\n60")  # the folio
    assert not clean[59].text.startswith("Table of Contents")
    assert not clean[59].text.rstrip().endswith("\n60")
    assert "Consolidated Statement of Cash Flows" in clean[59].text


def test_split_words_joined(mmm: tuple[list[Page], list[Page]]) -> None:
    """3M's statement titles come out of the PDF as 'Statement of Incom e'."""
    raw, clean = mmm
    assert "Statement of Incom e" in raw[55].text
    assert "Consolidated Statement of Income" in clean[55].text
    whole = "\n".join(p.text for p in clean)
    assert "Incom e" not in whole
    assert " As a " in whole or "\nAs a " in whole  # real pairs stay apart


def test_split_word_rules() -> None:
    pages = [
        Page(1, "Statement of Incom e\nBalance Shee t\nItem 9B. Other Informatio n"),
        Page(2, "Income rose. The balance sheet. Other information. Sheet metal. Information."),
        Page(3, "As a result, Regulation S-K applies. Income and information."),
    ]
    out = join_split_words(pages)
    assert out[0].text == "Statement of Income\nBalance Sheet\nItem 9B. Other Information"
    assert out[2].text == pages[2].text


def test_pdfium_hyphen_marker_and_line_end_hyphenation() -> None:
    assert normalize_whitespace("non\ufffecontrolling interest") == "non-controlling interest"
    pages = clean_pages(
        [Page(1, "the manage-\nment of long-\nterm debt"), Page(2, "Management and management")],
        "en",
    )
    assert pages[0].text == "the management of long-term debt"


def test_chinese_wrapped_words_joined(huajin: tuple[list[Page], list[Page]]) -> None:
    raw, clean = huajin
    assert "聚乙\n烯" in raw[7].text  # a line break inside 聚乙烯 (polyethylene)
    assert "聚乙烯" in clean[7].text
    assert "2019年年度报告" in clean[0].text  # layout spaces between digits and 年 removed
    # a table label wrapped inside a word is joined, separate table rows are not
    assert "3．股份支付计入所有者权益的金额" in clean[59].text
    assert "加：会计政策变更\n前期差错更正" in clean[59].text


def test_chunks_stay_within_pages_and_carry_sections(mmm: tuple[list[Page], list[Page]]) -> None:
    _, clean = mmm
    chunks = chunk_pages(clean, "doc", language="en", target=1100)
    by_page = {p.number: p.text for p in clean}
    for c in chunks:
        assert c.chunk_id == f"doc:{c.page}:{c.seq}"
        # every line of a chunk is on its own page (chunks never cross pages)
        for line in c.text.split("\n")[:3]:
            assert line in by_page[c.page]
    sections = {c.page: c.section for c in chunks}
    assert sections[4].startswith("Item 1. Business")
    assert sections[20].startswith("Item 7. Management")
    assert sections[56].startswith("Item 8. Financial Statements")
    income = [c for c in chunks if c.page == 56]
    assert any(c.heading == "Consolidated Statement of Income" for c in income)
    assert max(len(c.text) for c in chunks) <= 1100
    # a chunk of numbers keeps its table's caption as heading
    cash = [c for c in chunks if c.page == 60 and "Depreciation and amortization" in c.text]
    assert cash and cash[0].heading == "Consolidated Statement of Cash Flows"


def test_table_of_contents_does_not_move_the_section(mmm: tuple[list[Page], list[Page]]) -> None:
    _, clean = mmm
    chunks = chunk_pages(clean[:3], "doc", language="en")
    assert all(c.section == "" for c in chunks)  # pages 1-3: cover and contents


def test_chinese_chunks_carry_sections(huajin: tuple[list[Page], list[Page]]) -> None:
    _, clean = huajin
    chunks = chunk_pages(clean, "zh", language="zh", target=1100)
    assert all(c.language == "zh" for c in chunks)
    first = {}
    for c in chunks:
        first.setdefault(c.section, c.page)
    assert first["第三节 公司业务概要"] == 8
    assert first["第十二节 财务报告"] == 44
    assert any(re.match(r"合并资产负债表", c.heading) for c in chunks)
    # CJK counts double: a chunk holds at most ~550 Chinese characters
    assert max(len(c.text) for c in chunks) <= 1100
