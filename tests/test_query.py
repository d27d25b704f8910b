"""Question analysis: company/year detection, document choice, follow-up rewriting, and the
routing rule (which questions the facts route answers)."""

import pytest

from backend.answering.answer import Answer
from backend.answering.facts_route import FactsRoute
from backend.answering.plan import (
    CompanyIndex,
    language_of,
    plan_query,
    rewrite_follow_up,
    years_in,
)
from backend.answering.route import analyse, takes_facts_route
from backend.answering.tools import ToolCall
from backend.domain.calculator import calculate
from backend.domain.metrics import find_metric
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


@pytest.mark.parametrize(
    ("question", "absent"),
    [
        ("Did 3M mention any acquisitions? If there is no mention, return False.", "False"),
        ("Did 3M mention any acquisitions? if it is not mentioned, answer 'no'", "No"),
        ("What was 3M's revenue? If data is not available, return 'N/A'.", ""),
    ],
)
def test_how_to_answer_an_absence_is_taken_off_the_question(question, absent):
    plan = plan_query(question, INDEX)
    assert plan.question == question.split("?")[0] + "?" and plan.if_absent == absent
    assert not plan.rewritten
    kept = "What was 3M's revenue? If data is not available in this currency, return 'N/A'."
    assert plan_query(kept, INDEX).question == kept  # a condition of its own is kept


def test_keyword_search_within_a_companys_reports_leaves_out_its_name():
    """Within the reports of the company a question names, its name matches page after page:
    keyword search reads the rest (an unscoped search, or another company's name, keeps it)."""
    from backend.answering.retrieval import _without_names

    q = "Did Best Buy mention any acquisitions? What did 3M say?"
    assert (
        _without_names(q, ["d1", "d2"], INDEX) == "Did mention any acquisitions? What did 3M say?"
    )
    assert _without_names(q, ["a1", "d2"], INDEX) == "Did mention any acquisitions? What did say?"
    assert _without_names("华锦股份的营业收入", ["c1"], INDEX) == "的营业收入"
    assert _without_names("3M", ["a1"], INDEX) == "3M"  # nothing else to search: kept whole


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


def facts_route(question: str, index: CompanyIndex = INDEX, doc_filter=None) -> bool:
    plan = plan_query(question, index, doc_filter=doc_filter)
    return takes_facts_route(plan, analyse(plan.question))


@pytest.mark.parametrize(
    "question",
    [
        "What was 3M's operating margin in 2018?",
        "What is 3M's FY2018 gross margin?",
        "What is the FY2018 gross margin for 3M Company?",
        "What was 3M's consolidated gross margin in fiscal 2018?",
        "What was 3M's gross margin for the year ended December 31, 2018?",
        "What is the three year average gross margin of 3M from 2016 to 2018?",
        "What is 3M's FY2018 return on equity (ROE)?",
        "What is 3M's FY2018 days sales outstanding?",  # "sales" is inside the metric's name
        "Has 3M's quick ratio improved between FY2017 and FY2018?",
        "How did 3M's gross margin change from 2017 to 2018?",
        "Does 3M have an improving gross margin profile as of FY2018? If gross margin is not a "
        "useful metric for a company like this, then state that and explain why.",
        "What is 3M's FY2018 working capital ratio? Define working capital ratio as total current "
        "assets divided by total current liabilities.",
        "What was 3M's revenue in 2018?",
        "What was 3M's revenue for the fiscal year ended 31 Dec. 2018?",
        "What was the 3M Group's revenue for FY 2018, in USD millions?",
        "What was 3M's gross margin in 2018 versus 2017?",
        "华锦股份2019年的毛利率是多少？",
        "华锦股份2019年整体毛利率是多少？",
        "2019年华锦股份的流动比率是多少？",
        "北方华锦化学工业股份有限公司2019年的企业研发经费与营业收入的比值是多少？",
        "华锦股份2019年年报中的营业收入是多少？",
    ],
)
def test_the_facts_route_answers_the_company_wide_item_or_metric(question):
    assert facts_route(question), question


