from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commcredits.domain.money import (
    INT64_MAX,
    INT64_MIN,
    Money,
    MoneyError,
    format_micros,
    parse_micros,
)


@pytest.mark.parametrize(
    ("text", "micros"),
    [("50.00", 50_000_000), ("0.000001", 1), ("-12.5", -12_500_000), ("100000", 100_000_000_000),
     (" 7.25 ", 7_250_000), ("0", 0)],
)
def test_parse(text: str, micros: int) -> None:
    assert parse_micros(text) == micros


@pytest.mark.parametrize("text", ["abc", "1e400", "NaN", "Infinity", "", "1.0000001", "--1"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(MoneyError):
        parse_micros(text)


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


@given(st.integers(min_value=INT64_MIN, max_value=INT64_MAX))
def test_format_parse_round_trip(micros: int) -> None:
    assert parse_micros(format_micros(micros, 2)) == micros
