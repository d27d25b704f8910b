"""Company, fiscal year and report type come from the report's text, not from its file name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingestion.clean import detect_language
from ingestion.meta import detect, short_name
from ingestion.pdf import Page, read_pages
from tests.conftest import BESTBUY_10Q, ERC_WEIS, HUAJIN_2019, MMM_2018

pytestmark = pytest.mark.usefixtures("corpus")


def _detect(path: Path, name: str | None = None):
    pages = list(read_pages(path))
    return detect(pages, Path(name or path.name), detect_language(pages))


def test_3m_10k_from_its_cover() -> None:
    meta = _detect(MMM_2018)
    assert meta.company == "3M Company"
    assert meta.fiscal_year == 2018
    assert meta.report_type == "10-K"
    assert meta.language == "en"
    assert "3M" in meta.aliases


def test_file_name_is_not_needed(tmp_path: Path) -> None:
    """The same 10-K under a meaningless name gives the same answer."""
    copy = tmp_path / "download (3).pdf"
    shutil.copyfile(MMM_2018, copy)
    meta = _detect(copy)
    assert (meta.company, meta.fiscal_year, meta.report_type) == ("3M Company", 2018, "10-K")


def test_erc_report_named_by_sha1() -> None:
    assert ERC_WEIS.stem == "31a60b930e0f1034afff6e2d1e406e7d9141b2a1"
    meta = _detect(ERC_WEIS)
    assert meta.company == "Weis Markets, Inc."
    assert meta.fiscal_year == 2022
    assert "Weis Markets" in meta.aliases


def test_chinese_annual_report_title() -> None:
    meta = _detect(HUAJIN_2019, name="report.pdf")  # nothing useful in the name
    assert meta.language == "zh"
    assert meta.company == "北方华锦化学工业股份有限公司"
    assert meta.fiscal_year == 2019
    assert meta.report_type == "年度报告"
    assert "华锦股份" in meta.aliases  # 证券简称
    assert meta.ticker == "000059"


def test_10q_fiscal_year_follows_the_last_fiscal_year_end() -> None:
    """Best Buy's quarter ended July 29, 2023 belongs to fiscal 2024 (year ended Feb 3, 2024)."""
    meta = _detect(BESTBUY_10Q, name="q2.pdf")
    assert meta.report_type == "10-Q"
    assert meta.fiscal_year == 2024
    assert short_name(meta.company).lower() == "best buy co"


def _pages(*texts: str) -> list[Page]:
    return [Page(i + 1, t) for i, t in enumerate(texts)]


def test_press_release_company_and_year() -> None:
    pages = _pages(
        "FOR IMMEDIATE RELEASE\n• 2022 Fourth-Quarter reported sales of $23.7 Billion\n"
        "• Company guides 2023 adjusted operational sales growth of 4.0%\n"
        "New Brunswick, N.J. (January 24, 2023) – Johnson & Johnson (NYSE: JNJ) today announced "
        "results for fourth-quarter and full year 2022.",
        "Consumer Health Company separation remains on track for 2023.",
    )
    meta = detect(pages, Path("release.pdf"), "en")
    assert meta.report_type == "earnings release"
    assert meta.company == "Johnson & Johnson"
    assert meta.fiscal_year == 2022  # the results' year, not the guidance year


def test_glossy_report_company_from_the_auditors_report() -> None:
    pages = _pages(
        "INVESTING IN OUR BUSINESS 2022 ANNUAL REPORT",
        "Kruger Products Inc. is Canada's leading manufacturer of tissue products.",
        "Kruger Products Inc. serves the consumer market.",
        "INDEPENDENT AUDITOR'S REPORT\nTo the Shareholders of KP Tissue Inc.\nOpinion\nWe have "
        "audited the financial statements of KP Tissue Inc.",
    )
    meta = detect(pages, Path("d14ae2b6284e48b5c1e6659a0a5863d84697b3b9.pdf"), "en")
    assert meta.company == "KP Tissue Inc."


def test_split_capitals_on_a_cover_are_joined() -> None:
    cover = (
        "FORM\n10-K\nFor the fiscal year ended December 31, 2018\nCommission\nFile\nNo.\n001-10362\n"
        "MGM\nR\nESORTS I\nNTERNATIONAL\n(Exact name of Registrant as specified in its charter)\n"
    )
    meta = detect(
        _pages(cover, "MGM Resorts International operates resorts internationally."),
        Path("x.pdf"),
        "en",
    )
    assert meta.company == "MGM Resorts International"
    assert meta.fiscal_year == 2018


def test_short_name() -> None:
    assert short_name("The Goldman Sachs Group, Inc.") == "Goldman Sachs"
    assert short_name("3M Company") == "3M"
    assert short_name("JPMorgan Chase & Co.") == "JPMorgan Chase"


def test_a_letter_naming_last_year_beside_tables_headed_by_this_year() -> None:
    """A glossy annual report with no cover phrase: its letter compares with "the year ended
    December 31, 2021", its highlights are headed "2022 2021 2020" — the report is 2022's
    (FNCB Bancorp's, an ERC report, had been filed as 2021 and its tables read a year off)."""
    letter = (
        "Dear Shareholders,\nNon-interest income decreased $287 thousand to $8.0 million "
        "compared to $8.3 million for the year ended December 31, 2021."
    )
    highlights = "Selected Financial Highlights\nIncome Statement: 2022 2021 2020 2019 2018"
    assert detect(_pages(highlights, letter), Path("a.pdf"), "en").fiscal_year == 2022
    assert detect(_pages(letter), Path("a.pdf"), "en").fiscal_year == 2021  # nothing else said
    cover = "Annual report for the fiscal year ended December 31, 2022.\n" + highlights
    after = "Maturities: 2023 2024 2025"  # a run counting up is no header of past years
    assert detect(_pages(cover, after), Path("a.pdf"), "en").fiscal_year == 2022