@pytest.mark.parametrize(
    "question",
    [
        "What was the gross margin of the Consumer segment in 2018?",
        "What was 3M's operating margin in Asia Pacific in 2018?",
        "What was 3M's healthcare gross margin in 2018?",
        "What was 3M's gross margin in Q4 2018?",
        "What was 3M's operating margin excluding special items in 2018?",
        "What was 3M's adjusted EBITDA margin in 2018?",
        "What was 3M's non-GAAP operating margin in 2018?",
        "What was 3M's revenue per employee in 2018?",
        "What was 3M's net income per share in 2018?",
        "What were 3M's footwear revenues in 2018?",
        "What was 3M's revenue for the nine months ended September 30, 2018?",
        "华锦股份化工产品的毛利率是多少？",
        "华锦股份2019年化工产品毛利率是多少？",
        "华锦股份2019年尿素的毛利率是多少？",
        "华锦股份2019年的加权平均净资产收益率是多少？",  # reported, not our formula
        "华锦股份2019年化工板块的营业收入是多少？",
        "华锦股份2019年柴油机营业收入是多少？",
    ],
)
def test_a_qualifier_the_line_or_metric_lacks_keeps_the_question_off_the_facts_route(question):
    assert not facts_route(question), question


def test_routes_of_dev_questions_asked_with_their_report():
    """Questions of the development set whose route the metric qualifier rule changed, asked as
    the evaluation asks them (the report selected)."""
    docs = [
        Document("am", "AMCOR_2023_10K.pdf", company="Amcor PLC", aliases=["Amcor"],
                 fiscal_year=2023, report_type="10-K"),
        Document("ip", "inpixon_2019.pdf", company="Inpixon", fiscal_year=2019,
                 report_type="10-K"),
        Document("lw", "lifeway-foods-inc_2019.pdf", company="Lifeway Foods, Inc.",
                 aliases=["Lifeway Foods"], fiscal_year=2019, report_type="10-K"),
    ]  # fmt: skip
    index = CompanyIndex.build(docs)
    # the company's adjusted (non-GAAP) figure is not EBITDA computed from the statements
    assert not facts_route("What Was AMCOR's Adjusted Non GAAP EBITDA for FY 2023", index, ["am"])
    assert facts_route("Has AMCOR's quick ratio improved or declined between FY2023 and FY2022?",
                       index, ["am"])  # fmt: skip
    # "respectively" and "year ended December 31" leave the statement line as it is
    assert facts_route(
        "What was the Cash and cash equivalents in 2019 and 2018 respectively?", index, ["ip"]
    )
    assert facts_route("What is the Cost of goods sold for year ended December 31, 2018?",
                       index, ["lw"])  # fmt: skip
    assert not facts_route("What is net sales from cheese in 2018 and 2019 respectively?",
                           index, ["lw"])  # fmt: skip


def test_a_legal_name_in_the_possessive_and_a_line_named_total_are_plain_lookups():
    """ "Amazon.com, Inc.'s revenue" names the owner, not a kind of revenue; "负债合计" is the
    statement line's own name, not a sum to compute."""
    docs = [Document("am17", "AMAZON_2017_10K.pdf", company="Amazon.com, Inc.",
                     fiscal_year=2017, report_type="10-K")]  # fmt: skip
    index = CompanyIndex.build(docs)
    assert facts_route("What was Amazon.com, Inc.'s revenue in 2017?", index, ["am17"])
    assert not facts_route("What was Amazon.com, Inc.'s North America revenue in 2017?", index)
    route = analyse("华锦股份2019年负债合计是多少？")
    assert route.items == ["total_liabilities"] and not route.compute
    assert facts_route("华锦股份2019年负债合计是多少？")
    assert analyse("华锦股份2019年营业收入和营业成本合计是多少？").compute  # a sum of two lines


def test_the_company_may_be_called_by_a_name_the_index_lacks():
    """With its report selected, the company may be written as "Coca Cola" or "AMEX": a name's
    parts and a possessive owner are not qualifiers; a qualifier after the owner still is."""
    docs = [
        Document("ko", "COCACOLA_2017_10K.pdf", company="The Coca-Cola Company", fiscal_year=2017,
                 report_type="10-K"),
        Document("ax", "AMEX_2022_10K.pdf", company="American Express Company", fiscal_year=2022,
                 report_type="10-K"),
    ]  # fmt: skip
    index = CompanyIndex.build(docs)
    assert facts_route("What is the FY2017 Coca Cola gross margin?", index, ["ko"])
    assert facts_route("What is Coca Cola's FY2017 return on assets?", index, ["ko"])
    assert facts_route("What is AMEX's FY2022 operating margin?", index, ["ax"])
    assert not facts_route("What is AMEX's FY2022 card member loans revenue?", index, ["ax"])


@pytest.mark.parametrize(
    "question",
    [
        "What drove 3M's gross margin change in 2018?",
        "Why did 3M's operating margin decline in 2018?",
        "Explain the change in 3M's gross margin from 2017 to 2018.",
        "What factors contributed to the increase in 3M's net income in 2018?",
        "What was the impact of the tax reform on 3M's effective tax rate in 2018?",
        "华锦股份2019年毛利率下降的原因是什么？",
        "华锦股份毛利率下降的原因",
        "为什么华锦股份2019年的净利润减少了？",
        "If 3M's revenue grew in 2018, why did its gross margin fall?",
    ],
)
def test_a_question_that_asks_why_is_not_answered_by_a_number(question):
    """The facts route writes a figure; "what drove …" asks for the reasons, which the model
    writes from the cited passages."""
    assert not facts_route(question), question


