"""Follow-up questions and sidebar filters over real indexed reports.

The reports are the first pages (cover, registrant, 公司简介) of nine real 10-Ks and the five
Chinese 年度报告 of the corpus, copied into small PDFs and indexed by the real ingestion pipeline,
so company names, aliases (证券简称) and fiscal years are the ones Annalyst detects itself.
Follow-ups are resolved by deterministic code (no model): each turn of every conversation in
``tests/data/followups.jsonl`` must resolve to exactly the stand-alone question, company and
years written there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.answering.chat import ChatService, Filters
from backend.answering.plan import CompanyIndex, plan_query
from backend.app.services import build_services
from backend.settings import Settings
from tests.conftest import CORPUS, MODELS, REPORTS

CONVERSATIONS = [
    json.loads(line)
    for line in (Path(__file__).parent / "data" / "followups.jsonl").read_text("utf-8").splitlines()
    if line.strip()
]
EN_REPORTS = ["3M_2018_10K", "3M_2022_10K", "COSTCO_2021_10K", "NETFLIX_2017_10K", "AMD_2015_10K",
              "BOEING_2018_10K", "NIKE_2019_10K", "ADOBE_2016_10K", "ADOBE_2022_10K"]  # fmt: skip


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, corpus: Path):
    """The cover pages of 14 real reports, indexed (about 30 s on 2 cores)."""
    import pypdfium2 as pdfium

    folder = tmp_path_factory.mktemp("covers")
    sources = [REPORTS / "financebench" / f"{n}.pdf" for n in EN_REPORTS]
    sources += sorted((REPORTS / "finglm_cn").glob("*.pdf"))
    paths = []
    for source in sources:
        src, new = pdfium.PdfDocument(source), pdfium.PdfDocument.new()
        new.import_pages(src, list(range(8 if "finglm" in str(source) else 2)))
        new.save(folder / source.name)  # the same file name: a hint the detector may use
        paths.append(folder / source.name)
    settings = Settings(data_dir=folder / "data", models_path=MODELS, corpus_dir=CORPUS)
    services = build_services(settings)
    results = services.ingestor.add(paths)
    assert all(r.status == "indexed" for r in results), [r.error for r in results]
    return services


@pytest.fixture(scope="module")
def index(services) -> CompanyIndex:
    return services.retriever.company_index()


def test_the_set_has_30_conversations_of_two_and_three_turns_in_both_languages():
    assert len(CONVERSATIONS) >= 30
    assert {len(c["turns"]) for c in CONVERSATIONS} == {2, 3}
    langs = " ".join(c["lang"] for c in CONVERSATIONS)
    assert langs.count("zh") >= 10 and langs.count("en") >= 15


@pytest.mark.parametrize("conv", CONVERSATIONS, ids=[c["id"] for c in CONVERSATIONS])
def test_follow_up_resolves_to_the_stand_alone_question_company_and_year(conv, index):
    history: list[str] = []
    for turn in conv["turns"]:
        plan = plan_query(turn["q"], index, history=history)
        got = plan.companies[:1] if plan.named == 1 else plan.companies
        assert (plan.question, got, plan.years) == (
            turn["standalone"],
            turn["companies"],
            turn["years"],
        ), turn["q"]
        history.append(plan.question)


def _doc(index: CompanyIndex, file_start: str) -> str:
    return next(d for d, doc in index.docs.items() if doc.file_name.startswith(file_start))


def test_filters_restrict_the_documents_and_name_the_company_and_year(services, index):
    chat: ChatService = services.chat
    mmm_2018, mmm_2022 = _doc(index, "3M_2018"), _doc(index, "3M_2022")
    # the company filter alone: both 3M reports; the question's year picks among them
    allowed = chat.allowed_docs(Filters(company="3M Company"))
    assert sorted(allowed) == sorted([mmm_2018, mmm_2022])
    plan = plan_query("What was the total revenue in 2018?", index, doc_filter=allowed)
    assert plan.companies == ["3M Company"] and plan.doc_ids == [mmm_2018] and plan.named == 1
    assert plan.excluded == ""
    # company + year: one report; the plan's year is the filter's when the question has none
    allowed = chat.allowed_docs(Filters(company="3M Company", year=2022))
    assert allowed == [mmm_2022]
    plan = plan_query("What was the net income?", index, doc_filter=allowed, year_filter=2022)
    assert (plan.companies, plan.years, plan.doc_ids) == (["3M Company"], [2022], [mmm_2022])
    # the year filter alone restricts too (FY2019: Nike and the five 年报)
    allowed = chat.allowed_docs(Filters(year=2019))
    assert len(allowed) == 6 and _doc(index, "NIKE") in allowed
    # no report matches: nothing to search
    assert chat.allowed_docs(Filters(company="3M Company", year=2019)) == []


def test_a_question_the_filters_exclude_says_so(services, index):
    chat: ChatService = services.chat
    only_3m = Filters(company="3M Company", year=2018)
    plan = plan_query(
        "What was Costco's revenue in 2021?", index, doc_filter=chat.allowed_docs(only_3m)
    )
    assert plan.excluded == "company"
    answer = chat.ask("What was Costco's revenue in 2021?", filters=only_3m)
    assert answer.refused and "filters" in answer.answer and "Costco" in answer.answer
    assert "Not found in the indexed reports" not in answer.answer
    assert answer.trace[-1]["step"] == "refuse" and answer.trace[-1]["reason"] == "filters"
    answer = chat.ask("3M公司2022年的营业收入是多少？", filters=only_3m)
    assert answer.refused and "筛选" in answer.answer and "2022" in answer.answer
    nothing = chat.ask("What was the revenue?", filters=Filters(company="3M Company", year=2019))
    assert nothing.refused and "No indexed report matches the filters" in nothing.answer
    # a filtered question about the selected company still follows up on the history
    history = ["What was 3M's net income in FY2018?"]
    plan = plan_query("and in 2017?", index, history=history, doc_filter=[_doc(index, "3M_2018")])
    assert plan.question == "What was 3M's net income in FY2017?" and plan.excluded == ""
