"""Amounts as people type them into the web forms, turned into the API's grammar."""

from __future__ import annotations

import pytest

from commcredits.domain.money import parse_micros
from commcredits.web.amounts import AmountFormatError, example, normalise_amount


@pytest.mark.parametrize(("typed", "country", "strict"), [
    ("1,000.00", "US", "1000.00"), ("1,000.00", "GB", "1000.00"), ("100,000.00", "US", "100000.00"),
    ("1,000", "US", "1000"), ("50", "US", "50"), ("50.5", "US", "50.5"), (" 75.00 ", "US", "75.00"),
    ("50,00", "DE", "50.00"), ("1.000,00", "DE", "1000.00"), ("1.000", "DE", "1000"), ("1,5", "DE", "1.5"),
    ("1.000.000,25", "ES", "1000000.25"), ("1 000,50", "FR", "1000.50"), ("1\u202f000,50", "FR", "1000.50"),
    ("1\u00a0000,50", "FR", "1000.50"), ("1'000.00", "CH", "1000.00"),
    ("1,000.00", "DE", "1000.00"),  # the page's own way of printing amounts works everywhere
    ("50,00", "US", "50.00"),  # a comma before 2 digits can only be a decimal mark
    ("", "US", ""),
])
def test_accepted_spellings(typed: str, country: str, strict: str) -> None:
    assert normalise_amount(typed, country) == strict
    if strict:
        parse_micros(strict)  # what comes out is in the API's grammar


def test_three_digits_after_one_mark_follow_the_locale() -> None:
    assert normalise_amount("1,000", "US") == "1000"  # grouping in the US
    assert normalise_amount("1,000", "DE") == "1.000"  # a decimal comma in Germany: one, to 3 decimals
    assert normalise_amount("1.000", "US") == "1.000"
    assert normalise_amount("1.000", "DE") == "1000"


@pytest.mark.parametrize("typed", ["abc", "1,00,000", "10,00.5", "1.2.3,4,5", "1,,000", "12a", "1.000.00", "$50", "-"])
def test_refused(typed: str) -> None:
    with pytest.raises(AmountFormatError):
        normalise_amount(typed, "US")


def test_examples_follow_the_locale() -> None:
    assert example("US") == "1,000.00" and example("de") == "1.000,00"