@pytest.mark.parametrize(
    "question",
    [
        # "explain why" inside a condition is asked only if the metric is not useful
        "Roughly how many times has 3M sold its inventory in FY2018? Calculate inventory turnover "
        "ratio for FY2018; if conventional inventory management is not meaningful for the "
        "company then state that and explain why.",
        "Does 3M have positive working capital based on FY2018 data? If working capital is not a "
        "useful or relevant metric for this company, then please state that and explain why.",
        "How does 3M's effective tax rate in FY2018 compare to FY2017?",
    ],
)
def test_a_conditional_explain_why_leaves_the_figure_on_the_facts_route(question):
    assert facts_route(question), question


def test_cash_conversion_cycle_is_its_own_metric():
    """ "cash conversion cycle" is DIO + DSO - DPO in days, not the "cash conversion" metric
    (operating cash flow over net income) whose name it contains."""
    ccc = find_metric("What is 3M's FY2018 cash conversion cycle (CCC)?")
    assert ccc is not None and ccc.key == "cash_conversion_cycle" and ccc.unit == "days"
    assert find_metric("华锦股份2019年的现金转换周期是多少？") is ccc
    assert find_metric("What was 3M's cash conversion in 2018?").key == "cash_conversion"
    assert dict(ccc.mentions()) == {
        "inventory": 1,
        "cost_of_revenue": 2,
        "accounts_receivable": 1,
        "revenue": 1,
        "accounts_payable": 1,
    }
    assert facts_route("What is 3M's FY2018 cash conversion cycle?")


_CCC = (
    "What is 3M's FY2018 cash conversion cycle? CCC is defined as: DIO + DSO - DPO. DIO is defined "
    "as: 365 * (average inventory between FY2017 and FY2018) / (FY2018 COGS). DSO is defined as: "
    "365 * (average accounts receivable between FY2017 and FY2018) / (FY2018 Revenue). DPO is "
    "defined as: 365 * (average accounts payable between FY2017 and FY2018) / (FY2018 COGS{})."
)


def test_a_definition_with_an_extra_term_is_another_formula():
    """The same items are not the same formula: DPO over "COGS + change in inventory" (purchases)
    names inventory once more than our DPO over COGS, and gives another number — the question's
    own formula is computed (read into statement items), or, where it cannot be read (a change
    without its years), the question is not the facts route's."""
    assert analyse(_CCC.format("")).metric.key == "cash_conversion_cycle"
    purchases = analyse(_CCC.format(" + change in inventory between FY2017 and FY2018"))
    assert purchases.metric.key == "written"
    assert "(inventory - inventory@-1)" in purchases.metric.formula
    assert facts_route(_CCC.format(" + change in inventory between FY2017 and FY2018"))
    assert not facts_route(
        "What is 3M's FY2018 days payable outstanding? DPO is defined as: 365 * (average "
        "accounts payable between FY2017 and FY2018) / (FY2018 COGS + change in inventory)."
    )
    assert facts_route(
        "What is 3M's FY2018 inventory turnover ratio? Inventory turnover ratio is defined as: "
        "(FY2018 COGS) / (average inventory between FY2017 and FY2018)."
    )


@pytest.mark.parametrize(
    ("question", "facts"),
    [
        ("What was 3M's interest coverage ratio using FY2018 Adjusted EBIT as the numerator and "
         "annual Interest Expense as the denominator?", False),
        ("What was 3M's interest coverage ratio in 2018 using EBITDA?", False),
        ("What was 3M's interest coverage ratio in 2018 based on EBIT?", False),
        ("What is 3M's FY2018 operating margin using segment operating income?", False),
        ("What is 3M's FY2018 net margin using net income and total assets?", False),
        ("What was 3M's interest coverage ratio in 2018 using operating income and interest "
         "expense?", True),
        ("What is the FY2018 unadjusted EBITDA % margin for 3M? Calculate unadjusted EBITDA "
         "using unadjusted operating income and D&A (from cash flow statement).", True),
        ("What is the FY2018 retention ratio (using total cash dividends paid and net income "
         "attributable to shareholders) for 3M?", True),
        ("Using only the information within the balance sheet, what is 3M's FY2018 current "
         "ratio?", True),
    ],
)  # fmt: skip
def test_inputs_named_with_using_must_be_the_formulas_own(question, facts):
    """ "using Adjusted EBIT" names an input our formula (operating income / interest expense)
    does not use: the stored formula would answer another question."""
    assert facts_route(question) is facts, question


