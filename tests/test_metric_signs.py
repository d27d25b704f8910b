"""Signs of statement lines in computed metrics, on real income statements (no model).

Corning prints its tax expense in parentheses ("Provision for income taxes (491)"); Netflix prints
its tax expense positive and a tax benefit in parentheses ("Provision for (benefit from) income
taxes (73,608)" in 2017). The effective tax rate is the expense over pretax income: 20.24 % for
Corning (not -20.24 %), and for Netflix's benefit year a negative rate — told apart by each
statement's own arithmetic (pretax income ± tax = net income)."""

from __future__ import annotations

import pytest

from tests.conftest import REPORTS, indexed_services
from tests.pdfmaker import excerpt


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    root = tmp_path_factory.mktemp("signs")
    files = [
        excerpt(REPORTS / "financebench/CORNING_2022_10K.pdf", [1, 58], root / "corning.pdf"),
        excerpt(REPORTS / "financebench/NETFLIX_2017_10K.pdf", [1, 42], root / "netflix.pdf"),
    ]
    return indexed_services(root, files)


def test_tax_in_parentheses_is_an_expense(svc):
    answer = svc.chat.ask("What was Corning's effective tax rate in FY2021?")
    assert answer.route == "facts"
    assert answer.value == pytest.approx(20.24, abs=0.01)
    assert "491 / 2426 * 100" in answer.answer


def test_a_tax_benefit_gives_a_negative_rate_and_an_expense_a_positive_one(svc):
    benefit = svc.chat.ask("What was Netflix's effective tax rate in FY2017?")
    assert benefit.route == "facts"
    assert benefit.value == pytest.approx(-73608 / 485321 * 100, abs=0.01)
    expense = svc.chat.ask("What was Netflix's effective tax rate in FY2016?")
    assert expense.value == pytest.approx(73829 / 260507 * 100, abs=0.01)
