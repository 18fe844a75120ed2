"""`Money.text`: the one decimal string the edges print for an amount (the API's, the CLI's
JSON, the pages through `formatting.money`)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commcredits.domain.money import INT64_MAX, INT64_MIN, Money, MoneyError, minor_units, parse_micros
from commcredits.formatting import iso, money


@pytest.mark.parametrize(("micros", "currency", "text"), [
    (50_000_000, "USD", "50.00"), (716_700, "USD", "0.7167"), (-1_500_000, "EUR", "-1.50"),
    (5_000_000_000, "JPY", "5000"), (1_234_500, "KWD", "1.2345"), (1_000, "KWD", "0.001"), (0, "USD", "0.00"),
])
def test_text_has_the_currency_minor_units_and_keeps_every_digit(micros: int, currency: str, text: str) -> None:
    amount = Money(micros, currency)
    assert amount.text == str(amount) == text
    assert amount.is_zero is (micros == 0)


@given(st.integers(min_value=0, max_value=10**17), st.sampled_from(["USD", "JPY", "KWD", "EUR"]))
def test_text_round_trips_through_the_api_grammar(micros: int, currency: str) -> None:
    assert Money.parse(Money(micros, currency).text, currency) == Money(micros, currency)
    assert len(Money(micros, currency).text.partition(".")[2]) >= minor_units(currency)


def test_construction_still_checks_its_invariants() -> None:
    for bad in ((1.5, "USD"), (True, "USD"), (INT64_MAX + 1, "USD"), (INT64_MIN - 1, "USD"), (1, "usd"), (1, "US")):
        with pytest.raises(MoneyError):
            Money(*bad)  # type: ignore[arg-type]


def test_the_pages_show_money_values_with_their_own_currency() -> None:
    assert money(Money(-123_456_700_000, "USD")) == "-123,456.70 USD"
    assert money(Money(5_000_000_000, "JPY"), "USD") == "5,000 JPY"  # the value's currency wins
    assert money("1234.5", "EUR") == "1,234.5 EUR" and money(None, "EUR") == "—"
    assert parse_micros(Money(716_700, "USD").text) == 716_700


def test_iso_is_utc_with_a_z() -> None:
    from datetime import datetime, timedelta, timezone

    tokyo = timezone(timedelta(hours=9))
    assert iso(datetime(2026, 1, 1, 9, 0, tzinfo=tokyo)) == "2026-01-01T00:00:00Z"
    assert iso(datetime(2026, 1, 1, 9, 0, 0, 250_000, tzinfo=tokyo)) == "2026-01-01T00:00:00.250000Z"


@pytest.mark.parametrize(("text", "too_many"), [("1.234", True), ("1.2345678", True), ("9" * 40, False), ("1e3", False), ("-1", False)])
def test_a_refusal_says_whether_only_the_decimals_were_too_many(text: str, too_many: bool) -> None:
    with pytest.raises(MoneyError) as caught:
        parse_micros(text, max_decimals=2)
    assert caught.value.too_many_decimals is too_many
