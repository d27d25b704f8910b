"""Numbers with units: parsing, scale-agnostic comparison, verification against evidence."""

import pytest

from backend.domain.numbers import parse_numbers, primary_value, same_amount, unverified_numbers


def test_parse_signs_scales_and_percentages():
    found = {
        n.text: n
        for n in parse_numbers(
            "3M spent $1,577 million in FY2018 (10-K); outflow (1,373); 15.77亿元; 30.8% and -13.23%"
        )
    }
    assert found["$1,577 million"].base == pytest.approx(1.577e9)
    assert found["(1,373"].value == -1373
    assert found["15.77亿元"].base == pytest.approx(1.577e9)
    assert found["30.8%"].percent and found["-13.23%"].value == -13.23
    assert "3M" not in found and "2018" not in " ".join(found)  # names and years are not amounts


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (1577, 1.577, True),
        (1577e6, 1577, True),
        (157700, 15.77, True),
        (1577, 1600, False),
        (30.8, 0.308, False),
        (-5, 5, False),
        (157700, 15.77, True),
    ],
)
def test_same_amount_across_notations(a, b, same):
    assert same_amount(a, b) is same


def test_percentages_and_chinese_scales_only_where_they_apply():
    assert same_amount(30.8, 0.308, percent=True)
    assert not same_amount(100, 0.01, percent=True)  # "100%" is not "$0.01"
    assert not same_amount(157700, 15.77, chinese=False)  # 万 only in Chinese context


def test_unverified_numbers_flags_only_numbers_missing_from_evidence():
    evidence = ["Purchases of property, plant and equipment (PP&E) (1,577) (1,373) (1,420)"]
    missing = unverified_numbers(
        "3M's capex was $1,577 million in 2018 [3M_2018_10K.pdf p.60], up 14.9% from $1.373 "
        "billion.",
        evidence,
    )
    assert missing == ["14.9%"]


def test_primary_value_skips_citations_and_years():
    assert primary_value("In FY2018 [3M_2018_10K.pdf p.60] capex was $1,577 million.") == (
        1577.0,
        "million",
    )


def test_the_day_of_a_date_is_not_an_amount():
    text = "As of March 21, 2022 there were 96,089,997 shares; on 31 December 2019 it was 5 million"
    assert [n.text for n in parse_numbers(text)] == ["96,089,997", "5 million"]
    assert [n.text for n in parse_numbers("2019年12月31日应收账款202,040,270.93元")] == [
        "202,040,270.93元"
    ]
    assert primary_value("The record date was March 21, 2022 [f.pdf p.2].") == (None, "")
