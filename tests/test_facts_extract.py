"""Financial-statement facts from real reports (pypdfium2 pages, no embedding) and the FactStore
that queries them from a real catalogue in tmp_path.

Expected values were read by hand from the page text (tests/data/gold_facts.jsonl holds more).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from backend.records import Document, Fact, StatementCheck
from backend.store.catalog import Catalog
from backend.store.facts import FactHit, FactStore
from ingestion.clean import detect_language
from ingestion.facts import extract_facts
from ingestion.meta import detect
from ingestion.pdf import read_pages
from tests.conftest import BESTBUY_10Q, FOOTLOCKER_8K, HUAJIN_2019, MMM_2018, REPORTS

HANGTIAN_2019 = (
    REPORTS
    / "finglm_cn/2020-04-14__贵州航天电器股份有限公司__002025__航天电器__2019年__年度报告.pdf"
)
WALMART_2018 = REPORTS / "financebench/WALMART_2018_10K.pdf"


class Extracted:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.pages = list(read_pages(path))
        self.language = detect_language(self.pages)
        self.meta = detect(self.pages, path, self.language)
        self.doc_id = hashlib.sha256(path.name.encode()).hexdigest()[:16]
        self.facts, self.checks = extract_facts(
            self.pages,
            doc_id=self.doc_id,
            company=self.meta.company,
            language=self.language,
            fiscal_year=self.meta.fiscal_year,
            pdf_path=path,
        )

    def one(self, item: str, year: int, scope: str = "consolidated") -> Fact:
        found = [
            f for f in self.facts if f.item == item and f.fiscal_year == year and f.scope == scope
        ]
        assert len(found) == 1, (item, year, scope, found)
        return found[0]


@pytest.fixture(scope="module")
def reports(corpus: Path) -> dict[str, Extracted]:
    cache: dict[str, Extracted] = {}

    def get(path: Path) -> Extracted:
        if path.name not in cache:
            cache[path.name] = Extracted(path)
        return cache[path.name]

    return get  # type: ignore[return-value]


def test_10k_statements_in_millions_with_signs_and_pages(reports) -> None:
    r = reports(MMM_2018)
    capex = r.one("capex", 2018)
    assert (capex.value, capex.scale, capex.page) == (-1577.0, 1e6, 60)  # "(1,577)"
    assert capex.unit_label == "millions" and capex.currency == "USD"
    assert capex.base_value == -1.577e9
    assert capex.label == "Purchases of property, plant and equipment (PP&E)"
    assert r.one("revenue", 2017).value == 31657.0 and r.one("revenue", 2017).page == 56
    assert r.one("net_income_parent", 2016).value == 5050.0
    assert r.one("total_assets", 2017).value == 37987.0
    assert r.one("operating_cash_flow", 2018).value == 6439.0
    gain = next(
        f for f in r.facts if f.label == "Gain on sale of businesses" and f.fiscal_year == 2018
    )
    assert gain.value == -547.0 and gain.item is None
    eps = r.one("eps_basic", 2018)  # "(Millions, except per share amounts)"
    assert (eps.value, eps.scale, eps.unit_label) == (9.09, 1.0, "per share")
    assert {f.scope for f in r.facts} == {"consolidated"}
    assert {f.page for f in r.facts} == {56, 58, 60}
    # share counts in millions are not money: not stored as facts
    assert not any("Weighted average" in f.label for f in r.facts)
    assert r.checks and all(c.passed for c in r.checks), [c for c in r.checks if not c.passed]
    names = {c.name for c in r.checks}
    assert "total assets = total liabilities + total equity" in names


def test_nianbao_keeps_consolidated_and_parent_apart(reports) -> None:
    r = reports(HUAJIN_2019)
    assert r.language == "zh" and r.meta.fiscal_year == 2019
    group = r.one("net_income", 2019)
    parent = r.one("net_income", 2019, scope="parent")
    assert (group.value, group.page) == (1048976368.69, 51)
    assert (parent.value, parent.page) == (568714299.13, 53)
    assert (group.scale, group.unit_label, group.currency) == (1.0, "元", "CNY")
    assert r.one("net_income_parent", 2019).value == 992955495.15
    assert r.one("net_income_parent", 2018).value == 1144409195.72  # the 2018 column
    assert r.one("rd_expense", 2019).value == 100209482.50
    assert r.one("revenue", 2018).value == 37036329015.10
    assert r.one("total_assets", 2019, scope="parent").value == 24141135339.89
    cap = r.one("capex", 2019)
    assert (
        cap.value == 218356260.91 and cap.label == "购建固定资产、无形资产和其他长期资产支付的现金"
    )
    statements = {(f.statement, f.scope) for f in r.facts}
    assert len(statements) == 6
    # the 2018-12-31 / 2019-01-01 restatement tables in the notes are not primary statements
    assert max(f.page for f in r.facts) <= 56
    assert all(c.passed for c in r.checks) and len(r.checks) >= 20


def test_wrapped_labels_and_both_years(reports) -> None:
    r = reports(HANGTIAN_2019)
    ar19, ar18 = r.one("accounts_receivable", 2019), r.one("accounts_receivable", 2018)
    assert (ar19.value, ar18.value, ar19.page) == (1531096178.20, 1448864848.39, 61)
    # amounts printed between two halves of a wrapped label (购建固定资产、无形资产和其他 /
    # 长期资产支付的现金)
    cap = r.one("capex", 2019)
    assert (cap.value, cap.page) == (97631007.32, 72)
    # a row with only this year's amount stays in this year's column
    one_year = [f for f in r.facts if f.label == "应收款项融资"]
    assert [(f.fiscal_year, f.value) for f in one_year if f.scope == "consolidated"] == [
        (2019, 204689026.13)
    ]


def test_dash_means_nil(reports) -> None:
    r = reports(WALMART_2018)
    nil = [f for f in r.facts if f.label == "Loss on extinguishment of debt" and f.page == 57]
    assert {(f.fiscal_year, f.value, f.raw) for f in nil} >= {(2017, 0.0, "—")}
    assert r.one("revenue", 2018).value == 500343.0  # "Total revenues" beats "Net sales"
    assert r.one("net_income_parent", 2018).value == 9862.0


def test_reports_without_statements_get_no_facts(reports) -> None:
    assert reports(FOOTLOCKER_8K).facts == [] and reports(FOOTLOCKER_8K).checks == []
    # a 10-Q's columns are quarters, not fiscal years
    assert reports(BESTBUY_10Q).facts == []


def test_extraction_never_raises(reports, tmp_path: Path) -> None:
    r = reports(MMM_2018)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    facts, checks = extract_facts(
        r.pages, doc_id="x", company="3M", language="en", fiscal_year=2018, pdf_path=broken
    )
    assert (facts, checks) == ([], [])


# --- FactStore ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(reports, tmp_path_factory: pytest.TempPathFactory) -> FactStore:
    catalog = Catalog(tmp_path_factory.mktemp("facts") / "annalyst.sqlite")
    for path in (MMM_2018, HUAJIN_2019, HANGTIAN_2019):
        r = reports(path)
        doc = Document(
            doc_id=r.doc_id,
            file_name=path.name,
            company=r.meta.company,
            aliases=r.meta.aliases,
            fiscal_year=r.meta.fiscal_year,
            report_type=r.meta.report_type,
            language=r.language,
        )
        catalog.begin_document(doc)
        catalog.complete_document(doc, [], [], [], facts=r.facts, checks=r.checks)
    return FactStore(catalog)


@pytest.mark.parametrize(
    ("name", "company"),
    [
        ("3M", "3M Company"),
        ("3M Company", "3M Company"),
        ("3m company", "3M Company"),
        ("华锦股份", "北方华锦化学工业股份有限公司"),
        ("北方华锦化学工业股份有限公司", "北方华锦化学工业股份有限公司"),
        ("北方华锦", "北方华锦化学工业股份有限公司"),
        ("航天电器", "贵州航天电器股份有限公司"),
    ],
)
def test_company_names_resolve(store: FactStore, name: str, company: str) -> None:
    assert [d.company for d in store.resolve_company(name)] == [company]


def test_unknown_company_resolves_to_nothing(store: FactStore) -> None:
    assert store.resolve_company("Acme Widgets") == []
    assert store.lookup(company="Acme Widgets", item="revenue") == []


def test_lookup_by_key_words_or_label(store: FactStore) -> None:
    [hit] = store.lookup(company="3M", item="capex", year=2018)
    assert isinstance(hit, FactHit)
    assert (hit.value, hit.page, hit.fiscal_year, hit.unit_label) == (-1577.0, 60, 2018, "millions")
    assert hit.citation == "[3M_2018_10K.pdf p.60]"
    assert hit.checked is True and hit.display() == "-1,577 million USD"
    d = hit.to_dict()
    assert d["base_value"] == -1.577e9 and d["file"] == "3M_2018_10K.pdf" and d["page"] == 60
    # words that name the item, en and zh
    assert [
        h.value for h in store.lookup(company="3M Company", item="capital expenditure", year=2018)
    ] == [-1577.0]
    assert store.lookup(company="华锦股份", item="研发费用", year=2019)[0].value == 100209482.50
    # any other row label: text search
    other = store.lookup(company="华锦股份", item="营业外收入", year=2019)
    assert other and all("营业外收入" in h.label for h in other)
    # label text that names no canonical item (in both the income and cash-flow statements)
    gains = store.lookup(company="3M", item="Gain on sale of businesses", year=2018)
    assert [(h.statement, h.value) for h in gains] == [("income", -547.0), ("cashflow", -545.0)]
    # three years of one item, newest first
    years = [h.fiscal_year for h in store.lookup(company="3M", item="revenue")]
    assert years == [2018, 2017, 2016]


def test_lookup_never_falls_back_to_another_item(store: FactStore) -> None:
    """Exact items or nothing: an item's words never match a part of another row's label."""
    revenue = store.lookup(company="3M", item="revenue", year=2018)
    assert revenue and all(h.item == "revenue" for h in revenue)
    assert all("cost" not in h.label.lower() for h in revenue)
    cost = store.lookup(company="3M", item="cost of revenue", year=2018)
    assert all(h.item == "cost_of_revenue" for h in cost)
    assert store.best("3M", "revenue", 2018).item == "revenue"
    # a canonical item the report's statements lack: nothing, not the nearest label
    assert store.lookup(company="华锦股份", item="revenue growth", year=2019) == []
    assert store.lookup(company="3M", item="sale of businesses", year=2018) == []
    assert store.lookup(company="3M", item="of", year=2018) == []


def test_missing_item_is_not_answered_by_a_similar_row(tmp_path: Path) -> None:
    """A report whose statements have "Cost of revenue" but no revenue row: asked for revenue,
    the lookup returns nothing (it used to retry with label LIKE '%revenue%')."""
    catalog = Catalog(tmp_path / "annalyst.sqlite")
    doc = Document(doc_id="d1", file_name="acme.pdf", company="Acme Corp", fiscal_year=2023)
    rows = [("Cost of revenue", "cost_of_revenue", 700.0), ("Net income", "net_income", 90.0)]
    facts = [
        Fact("d1", "Acme Corp", 2023, "income", "consolidated", label, item, value, 1e6,
             "millions", "USD", 40)
        for label, item, value in rows
    ]  # fmt: skip
    catalog.begin_document(doc)
    catalog.complete_document(doc, [], [], [], facts=facts)
    store = FactStore(catalog)
    assert store.lookup(company="Acme", item="revenue", year=2023) == []
    assert store.lookup(company="Acme", item="revenues", year=2023) == []
    assert store.best("Acme", "revenue", 2023) is None
    assert [h.value for h in store.lookup(company="Acme", item="cost of revenue")] == [700.0]
    assert [h.value for h in store.lookup(company="Acme", item="Net Income ")] == [90.0]


def test_lookup_scope_keeps_parent_apart(store: FactStore) -> None:
    group = store.lookup(company="华锦股份", item="净利润", year=2019)
    parent = store.lookup(company="华锦股份", item="净利润", year=2019, scope="parent")
    assert [h.value for h in group] == [1048976368.69]
    assert [h.value for h in parent] == [568714299.13]
    both = store.lookup(company="华锦股份", item="net_income", year=2019, scope=None)
    assert {h.scope for h in both} == {"consolidated", "parent"}
    assert store.best("华锦股份", "net_income_parent", 2018).display() == "1,144,409,195.72 元"


def test_question_parsing_for_the_router(store: FactStore) -> None:
    q = store.parse_question("华锦股份2019年母公司净利润是多少？")
    assert [d.company for d in q.companies] == ["北方华锦化学工业股份有限公司"]
    assert (q.items, q.years, q.scope) == (["net_income"], [2019], "parent")
    q = store.parse_question("What is the FY2018 capital expenditure amount for 3M?")
    assert [d.company for d in q.companies] == ["3M Company"]
    assert (q.items, q.years, q.scope) == (["capex"], [2018], "consolidated")
    assert "capex" in store.canonical_items()


def test_checks_are_stored_per_statement(store: FactStore) -> None:
    [doc] = store.resolve_company("3M")
    checks = store.checks(doc.doc_id)
    assert checks and all(isinstance(c, StatementCheck) for c in checks)
    assert {c.statement for c in checks} == {"income", "balance", "cashflow"}
    assert doc.facts > 0 and doc.checks_passed == len(checks) and doc.checks_failed == 0


def test_one_part_of_a_split_cost_line_is_not_the_cost_of_revenue(reports, tmp_path) -> None:
    """Boeing prints "Cost of products" and "Cost of services" (then "Total costs and
    expenses"): neither part is the cost of revenue, so no gross margin is computed from one."""
    from tests.pdfmaker import excerpt

    boeing = excerpt(REPORTS / "financebench/BOEING_2022_10K.pdf", [1, 55], tmp_path / "b.pdf")
    got = reports(boeing)
    assert got.one("revenue", 2022).value == 66608
    assert not [f for f in got.facts if f.item == "cost_of_revenue"]