@pytest.mark.parametrize(
    ("question", "facts"),
    [
        ("Did 3M's wages expense as a percent of net sales increase or decrease in FY2018?", False),
        ("What were 3M's freight costs as a % of revenue in 2018?", False),
        ("华锦股份2019年职工薪酬占营业收入的比例是多少？", False),
        ("What was 3M's capex as a % of revenue in FY2018?", True),  # the metric's own name
    ],
)  # fmt: skip
def test_an_unknown_figure_as_a_share_of_an_item_is_not_that_item(question, facts):
    """What is asked is the figure before "as a percent of", not the item after it: the facts
    route must not answer a net sales trend for "wages expense as a percent of net sales"."""
    assert facts_route(question) is facts, question


class _Facts:
    """The tools the facts route calls, over a few statement figures (3M, USD millions)."""

    def __init__(self, values: dict[tuple[str, int], float]) -> None:
        self.values = values

    def call(self, tool: str, args: dict) -> ToolCall:
        if tool == "calculate":
            return ToolCall(tool, args, {"value": calculate(args["expression"]).value})
        value = self.values.get((args["item"], args["year"]))
        rows = [] if value is None else [
            {"doc_id": "a1", "company": args["company"], "year": args["year"],
             "statement": "income", "scope": "consolidated",
             "label": args["item"].replace("_", " ").capitalize(),
             "item": args["item"], "value": value, "scale": 1e6, "unit": "百万",
             "currency": "USD", "page": 50}
        ]  # fmt: skip
        return ToolCall(tool, args, rows)

    def file_name(self, doc_id: str) -> str:
        return "3M_2018_10K.pdf"

    def documents(self, doc_ids) -> list:
        return []


def _facts_answer(question: str, values: dict[tuple[str, int], float]) -> Answer:
    plan = plan_query(question, INDEX)
    route = analyse(plan.question)
    assert takes_facts_route(plan, route)
    answer = Answer(question=question, answer="")
    assert FactsRoute(_Facts(values)).answer(plan, route, answer)  # type: ignore[arg-type]
    return answer


def test_a_metric_takes_the_narrower_input_the_question_names():
    """ "using … net income attributable to shareholders": the formula's net income is the one
    attributable to the company, not the figure including noncontrolling interests; without
    that line (no minority interests) the net income is the company's."""
    question = (
        "What is the FY2018 retention ratio (using total cash dividends paid and net income "
        "attributable to shareholders) for 3M?"
    )
    values = {("net_income", 2018): 1000.0, ("dividends_paid", 2018): -400.0}
    assert _facts_answer(question, values).value == pytest.approx(0.6)
    values[("net_income_parent", 2018)] = 800.0
    answer = _facts_answer(question, values)
    assert answer.value == pytest.approx(0.5)
    assert "Formula: (Net income parent - Dividends paid) / Net income parent." in answer.answer


def test_average_or_change_inside_a_definition_belongs_to_the_formula():
    defined = analyse(
        "What is FY2018 days payable outstanding (DPO) for Walmart? DPO is defined as: 365 * "
        "(average accounts payable between FY2017 and FY2018) / (FY2018 COGS + change in "
        "inventory between FY2017 and FY2018). Round your answer to two decimal places."
    )
    assert not defined.average and not defined.change and defined.definition
    asked = analyse(
        "What is the average ROA for FY2016 and FY2017? ROA is defined as: net income / "
        "(average total assets)."
    )
    assert asked.average


def test_an_items_percent_margin_is_the_item_over_revenue():
    """FinanceBench's "operating income % margin", "D&A (from the cash flow statement) %
    margin": the item over revenue in percent, where the item has no margin metric of its own;
    a margin of ours keeps ours, and a margin not over an item is none."""
    margin = analyse("What is Corning's FY2019 - FY2021 3 year average operating income % margin?")
    assert margin.metric is not None and margin.metric.formula == "operating_income / revenue * 100"
    assert margin.average and margin.metric.unit == "%"
    da = analyse(
        "What is AMD's FY2015 depreciation and amortization (D&A from cash flow) % margin?"
    )
    assert da.metric is not None and da.metric.formula.startswith("depreciation_amortization /")
    assert analyse("What is 3M's FY2018 gross margin?").metric.key == "gross_margin"
    assert analyse("What is JPM's net interest margin in 2022?").metric is None
    assert analyse("What was Corning's operating income in 2020?").metric is None
