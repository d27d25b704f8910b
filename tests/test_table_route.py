"""The table route on real pages (Lifeway Foods' 2019 10-K: income statement, intangible assets,
accrued expenses): which row a question names when several rows share its words, with no model.

A row the question quotes whole ("cost of goods sold") is not a tie with a longer one it does not
quote ("total cost of goods sold"); a row with no column for the year asked (a "Useful Life" table)
is no rival; two rows with the same words and different numbers for the year asked still make
the question ambiguous (nothing answered here)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from backend.answering.route import analyse
from backend.answering.table_route import TableRoute
from tests.conftest import REPORTS, indexed_services
from tests.pdfmaker import excerpt

LIFEWAY = REPORTS / "uda_finqa_tatqa/lifeway-foods-inc_2019.pdf"


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    root = tmp_path_factory.mktemp("tables")
    pdf = excerpt(LIFEWAY, [1, 56, 64, 73], root / "lifeway-foods-inc_2019_excerpt.pdf")
    return indexed_services(root, [pdf])


def table_answer(svc, question):
    """The table route's answer to ``question`` (None when it answers nothing), and its trace."""
    from backend.answering.answer import Answer

    plan = svc.retriever.plan(question)
    answer = Answer(question, "")
    ok = TableRoute(svc.agent.toolbox(plan)).answer(plan, analyse(plan.question), answer)
    return (answer if ok else None), answer


def page_text(svc, citation):
    return svc.catalog.page_text(citation.doc_id, citation.page)


def test_the_row_the_question_quotes_beats_a_longer_total_row(svc):
    answer, _ = table_answer(svc, "What was Lifeway's cost of goods sold in 2019?")
    assert answer is not None and "68,367" in answer.answer and "71,513" not in answer.answer
    assert answer.value == 68367
    assert "Cost of goods sold 68,367" in page_text(svc, answer.citations[0])
    total, _ = table_answer(svc, "What was Lifeway's total cost of goods sold in 2019?")
    assert total is not None and total.value == 71513


def test_a_row_without_the_year_asked_is_no_rival(svc):
    """ "Recipes 4 years" (useful lives, p.64) cannot answer "in 2019"; "Recipes $ 44 $ 44" can."""
    answer, _ = table_answer(svc, "What was the value of Lifeway's recipes at December 31, 2019?")
    assert answer is not None and answer.value == 44
    assert "Recipes $ 44" in page_text(svc, answer.citations[0])


def test_two_years_of_one_quoted_row(svc):
    answer, _ = table_answer(svc, "What were Lifeway's total accrued expenses in 2019 and 2018?")
    assert answer is not None
    assert "4,087 in 2019" in answer.answer and "2,777 in 2018" in answer.answer


def test_rows_of_one_name_with_different_numbers_stay_ambiguous(svc):
    """Without a year, the quoted row's values in its two tables (income statement, MD&A …)
    must agree; here "Recipes" has 44 in one table and a useful life of 4 years in the other."""
    answer, _ = table_answer(svc, "What is the value of Lifeway's recipes?")
    assert answer is None


def test_which_year_compares_the_years_of_the_row(svc):
    higher, _ = table_answer(svc, "Which year had higher net intangible assets at Lifeway?")
    assert higher is not None and higher.answer.startswith("2018.")
    assert "344 in 2018" in higher.answer and "152 in 2019" in higher.answer
    assert "Intangible assets, net" in page_text(svc, higher.citations[0])
    below, _ = table_answer(
        svc, "In which year were Lifeway's total accrued expenses less than 3,000 thousands?"
    )
    assert below is not None and below.answer.startswith("2018.")  # 2,777 (2018) vs 4,087
    # no comparison word: not a lookup of one year either
    assert table_answer(svc, "In which year did Lifeway report accrued expenses?")[0] is None


def test_which_year_is_not_answered_by_one_statement_line(svc):
    """The facts route answers one year's line; "which year" compares years."""
    from backend.answering.route import takes_facts_route

    plan = svc.retriever.plan("Which year had higher cost of goods sold at Lifeway?")
    assert not takes_facts_route(plan, analyse(plan.question))


# -- arithmetic between rows the question names ------------------------------------------------
VIAVI = REPORTS / "uda_finqa_tatqa/viavi-solutions-inc_2019.pdf"


