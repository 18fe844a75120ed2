from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commcredits.domain.money import (
    INT64_MAX,
    MAX_AMOUNT_UNITS,
    Money,
    MoneyError,
    format_micros,
    parse_micros,
)


@pytest.mark.parametrize(
    ("text", "micros"),
    [("50.00", 50_000_000), ("0.000001", 1), ("12.5", 12_500_000), ("100000", 100_000_000_000),
     ("007.25", 7_250_000), ("0", 0), ("999999999999.999999", MAX_AMOUNT_UNITS * 1_000_000 - 1)],
)
def test_parse(text: str, micros: int) -> None:
    assert parse_micros(text) == micros


# Each form the grammar refuses (API.md "Money strings"); the first four were accepted once,
# "1e600000" cost 14.7 s of CPU in Decimal and "1e1000000" was a 500.
BAD_FORMS = ["1e600000", "1e1000000", "50_00", "５０.００", "5E1", "+50.00", "-12.5", " 7.25 ", "7.25\n",
             "\t7", "1,000.00", "1 000", ".5", "5.", "1.2.3", "", ".", "abc", "NaN", "Infinity", "0x10",
             "١٢", "5\x00", "1.0000001", "--1", "1e400", "0e0", "1000000000000", "9223372036854.775807",
             "9" * 33, "0" * 33 + "1"]


@pytest.mark.parametrize("text", BAD_FORMS)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(MoneyError) as caught:
        parse_micros(text)
    assert caught.value.code == "validation_error" and str(caught.value)


def test_refusals_say_why() -> None:
    with pytest.raises(MoneyError, match=r"not a money string such as \"50\.00\""):
        parse_micros("+50.00")
    with pytest.raises(MoneyError, match="longer than 32 characters"):
        parse_micros("1" * 600_000)
    with pytest.raises(MoneyError, match="too large"):
        parse_micros("1000000000000")
    with pytest.raises(ValueError, match="between 0 and 6"):
        parse_micros("1", max_decimals=7)


def test_parse_rejects_json_numbers() -> None:
    with pytest.raises(MoneyError, match="decimal string"):
        parse_micros(50.0)  # type: ignore[arg-type]


def test_purchase_decimals_follow_the_currency() -> None:
    assert Money.parse("50.00", "USD", purchase=True).micros == 50_000_000
    with pytest.raises(MoneyError, match="more than 2 decimals"):
        Money.parse("50.001", "USD", purchase=True)
    with pytest.raises(MoneyError, match="more than 0 decimals"):
        Money.parse("5000.5", "JPY", purchase=True)
    assert Money.parse("50.125", "KWD", purchase=True).micros == 50_125_000


def test_format_keeps_every_digit() -> None:
    assert format_micros(716_700, 2) == "0.7167"
    assert format_micros(-12_500_000, 2) == "-12.50"
    assert format_micros(5_000_000_000, 0) == "5000"
    assert str(Money(50_000_000, "USD")) == "50.00"


def test_money_refuses_mixed_currencies_and_floats() -> None:
    with pytest.raises(MoneyError):
        Money(1, "USD") + Money(1, "EUR")
    with pytest.raises(MoneyError):
        Money(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(INT64_MAX + 1, "USD")


@given(st.integers(min_value=0, max_value=MAX_AMOUNT_UNITS * 1_000_000 - 1), st.integers(0, 6))
def test_format_parse_round_trip(micros: int, decimals: int) -> None:
    assert parse_micros(format_micros(micros, decimals)) == micros
