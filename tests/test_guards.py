"""The guards between a small model and the user, without a model: refusal wording, recording a
number that is on none of the cited pages, the shape of a planned calculation, the relevance gate's
terms, and the evaluation's stratified sample."""

from __future__ import annotations

import json

from backend.answering.answer import (
    Answer,
    Citation,
    finish_answer,
    is_refusal,
)
from backend.answering.plan import QueryPlan
from backend.answering.planner import calc_answer
from backend.answering.retrieval import Passage, evidence_coverage, nothing_relevant
from backend.answering.route import Route, analyse, expression_fits
from backend.evaluation.runner import load_items, stratified_sample


def passage(text: str, page: int = 2) -> Passage:
    return Passage(f"d:{page}:0", "d", "r.pdf", page, text, "", "", "Acme Inc.", 2019, 1.0)


def route(**kw) -> Route:
    base = dict(
        items=[], metric=None, scope="consolidated", compute=True, change=False, average=False,
        compare=False, decimals=2,
    )  # fmt: skip
    return Route(**{**base, **kw})


def test_refusal_wordings_of_small_models_are_recognised():
    for text in [
        "N/A",
        "N/A [r.pdf p.2]",
        "The names are not provided in the given sources.",
        "The sources do not mention any new products.",
        "在已索引的报告中未找到相关信息。",
    ]:
        assert is_refusal(text), text
    assert not is_refusal("Net sales were $4,112,601 thousand [r.pdf p.2].")


def test_an_answer_records_the_numbers_on_no_cited_page():
    src = [passage("Net sales 4,112,601 3,948,624 (in thousands)")]
    wrong = finish_answer(Answer("q", ""), "The market share was 62.41% [1].", src, language="en")
    assert wrong.unverified_numbers == ["62.41%"]
    right = finish_answer(
        Answer("q", ""), "Net sales were $4,112,601 thousand [1].", src, language="en"
    )
    assert not right.refused and right.citations == [
        Citation("d", "r.pdf", 2, right.citations[0].snippet)
    ]


def test_a_planned_calculation_must_have_the_shape_the_question_asks_for():
    assert expression_fits("(782 - 225) / 225 * 100", route(average=True))
    assert not expression_fits("(782 + 225) / 2", route(average=True))
    assert expression_fits("782 / 225", route(change=True))
    assert not expression_fits("(34400 - 36800) / 36800 * 100", route(change=True))
    assert not expression_fits("-5 + 3 - 1", route(change=True))
    assert not expression_fits("1795 + 918", route())
    # a percentage only where one can be asked: not for a difference, an amount or a plain ratio
    for question, ok in [
        ("What is the difference in base salary between A and B in 2018?", False),
        ("What is the FY2017 operating cash flow ratio for Acme?", False),
        ("What is the FY2020 free cash flow for Acme? Answer in USD millions.", False),
        ("What was the percentage change in revenue?", True),
        ("What is the growth rate in amortization expense in 2009?", True),
        ("What was the effective tax rate?", True),
        ("What was the change in net sales?", True),
        ("2019年营业收入与营业成本的差额是多少？", False),
        ("2019年的毛利率是多少？", True),
    ]:
        planned = analyse(question)
        assert planned.percent_ok is ok, question
        assert bool(expression_fits("(3676 - 8035) / 8035 * 100", planned)) is (not ok), question
        assert not expression_fits("3676 - 8035", planned), question
    # a question that asks why is answered from the sources, not by a planned calculation
    why = analyse("What drove the reduction in SG&A expense as a percent of net sales in FY2023?")
    assert why.reasons and "why" in expression_fits("(762706 - 649968) / 649968 * 100", why)
    assert not expression_fits(
        "(762706 - 649968) / 649968 * 100",
        analyse("What was the percentage change in SG&A expense in FY2023?"),
    )


