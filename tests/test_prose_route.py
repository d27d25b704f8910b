"""The prose route on real pages: a figure a report states in a sentence once per year ("Rent
charged to operating expense was $244 million for 2016, $249 million for 2015 and $309 million
for 2014."; "… $49.80 billion and $45.19 billion, respectively.") is read with no model — a
value, the years asked, their sum, or a change — and the sentence is quoted and cited. A
sentence that does not name every word of the question's item, a year it lacks, or a ratio it
does not state answer nothing here."""

from __future__ import annotations

import pytest

from backend.answering.answer import Answer
from backend.answering.prose_route import ProseRoute, series
from backend.answering.route import analyse
from backend.answering.tools import search_query
from tests.conftest import REPORTS, indexed_services
from tests.pdfmaker import excerpt

GS = REPORTS / "uda_finqa_tatqa/GS_2016.pdf"
ADI = REPORTS / "uda_finqa_tatqa/ADI_2009.pdf"


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    """Goldman Sachs 2016: loans receivable (p.161), leases and rent (p.183); Analog Devices
    2009: amortization of intangibles (p.59)."""
    root = tmp_path_factory.mktemp("prose")
    gs = excerpt(GS, [1, 161, 183], root / "GS_2016_excerpt.pdf")
    adi = excerpt(ADI, [1, 59], root / "ADI_2009_excerpt.pdf")
    return indexed_services(root, [gs, adi])


def prose_answer(svc, question):
    plan = svc.retriever.plan(question)
    toolbox = svc.agent.toolbox(plan)
    toolbox.call("search_reports", {"query": search_query(plan.question)})
    answer = Answer(question, "")
    ok = ProseRoute(toolbox).answer(plan, analyse(plan.question), answer)
    return answer if ok else None


def test_values_per_year_in_a_sentence():
    rent = series(
        "Rent charged to operating expense was $244 million for 2016, $249 million for 2015 "
        "and $309 million for 2014."
    )
    assert {y: n.value for y, n in rent.items()} == {2016: 244, 2015: 249, 2014: 309}
    both = series(
        "As of December 31, 2019 and 2018, the Company had $72,000 and $140,000, respectively, "
        "deposited in escrow."
    )
    assert {y: n.value for y, n in both.items()} == {2019: 72000, 2018: 140000}
    # two pairs of amounts for two years, or one year only: no series
    assert not series(
        "The carrying value and the fair value were $327 million and $2.55 billion, "
        "respectively, as of December 2016, and $291 million and $3.32 billion, respectively, "
        "as of December 2015."
    )
    assert not series("Operating expenses were $2.40 billion for 2015, 15% lower than 2014.")


def test_amounts_of_a_change_are_not_the_item():
    """ "Backlog increased $2.1 billion for 2016 …" gives the increases, not the backlog."""
    assert not ProseRoute._about(
        "Backlog increased $2.1 billion for 2016 and $1.5 billion for 2015.", {"backlog"}
    )
    assert ProseRoute._about(
        "Backlog was $21 billion for 2016 and $19.5 billion for 2015.", {"backlog"}
    )


def test_the_sum_of_the_years_asked(svc):
    answer = prose_answer(
        svc, "What was Goldman's total rent charged to operating expense for 2016, 2015 and 2014?"
    )
    assert answer is not None and answer.value == 802 and answer.unit == "million"
    assert "together $802 million" in answer.answer and "244 + 249 + 309" in answer.answer
    assert "Rent charged to operating expense was $244 million for 2016" in answer.answer
    assert answer.citations[0].page == 3  # p.183 of the report, the excerpt's third page


def test_one_year_of_a_respectively_sentence(svc):
    answer = prose_answer(
        svc, "What was the fair value of Goldman's loans receivable as of December 2015?"
    )
    assert answer is not None and answer.value == 45.19 and answer.unit == "billion"
    assert answer.answer.startswith("$45.19 billion in 2015")


def test_a_growth_rate_over_the_year_asked(svc):
    answer = prose_answer(svc, "What is the growth rate in amortization expense in 2009?")
    assert answer is not None and answer.value == -20.43 and answer.unit == "%"
    assert "(7.4 - 9.3) / 9.3 * 100" in answer.answer


@pytest.mark.parametrize(
    "question",
    [
        "What was Goldman's rent charged to operating expense in 2013?",  # no such year
        "What was Goldman's rent received from subleases for 2016 and 2015?",  # another item
        "What was the ratio of Goldman's rent charged to operating expense to its loans "
        "receivable in 2016?",  # a ratio the sentence does not state
    ],
)
def test_nothing_the_sentence_does_not_state(svc, question):
    assert prose_answer(svc, question) is None