@pytest.fixture(scope="module")
def rows_svc(tmp_path_factory):
    """Lifeway's net sales by product category (p.9); Viavi's director compensation (p.20),
    audit fees (p.23) and executives' MSU / PSU values by year (p.50) tables."""
    root = tmp_path_factory.mktemp("table_rows")
    lifeway = excerpt(LIFEWAY, [1, 9], root / "lifeway-foods-inc_2019_categories.pdf")
    viavi = excerpt(VIAVI, [1, 20, 23, 50], root / "viavi-solutions-inc_2019_fees.pdf")
    return indexed_services(root, [lifeway, viavi])


def test_the_difference_between_two_named_rows_in_the_question_order(rows_svc):
    q = "What is the difference in Lifeway's net sales between drinkable Kefir other than ProBugs and Cheese in 2019?"
    answer, _ = table_answer(rows_svc, q)
    assert answer is not None and answer.value == 60363
    assert "71,822" in answer.answer and "11,459" in answer.answer
    assert "71822 - 11459" in answer.answer  # the calculation is shown
    page = page_text(rows_svc, answer.citations[0])
    assert "Drinkable Kefir other than ProBugs $ 71,822" in page and "Cheese 11,459" in page
    swapped, _ = table_answer(
        rows_svc,
        "What is the difference in Lifeway's net sales between Cheese and drinkable Kefir other "
        "than ProBugs in 2018?",
    )
    assert swapped is not None and swapped.value == 11486 - 78523


def test_the_total_of_two_named_rows_leaves_the_total_row_out(rows_svc):
    answer, _ = table_answer(
        rows_svc, "What is the total of Tax Fees and All Other Fees in fiscal 2019?"
    )
    assert answer is not None and answer.value == 169776 + 4500
    assert "169776 + 4500" in answer.answer


def test_the_column_is_the_one_the_question_words_name(rows_svc):
    """Fees, stock awards and total: "total compensation" picks the Total ($) column."""
    answer, _ = table_answer(
        rows_svc,
        "What is the difference between Richard E. Belluzzo's total compensation as compared to "
        "Laura Black?",
    )
    assert answer is not None and answer.value == 338317 - 245817


def test_rows_are_not_combined_when_the_table_lacks_a_word_of_the_question(rows_svc):
    """A qualifier the table does not have (a region), or two years for one difference."""
    for q in (
        "What is the difference in Lifeway's net sales in Canada between drinkable Kefir other "
        "than ProBugs and Cheese in 2019?",
        "What is the difference between Tax Fees and All Other Fees in 2019 and 2018?",
    ):
        answer, _ = table_answer(rows_svc, q)
        assert answer is None or "Calculation" not in answer.answer, q


def test_a_change_in_one_year_is_over_that_year(svc):
    """ "The percentage change in X in 2019": from the 2018 cell to the 2019 cell of the row."""
    answer, _ = table_answer(
        svc, "What was the percentage change in Lifeway's cost of goods sold in 2019?"
    )
    assert answer is not None and answer.unit == "%", answer and answer.answer
    page = page_text(svc, answer.citations[0])
    new, old = (
        68367,
        int(re.search(r"Cost of goods sold ([\d,]+) ([\d,]+)", page)[2].replace(",", "")),
    )
    assert answer.value == pytest.approx(round((new - old) / old * 100, 2))
    assert f"({new} - {old}) / {old} * 100" in answer.answer


def test_a_row_named_with_a_typo_is_read_and_the_reading_said(rows_svc):
    answer, _ = table_answer(
        rows_svc,
        "What is the amount of net sales from ProBugs Kelir in 2018 and 2019 respectively?",
    )
    assert answer is not None, "a one-letter typo keeps the row unnamed"
    assert "2,795" in answer.answer and "2,780" in answer.answer
    assert "“Kelir” was read as “Kefir”" in answer.answer
    # a word two letters away from every row word is not read as one
    assert (
        table_answer(
            rows_svc,
            "What is the amount of net sales from ProBugs Kevlar in 2018 and 2019 respectively?",
        )[0]
        is None
    )


def test_a_chinese_total_row_is_no_operand_of_a_sum():
    """ "A和B合计": the rows A and B, not the table's 合计 row as a third operand."""
    from backend.answering.table_rows import quoted_rows
    from backend.records import Cell
    from backend.store.tables import RowHit

    def row(i, label, value):
        cells = [Cell("2019年", f"{value:,}", float(value))]
        return RowHit(i, 1, "d", 3, label, [], cells, "营业成本构成", ["2019年"])

    rows = [row(1, "直接材料", 100), row(2, "直接人工", 20), row(3, "合计", 150)]
    picked = quoted_rows("公司2019年直接材料和直接人工合计是多少？", rows)
    assert [r.label for r in picked] == ["直接材料", "直接人工"]