def test_a_planned_calculation_answers_the_whole_question_with_reported_numbers():
    """A year is no operand, and one figure does not answer "each of 2017, 2018 and 2019"."""

    def checked(question: str, years: list[int], expr: str, value: float, text: str) -> Answer:
        plan = QueryPlan(question, question, "zh" if "年" in question else "en", years, [],
                         None, [])  # fmt: skip
        answer = Answer(question, "")
        result = {"expression": expr, "value": value}
        calc_answer(plan, analyse(question), answer, result, [passage(text)])
        return answer

    q = "What was the percentage change in the number of stores from 2021 to 2022?"
    stores = "Number of stores 2022 2021\nStores at year end 1,167 925"
    year_op = checked(q, [2021, 2022], "(2022 - 2021) / 2021 * 100", 0.0495, stores)
    assert not year_op.answer and year_op.trace[-1]["shape"].startswith("a year")
    unasked = checked(q.replace(" from 2021 to 2022", ""), [], "(2022 - 2021) / 2021 * 100",
                      0.0495, stores)  # fmt: skip
    assert not unasked.answer and unasked.trace[-1]["shape"].startswith("a year")
    right = checked(q, [2021, 2022], "(1167 - 925) / 925 * 100", 26.1622, stores)
    assert right.answer.startswith("The answer is 26.16%") and right.citations
    zh = (
        "航天电器2017、2018、2019年度现金分红金额占归属于上市公司普通股股东净利润的比率分别是多少？"
    )
    dividends = "分红年度 现金分红金额 归属于上市公司普通股股东的净利润\n2018年 64,350,000.00 358,950,104.80"
    one_of_three = checked(
        zh, [2017, 2018, 2019], "(64350000 / 358950104.80) * 100", 17.93, dividends
    )
    assert not one_of_three.answer and "several years" in one_of_three.trace[-1]["shape"]
    one = checked(zh.replace("2017、2018、2019", "2018"), [2018], "(64350000 / 358950104.80) * 100",
                  17.9273, dividends)  # fmt: skip
    assert one.answer.startswith("计算结果为17.93%")


def test_relevance_gate_ignores_possessives_fiscal_years_and_instructions():
    q = (
        "What is Adobe's year-over-year change in unadjusted operating income from FY2015 to "
        "FY2016 (in units of percents and round to one decimal place)?"
    )
    src = [passage("CONSOLIDATED STATEMENTS OF INCOME Operating income 1,493,602 903,095")]
    terms, found = evidence_coverage(q, src, names=["Adobe Systems Incorporated", "Adobe"])
    assert terms == ["operating"] and found == ["operating"]
    assert not nothing_relevant(q, src, ["Adobe"])
    # Chinese: a term counts when its first two characters are on the page (研发经费 ~ 研发费用)
    zh = [passage("研发费用 100,209,482.50 净利润 1,048,976,368.69")]
    assert not nothing_relevant("华锦股份2019年的研发经费与利润的比值是多少？", zh, ["华锦股份"])
    assert nothing_relevant("What was the non-performing loan balance of the bank?", src)
    # a conditional instruction is what to do when, not what is asked: its words are no terms
    npl = [passage("Non-performing loans to total loans 0.25 % 0.31 %")]
    asked = (
        "For FNCB Bancorp, Inc., what was the value of Non-performing loan ratio (NPL) at "
        "year-end? If data is not available, return 'N/A'."
    )
    terms, found = evidence_coverage(asked, npl, names=["FNCB Bancorp, Inc."])
    assert "available" not in terms and {"non-performing", "loan"} <= set(found)
    assert not nothing_relevant(asked, npl, ["FNCB Bancorp, Inc."])


def test_stratified_sample_interleaves_question_types(tmp_path):
    rows = [{"id": f"{t}{i}", "question": "q", "question_type": t} for t in "abc" for i in range(5)]
    qa = tmp_path / "qa.jsonl"
    qa.write_text("".join(json.dumps(r) + "\n" for r in rows))
    items = load_items(qa)
    picked = stratified_sample(items, 6, seed=1)
    assert [p["question_type"] for p in picked] == ["a", "b", "c", "a", "b", "c"]
    assert stratified_sample(items, 6, seed=1) == picked  # seeded
    assert len({p["id"] for p in picked}) == 6
    assert stratified_sample(items, 99) == items
