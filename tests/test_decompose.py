"""Every part of a multi-part question, with real components: excerpts of real reports indexed
into a real Chroma with the facts extracted at ingestion (as in ``test_agent.py``).

The splitter is a pure function of the question's plan and route; the agent answers each part by
the facts route (then the table route) and writes one table whose every cell cites its page, the
changes with their calculations, and a sentence naming each part not found. A single-part
question takes the route it took before.
"""

from __future__ import annotations

import re

import pytest

from backend.answering.decompose import figures_in, split, sub_question
from backend.answering.plan import QueryPlan
from backend.answering.route import analyse
from tests.conftest import HUAJIN_2019, REPORTS, indexed_services
from tests.pdfmaker import excerpt

NETFLIX = REPORTS / "financebench/NETFLIX_2017_10K.pdf"
WEIS = REPORTS / "erc_round2/31a60b930e0f1034afff6e2d1e406e7d9141b2a1.pdf"
HUAJIN = "北方华锦化学工业股份有限公司"
_TAG = re.compile(r"\[[^\]]+ p\.\d+\]")


def _plan(question: str, company: str, names: list[str], language: str = "en") -> QueryPlan:
    """The plan of a question about one indexed company (what the retriever's planner finds)."""
    from backend.answering.plan import years_in

    return QueryPlan(
        question=question,
        original=question,
        language=language,
        years=years_in(question),
        company_docs=["d1"],
        doc_ids=["d1"],
        companies=[company],
        named=1,
        names=names,
    )


def _split(question: str, company: str = "3M Company", names=("3M Company", "3M"), lang="en"):
    plan = _plan(question, company, list(names), lang)
    return split(plan, analyse(question))


# -- the splitter (pure) ----------------------------------------------------------------------
def test_items_times_a_year_range_as_a_table():
    s = _split("3M net sales, operating income and net income for 2016–2018 as a table")
    assert s is not None and not s.change and not s.facts_first
    assert [f.key for f in s.figures] == ["revenue", "operating_income", "net_income"]
    assert s.years == [2016, 2017, 2018]  # the range in full: nine parts


def test_a_figure_and_its_change_is_the_facts_routes_question_first():
    """One figure and how it changed between two years: the facts route's metric-change answer
    states both years and the change, so it is asked first; its parts are the fallback."""
    s = _split("What was 3M's gross margin in 2018 and how did it change from 2017?")
    assert s is not None and s.change and s.facts_first
    assert [f.key for f in s.figures] == ["gross_margin"] and s.years == [2017, 2018]
    zh = _split("华锦股份2019年毛利率与2018年比较", HUAJIN, [HUAJIN, "华锦股份"], "zh")
    assert zh is not None and zh.change and zh.facts_first
    assert [f.key for f in zh.figures] == ["gross_margin"] and zh.years == [2018, 2019]


def test_chinese_items_of_a_list_do_not_qualify_each_other():
    """ "营业收入和净利润": the first item is not a qualifier of the second ("柴油机营业收入" is)."""
    s = _split(
        "华锦股份2019年和2018年的营业收入和净利润分别是多少？", HUAJIN, [HUAJIN, "华锦股份"], "zh"
    )
    assert s is not None and [f.key for f in s.figures] == ["revenue", "net_income"]
    assert s.years == [2018, 2019] and not s.change
    assert _split("华锦股份2019年柴油机营业收入和净利润是多少？", HUAJIN, [HUAJIN], "zh") is None


def test_a_change_of_several_items_from_the_year_before():
    s = _split("What were 3M's revenue and net income in 2018, and how did they change?")
    assert s is not None and s.change and not s.facts_first
    assert s.years == [2017, 2018]  # one year's change is from the year before


@pytest.mark.parametrize(
    "question",
    [
        "What was 3M's revenue in FY2018?",  # one figure
        "What was 3M's revenue growth rate from 2017 to 2018?",  # a growth rate is one figure
        "What is 3M's FY2018 working capital ratio? Define working capital ratio as total "
        "current assets divided by total current liabilities.",  # one metric, its inputs named
        "What is the total gross profit altogether for years ended December 31, 2017 and 2018?",
        "Why did 3M's revenue and net income increase in 2018?",  # a reason asked
        "What was 3M's average revenue in 2017 and 2018?",  # one computation
        "What were 3M's segment revenue and net income in 2017 and 2018?",  # a qualified item
        "What was 3M's revenue in 2017 and 2018, and what drove it?",  # a part that is no figure
    ],
)
def test_single_part_or_one_computation_is_not_split(question):
    assert _split(question) is None


def test_one_figure_across_companies_is_the_facts_routes_comparison():
    plan = _plan("Compare the net income of 3M and Netflix in 2017.", "3M", ["3M", "Netflix"])
    plan.companies, plan.named = ["3M Company", "Netflix, Inc."], 2
    assert split(plan, analyse(plan.question)) is None
    plan.question = "Compare the revenue and net income of 3M and Netflix in 2017."
    s = split(plan, analyse(plan.question))
    assert s is not None and s.companies == ["3M Company", "Netflix, Inc."] and s.years == [2017]


def test_a_parenthesised_item_is_part_of_the_figure_asked():
    q = "建新股份2019年合并利润表中“净利润”项目（含少数股东损益）的金额是多少元？"
    assert [f.key for f in figures_in(q)] == ["net_income"]


def test_sub_questions_name_one_figure_one_year_one_company():
    [fig] = figures_in("net income")
    assert sub_question(fig, 2017, "Netflix, Inc.", "en") == (
        "What was the net income of Netflix, Inc. in FY2017?"
    )
    [zh] = figures_in("净利润")
    assert sub_question(zh, 2019, "华锦股份", "zh") == "华锦股份2019年净利润是多少？"