GS = REPORTS / "uda_finqa_tatqa/GS_2016.pdf"  # two text columns: tables set beside prose


ABMD = REPORTS / "uda_finqa_tatqa/ABMD_2012.pdf"


@pytest.fixture(scope="module")
def gs_svc(tmp_path_factory):
    """Goldman Sachs 2016: operating expenses and staff (p.70), Investing & Lending net revenues
    (p.77), loans receivable (p.161), future minimum rental payments (p.183),
    common stock repurchases (p.186); Abiomed 2012: the stock performance table (p.41)."""
    root = tmp_path_factory.mktemp("gs_tables")
    gs = excerpt(GS, [1, 70, 77, 161, 183, 186], root / "GS_2016_excerpt.pdf")
    return indexed_services(root, [gs, excerpt(ABMD, [1, 41], root / "ABMD_2012_excerpt.pdf")])


def test_a_share_of_one_named_row_in_another(gs_svc):
    answer, _ = table_answer(
        gs_svc,
        "What percentage of total loans receivable, gross in 2016 were loans backed by "
        "commercial real estate?",
    )
    assert answer is not None and answer.value == 9.49 and answer.unit == "%"
    assert "4761 / 50181 * 100" in answer.answer  # the part over the whole, shown
    page = page_text(gs_svc, answer.citations[0])
    assert "Loans backed by commercial real estate" in page and "50,181" in page
    # the part named first, the whole after "as a percentage of"; a plural the row lacks
    other, _ = table_answer(
        gs_svc,
        "What were equity securities as a percentage of total net revenue in the Investing & "
        "Lending segment in 2015?",
    )
    assert other is not None and other.value == 69.55
    assert "3781 / 5436 * 100" in other.answer


def test_a_share_needs_both_rows_named_and_every_word_in_the_table(gs_svc):
    none, _ = table_answer(
        gs_svc, "What percentage of loans backed by commercial real estate were impaired in 2016?"
    )
    assert none is None  # the whole is no row, and "impaired" is nowhere in the table


def test_the_difference_of_one_row_between_two_years(gs_svc):
    answer, _ = table_answer(
        gs_svc,
        "What was the difference in millions between the total cost of common share "
        "repurchases in 2015 and 2016?",
    )
    assert answer is not None and answer.value == 1874
    assert "6069 - 4195" in answer.answer


def test_the_return_on_an_investment_between_two_dates_of_a_row(gs_svc):
    answer, _ = table_answer(
        gs_svc,
        "What is the ROI of an investment in the Nasdaq Composite Index from March 2007 to "
        "March 2010?",
    )
    assert answer is not None and answer.value == -0.98 and answer.unit == "%"
    assert "(99.02 - 100) / 100 * 100" in answer.answer and "the return is -0.98%" in answer.answer
    assert "Nasdaq Composite Index" in page_text(gs_svc, answer.citations[0])


def _row_of(svc, label):
    return next(r for r in svc.tables.find_rows(label, limit=20) if r.label == label)


def test_counts_in_a_money_table_are_shown_as_counts(gs_svc):
    """Staff at period-end sits in a "$ in millions" table; shares repurchased are millions of
    shares, not of dollars."""
    staff, _ = table_answer(gs_svc, "What is the net change in the number of staff in 2016?")
    assert staff is not None and staff.value == -2400
    assert "36,800 (Year Ended December 2015)" in staff.answer and "USD" not in staff.answer
    assert "the change is -2,400." in staff.answer
    shares, _ = table_answer(
        gs_svc, "What was the difference in common share repurchases between 2015 and 2016?"
    )
    assert shares is not None and shares.value == 14.5
    assert "22.1 million (Year Ended December 2015)" in shares.answer and "USD" not in shares.answer
    # money owed to staff, or the cost of shares, stays money
    row = _row_of(gs_svc, "Total cost of common share repurchases")
    owed = replace(row, label="Amounts due to employees", path=[])
    staff = replace(row, label="Total staff", path=[])
    assert owed.display(owed.cells[0]) == row.display(row.cells[0]) == "6,069 million"
    assert staff.display(staff.cells[0]) == "6,069"


