"""Formulas a question writes itself (backend.domain.written): read into statement items and
arithmetic, or not at all."""

from __future__ import annotations

import pytest

from backend.answering.route import analyse, other_formula
from backend.domain.written import written_metric


def test_average_and_change_between_two_years_become_balances_of_those_years():
    m = written_metric(
        "What is FY2018 days payable outstanding (DPO) for Walmart? DPO is defined as: 365 * "
        "(average accounts payable between FY2017 and FY2018) / (FY2018 COGS + change in "
        "inventory between FY2017 and FY2018). Round your answer to two decimal places."
    )
    assert m is not None and m.unit == "days" and m.names_en == ("DPO",)
    assert m.formula == (
        "365 * (avg(accounts_payable, accounts_payable@-1)) / "
        "(cost_of_revenue + (inventory - inventory@-1))"
    )
    assert set(m.items()) == {
        ("accounts_payable", 0), ("accounts_payable", -1), ("cost_of_revenue", 0),
        ("inventory", 0), ("inventory", -1),
    }  # fmt: skip


def test_names_defined_by_other_definitions_are_replaced_by_their_formulas():
    m = written_metric(
        "What is the FY2019 cash conversion cycle (CCC) for General Mills? CCC is defined as: "
        "DIO + DSO - DPO. DIO is defined as: 365 * (average inventory between FY2018 and FY2019)"
        " / (FY2019 COGS). DSO is defined as: 365 * (average accounts receivable between FY2018"
        " and FY2019) / (FY2019 Revenue). DPO is defined as: 365 * (average accounts payable "
        "between FY2018 and FY2019) / (FY2019 COGS)."
    )
    assert m is not None and m.names_en == ("CCC",)
    assert "DIO" not in m.formula and m.formula.count("avg(") == 3


def test_a_chinese_rate_defined_over_a_defined_sum_is_a_percentage():
    m = written_metric(
        "航天电器2019年的期间费用率是多少？（期间费用=销售费用+管理费用+研发费用+财务费用，"
        "期间费用率=期间费用/营业收入，保留两位小数）"
    )
    assert m is not None and m.unit == "%" and m.label_zh == "期间费用率"
    assert m.formula == (
        "((selling_expense+admin_expense+rd_expense+finance_expense)/revenue) * 100"
    )


@pytest.mark.parametrize(
    "question",
    [
        # a word that is no statement item
        "What is X's FY2020 adjusted leverage? Adjusted leverage is defined as: total debt / "
        "adjusted EBITDA.",
        # an average without its years
        "What is X's FY2020 ROA? ROA is defined as: net income / average total assets.",
        # no definition at all
        "What is X's FY2020 return on assets?",
        # a definition whose text looks like a regex replacement template is text, not a template
        "What is X's FY2020 ratio? Ratio is defined as: DIO / revenue. DIO is defined as: \\1 \\g<0>.",
    ],
)
def test_a_formula_with_anything_but_items_and_arithmetic_is_not_read(question):
    assert written_metric(question) is None


def test_the_written_formula_replaces_ours_only_where_ours_is_another():
    ours = analyse(
        "What is Netflix's FY2017 total asset turnover? Total asset turnover is defined as: "
        "FY2017 revenue / (average total assets between FY2016 and FY2017)."
    )
    assert ours.metric is not None and ours.metric.key != "written"
    written = analyse(
        "What is FY2018 days payable outstanding (DPO) for Walmart? DPO is defined as: 365 * "
        "(average accounts payable between FY2017 and FY2018) / (FY2018 COGS + change in "
        "inventory between FY2017 and FY2018)."
    )
    assert written.metric is not None and written.metric.key == "written"
    assert not other_formula(written)
    assert not written.average and not written.change  # the formula's words, not the ask
