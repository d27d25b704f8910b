"""Question analysis: company/year detection, document choice, follow-up rewriting."""

from backend.answering.plan import (
    CompanyIndex,
    language_of,
    plan_query,
    rewrite_follow_up,
    years_in,
)
from backend.records import Document

DOCS = [
    Document(
        "a1",
        "3M_2018_10K.pdf",
        company="3M Company",
        aliases=["3M"],
        fiscal_year=2018,
        report_type="10-K",
    ),
    Document(
        "a2",
        "3M_2022_10K.pdf",
        company="3M Company",
        aliases=["3M"],
        fiscal_year=2022,
        report_type="10-K",
    ),
    Document(
        "b1", "AMEX.pdf", company="American Express Company", fiscal_year=2022, report_type="10-K"
    ),
    Document(
        "b2",
        "AWK.pdf",
        company="American Water Works Company, Inc.",
        fiscal_year=2021,
        report_type="10-K",
    ),
    Document(
        "c1",
        "hj.pdf",
        company="北方华锦化学工业股份有限公司",
        aliases=["华锦股份"],
        fiscal_year=2019,
        report_type="年度报告",
        language="zh",
    ),
    Document(
        "d1", "BBY_10Q.pdf", company="Best Buy Co., Inc.", fiscal_year=2023, report_type="10-Q"
    ),
    Document(
        "d2", "BBY_10K.pdf", company="Best Buy Co., Inc.", fiscal_year=2023, report_type="10-K"
    ),
]
INDEX = CompanyIndex.build(DOCS)


def test_years_and_language():
    assert years_in("What was FY2018 capex vs fiscal 2017 and FY'19?") == [2017, 2018, 2019]
    assert years_in("华锦股份2019年的净利润") == [2019]
    assert years_in("What is 1,2018.5 units?") == []
    assert language_of("华锦股份2019年的净利润是多少？") == "zh"
    assert language_of("What was 3M's revenue?") == "en"


def test_companies_by_name_alias_and_distinctive_word():
    assert INDEX.companies_in("What was 3M's capex in FY2018?") == ["a1", "a2"]
    assert INDEX.companies_in("北方华锦化学工业股份有限公司的研发费用") == ["c1"]
    assert INDEX.companies_in("华锦股份2019年净利润") == ["c1"]
    assert INDEX.companies_in("American Express operating margin") == ["b1"]
    # "American" is shared by two companies: it alone names neither
    assert INDEX.companies_in("American revenue") == []


def test_plan_prefers_the_report_of_the_year_asked():
    plan = plan_query("What was 3M's capital expenditure in FY2018?", INDEX)
    assert plan.doc_ids == ["a1"] and plan.years == [2018]
    plan = plan_query("What was 3M's revenue in FY2021?", INDEX)  # covered by the 2022 10-K
    assert plan.doc_ids == ["a2"]
    plan = plan_query("Best Buy revenue in fiscal 2023", INDEX)
    assert plan.doc_ids == ["d2"]  # the annual report, not the 10-Q
    plan = plan_query("Best Buy revenue in the second quarter of fiscal 2023", INDEX)
    assert plan.doc_ids == ["d1"]


def test_unknown_company_is_detected():
    assert plan_query("What was Apple's revenue in 2019?", INDEX).unknown_company
    assert plan_query("苹果股份有限公司的营业收入是多少？", INDEX).unknown_company
    assert not plan_query("What was 3M's revenue in 2018?", INDEX).unknown_company
    assert not plan_query(
        "What is the average real estate taxes for 2018 and 2019?", INDEX
    ).unknown_company


def test_document_filter_wins():
    plan = plan_query("What were the real estate taxes?", INDEX, doc_filter=["b2"])
    assert plan.doc_ids == ["b2"]


def test_follow_up_rewriting():
    first = "What was 3M's capital expenditure in FY2018?"
    assert rewrite_follow_up("and in 2017?", [first], INDEX) == (
        "What was 3M's capital expenditure in FY2017?"
    )
    out = rewrite_follow_up("What about its net income?", [first], INDEX)
    assert "3M" in out and "2018" in out
    # a complete question is left alone
    q = "What was American Express's revenue in 2022?"
    assert rewrite_follow_up(q, [first], INDEX) == q


def test_a_renamed_company_is_one_mention_and_a_comparison_gets_each_report():
    docs = [
        Document("ad16", "ADOBE_2016_10K.pdf", company="Adobe Systems Incorporated",
                 aliases=["Adobe Systems", "Adobe"], fiscal_year=2016, report_type="10-K"),
        Document("ad22", "ADOBE_2022_10K.pdf", company="Adobe Inc.", aliases=["Adobe"],
                 fiscal_year=2022, report_type="10-K"),
        Document("am17", "AMAZON_2017_10K.pdf", company="Amazon.com, Inc.", fiscal_year=2017,
                 report_type="10-K"),
    ]  # fmt: skip
    index = CompanyIndex.build(docs)
    assert [sorted(g) for g in index.mentions("Adobe's operating income in FY2016")] == [
        ["ad16", "ad22"]
    ]
    plan = plan_query("What was Adobe's operating income in FY2016?", index)
    assert plan.named == 1 and plan.doc_ids == ["ad16"]
    assert plan.companies[0] == "Adobe Systems Incorporated"  # the selected report's name first
    both = plan_query("Compare the total assets of Adobe and Amazon in 2016", index)
    assert both.named == 2 and both.doc_ids == ["ad16", "am17"]  # each company's report