# -- the agent, end to end --------------------------------------------------------------------
@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    root = tmp_path_factory.mktemp("decompose")
    files = [
        excerpt(NETFLIX, [1, 42, 44, 45], root / "netflix_2017_10k_excerpt.pdf"),
        excerpt(WEIS, [1, 3, 4, 24, 25, 28], root / "weis_2022_10k_excerpt.pdf"),
        excerpt(HUAJIN_2019, [1, 2, 46, 47, 48, 51, 54], root / "华锦股份_2019_年报_excerpt.pdf"),
    ]
    return indexed_services(root, files)


def _fact(svc, company, item, year):
    return svc.facts.best(company=company, item=item, year=year)


def _table_rows(text: str) -> dict[str, list[str]]:
    rows = [line.strip("|").split("|") for line in text.splitlines() if line.startswith("|")]
    return {r[0].strip(): [c.strip() for c in r[1:]] for r in rows[2:]}


def test_items_by_years_is_one_table_with_every_cell_cited(svc):
    a = svc.chat.ask("Netflix's revenues, operating income and net income for 2015–2017 as a table")
    assert a.route == "parts" and not a.refused and "no model" in a.model
    rows = _table_rows(a.answer)
    assert list(rows) == ["Revenues", "Operating income", "Net income"]
    company = a.trace[0]["companies"][0]  # as ingestion detected it
    for row, item in zip(rows.values(), ["revenue", "operating_income", "net_income"], strict=True):
        assert len(row) == 3
        for cell, year in zip(row, [2015, 2016, 2017], strict=True):
            tags = _TAG.findall(cell)
            assert tags, cell  # every cell carries its page
            f = _fact(svc, company, item, year) or _fact(svc, company, "net_income_parent", year)
            assert f"{f.value:,.0f}" in cell
            page = int(tags[0].rsplit("p.", 1)[1].rstrip("]"))
            assert f"{f.value:,.0f}" in svc.catalog.page_text(a.citations[0].doc_id, page)
    assert "Not found" not in a.answer
    assert a.value == _fact(svc, company, "revenue", 2015).value
    assert any(s.get("step") == "parts" and len(s["parts"]) == 9 for s in a.trace)
    assert {t["tool"] for t in a.trace if t.get("step") == "tool"} == {"get_fact"}


def test_a_part_not_in_the_reports_is_named(svc):
    """The 2017 10-K's statements go back to 2015: 2014 is named as not found, never dropped or
    guessed, and the figures that are found are still answered."""
    a = svc.chat.ask("What were Netflix's revenues and net income in 2014 and 2017?")
    assert a.route == "parts" and not a.refused
    rows = _table_rows(a.answer)
    assert rows["Revenues"][0] == "—" and _TAG.search(rows["Revenues"][1])
    assert "Not found in the indexed reports: Revenues FY2014; Net income FY2014." in a.answer
    assert {"part": "Revenues FY2014", "found": False} in a.parts


def test_changes_of_several_items_are_calculated_and_shown(svc):
    a = svc.chat.ask(
        "What were Netflix's revenues and net income in 2017, and how did they change?"
    )
    assert a.route == "parts"
    calcs = [t for t in a.trace if t.get("step") == "tool" and t["tool"] == "calculate"]
    assert len(calcs) == 4  # the difference and the percent change of each item
    assert "(11692713 - 8830669) / 8830669 * 100 = 32.41%" in a.answer
    assert a.value == pytest.approx(11692713 - 8830669)  # "how did it change": the difference


def test_chinese_items_by_years(svc):
    a = svc.chat.ask("华锦股份2019年和2018年的资产总计和负债合计分别是多少？")
    assert a.route == "parts" and not a.refused
    rows = _table_rows(a.answer)
    assert list(rows) == ["资产总计", "负债合计"]
    for row, item in zip(rows.values(), ["total_assets", "total_liabilities"], strict=True):
        for cell, year in zip(row, [2018, 2019], strict=True):
            f = _fact(svc, HUAJIN, item, year)
            assert f is not None and f"{f.value:,.2f}" in cell and _TAG.search(cell)


def test_several_items_of_several_companies(svc):
    """Each company's cells come from its own report, its latest year when none is asked."""
    a = svc.chat.ask("Compare the revenues and net income of Weis Markets and Netflix.")
    assert a.route == "parts"
    rows = _table_rows(a.answer)
    assert "125,196" in rows["Net income"][1] or "125,196" in rows["Net income"][0]
    assert any("558,929" in cell for cell in rows["Net income"])
    assert {c.file for c in a.citations} == {
        "weis_2022_10k_excerpt.pdf",
        "netflix_2017_10k_excerpt.pdf",
    }


def test_a_figure_and_its_change_still_takes_the_facts_route(svc):
    """The issue's example shape: the facts route answers both years and the change at once."""
    a = svc.chat.ask("What was Netflix's operating margin in 2017 and how did it change from 2016?")
    assert a.route == "facts"
    assert "FY2016" in a.answer and "FY2017" in a.answer and "percentage points" in a.answer


@pytest.mark.parametrize(
    ("question", "route"),
    [
        ("What was Weis Markets' net income in FY2022?", "facts"),
        ("How much did Netflix's revenue grow from FY2016 to FY2017?", "facts"),
        ("华锦股份2019年的资产负债率是多少？", "facts"),
    ],
)
def test_a_single_part_question_takes_its_old_route(svc, question, route):
    a = svc.chat.ask(question)
    assert a.route == route
    assert not any(s.get("step") == "parts" for s in a.trace)