def test_rows_labelled_by_a_year_under_the_person_named(rows_svc):
    """Viavi's table gives each executive rows "2019", "2018", "2017" and a column per award."""
    one, _ = table_answer(
        rows_svc,
        "What was the maximum possible value of MSU's using grant date fair value for Paul "
        "McNab in 2019?",
    )
    assert one is not None and one.value == 591150
    assert "Paul McNab > 2019" in one.answer and "Maximum Possible Value of MSUs" in one.answer
    change, _ = table_answer(
        rows_svc,
        "What was the change in maximum possible value of MSU's using grant date fair value for "
        "Paul McNab between 2017 and 2018 as a percentage?",
    )
    assert change is not None and change.value == 18.47
    assert "(442395 - 373425) / 373425 * 100" in change.answer
    # a person the table does not hold: no row answers
    none, _ = table_answer(
        rows_svc, "What was the maximum possible value of MSUs for Jane Roe in 2019?"
    )
    assert none is None


def test_the_share_of_a_year_in_a_maturity_table(gs_svc):
    answer, _ = table_answer(
        gs_svc, "What percentage of future minimum rental payments are due in 2017?"
    )
    assert answer is not None and answer.value == 14.94
    assert "290 / 1941 * 100" in answer.answer
    none, _ = table_answer(
        gs_svc, "What percentage of future minimum rental payments are due in 2030?"
    )
    assert none is None  # no row for that year


def test_the_difference_between_two_people_in_one_year(rows_svc):
    q = (
        "What is the difference between the maximum possible value of PSUs in 2018 between Oleg "
        "Khaykin and Amar Maletira?"
    )
    answer, _ = table_answer(rows_svc, q)
    assert answer is not None and answer.value == 909900 - 454950
    assert "Oleg Khaykin > 2018 909,900; Amar Maletira > 2018 454,950" in answer.answer
    assert "909900 - 454950" in answer.answer


@pytest.fixture(scope="module")
def release_svc(tmp_path_factory):
    """Amcor's fiscal 2023 fourth-quarter earnings release: its non-GAAP reconciliation for the
    three months (p.11) and the twelve months (p.12) print the same rows."""
    root = tmp_path_factory.mktemp("release")
    source = REPORTS / "financebench/AMCOR_2023Q4_EARNINGS.pdf"
    return indexed_services(
        root, [excerpt(source, [1, 11, 12], root / "AMCOR_2023Q4_EARNINGS.pdf")]
    )


def test_a_metric_printed_as_a_row_for_the_year_or_the_quarter_asked(release_svc):
    """ "Adjusted EBITDA" is a metric the statements would compute, but here it is printed: the
    row the question quotes answers, the twelve months' table for a fiscal year ("FY2023" is
    when, not a word of the row) and the three months' when those are asked; a row the question
    does not quote whole is no answer for a metric."""
    year, _ = table_answer(release_svc, "What was Amcor's adjusted EBITDA in FY2023?")
    assert year is not None and "2,018" in year.answer and year.citations[0].page == 3
    quarter, _ = table_answer(
        release_svc, "What was Amcor's adjusted EBITDA for the three months ended June 30, 2023?"
    )
    assert quarter is not None and "540" in quarter.answer and quarter.citations[0].page == 2
    assert table_answer(release_svc, "What was Amcor's EBITDA margin in FY2023?")[0] is None


@pytest.fixture(scope="module")
def bank_svc(tmp_path_factory):
    """FNCB Bancorp's 2022 annual report (ERC): selected financial highlights, five years."""
    root = tmp_path_factory.mktemp("bank")
    source = REPORTS / "erc_round2/23b2c590c4887dfb86761730dd7156fe3b216ab7.pdf"
    return indexed_services(root, [excerpt(source, [1, 2, 3], root / "fncb_2022.pdf")])


def test_a_ratio_the_question_names_is_read_from_a_row_of_percentages(bank_svc):
    """ "The value of the non-performing loan ratio (NPL)": a measure printed as a row of
    percentages ("Non-performing loans/total loans"), not a computation and not the row of
    amounts with the same words; "(NPL)" restates the words before it; no year asked: the
    report's own year (2022, the column its tables lead with)."""
    question = (
        "For FNCB Bancorp, Inc., what was the value of Non-performing loan ratio (NPL) at "
        "year-end at the end of the period listed in annual report? If data is not available, "
        "return 'N/A'."
    )
    answer, _ = table_answer(bank_svc, question)
    assert answer is not None and "0.25%" in answer.answer and "(2022)" in answer.answer
    assert answer.citations[0].page == 2
    # an operation on it is still a computation the rows do not name
    change = "What was the difference between the non-performing loan ratio and the net interest margin in 2022?"
    assert table_answer(bank_svc, change)[0] is None
