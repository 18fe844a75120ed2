"""Rate card import: deck shape, header settings, validation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from commcredits.domain.rating import DeckError
from commcredits.rating_import import load_ratecard

TESTDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata"
HEADER = ("category,prefix,destination,rate_per_minute,connection_fee,initial_increment,"
          "next_increment,effective_from\n")


def test_sample_ratecard_shape() -> None:
    deck = load_ratecard((TESTDATA / "sample-ratecard.csv").read_text(), filename="s.csv")
    assert (deck.name, deck.currency, deck.format, deck.row_count) == (
        "sample-usd", "USD", "ratecard", 23)
    assert {p.category for p in deck.profiles} == {
        "outbound", "toll_free_inbound", "conference_dial_out", "conference_dial_in"}
    prof = deck.profiles[0]
    assert (prof.rating_key, prof.subject, prof.activation) == (
        "USD", "*any", datetime(2026, 1, 1, tzinfo=UTC))
    assert {dr.rounding for dr in deck.destination_rates} == {"half_up"}
    assert {dr.decimals for dr in deck.destination_rates} == {2}
    uk_mobile = next(d for d in deck.destinations if d.id == "outbound:447")
    assert uk_mobile.name == "United Kingdom mobile"
    sixty_one = [r for r in deck.rates if len(r.groups) == 2]
    assert sixty_one and all(
        (r.groups[0].increment_s, r.groups[1].from_s, r.groups[1].increment_s) == (60, 60, 1)
        for r in sixty_one)


def test_arguments_override_header_and_rating_key() -> None:
    deck = load_ratecard((TESTDATA / "sample-ratecard.csv").read_text(), filename="s.csv",
                         currency="EUR", rounding="down", decimals=4, rating_key="ACME")
    assert deck.currency == "EUR" and {p.rating_key for p in deck.profiles} == {"ACME"}
    assert {(d.rounding, d.decimals) for d in deck.destination_rates} == {("down", 4)}


def test_reordered_columns_by_header() -> None:
    text = ("prefix,category,destination,rate_per_minute,connection_fee,initial_increment,"
            "next_increment,effective_from\n44,outbound,UK,0.1,0,60,60,2026-01-01\n")
    deck = load_ratecard(text, filename="r.csv", currency="GBP")
    assert deck.destinations[0].id == "outbound:44"


@pytest.mark.parametrize(("row", "reason"), [
    ("outbound,44,UK,abc,0,60,60,2026-01-01", "rate_per_minute 'abc' is not a decimal number"),
    ("outbound,44,UK,0.1,0,0,60,2026-01-01", "initial_increment '0' is out of range"),
    ("outbound,44,UK,0.1,0,60,60,soon", "effective_from 'soon'"),
    ("outbound,4 4,UK,0.1,0,60,60,2026-01-01", "prefix '4 4'"),
    ("outbound,44,UK,0.1,0.0000001,60,60,2026-01-01", "more than 6 decimals"),
    ("outbound,44,UK,-0.1,0,60,60,2026-01-01", "must not be negative"),
    # the absurd values of a security probe: each a 422 naming file, line and reason
    ("outbound,44,UK,0.1,0,99999999999999999999,1,2026-01-01", "initial_increment"),
    ("outbound,4x4,UK,0.1,0,60,60,2026-01-01", "prefix '4x4' must be 1 to 20 digits"),
    ("outbound,44,UK,1e1000000,0,60,60,2026-01-01", "rate_per_minute '1e1000000' is not a decimal"),
    ("outbound,44,UK,0.1,0,60,0,2026-01-01", "next_increment '0' is out of range (1..86400)"),
    ("outbound,44,UK,0.1,0,86401,60,2026-01-01", "out of range (1..86400)"),
    ("outbound,44,UK,1000.01,0,60,60,2026-01-01", "above the maximum of 1000 per minute"),
    ("outbound,44,UK,0.1,1000.5,60,60,2026-01-01", "connection_fee '1000.5' is above the maximum"),
    ("outbound,44,UK,５０,0,60,60,2026-01-01", "is not a decimal number"),
    ("outbound,44,UK,5E1,0,60,60,2026-01-01", "is not a decimal number"),
    ("outbound,44,UK,0.1,0,60,60,99999-01-01", "effective_from"),
    ("outbound,44,UK,1" + "0" * 30 + ",0,60,60,2026-01-01", "has too many digits"),
])
def test_bad_row_reports_line(row: str, reason: str) -> None:
    text = "# comment\n" + HEADER + "outbound,1,US,0.01,0,60,60,2026-01-01\n\n" + row + "\n"
    with pytest.raises(DeckError) as err:
        load_ratecard(text, filename="card.csv", currency="USD")
    assert (err.value.file, err.value.line) == ("card.csv", 5)
    assert reason in err.value.reason


def test_duplicate_prefix_and_missing_currency() -> None:
    rows = HEADER + "outbound,44,UK,0.1,0,60,60,2026-01-01\noutbound,44,UK,0.2,0,60,60,2026-01-01\n"
    with pytest.raises(DeckError, match=r"card\.csv:3: prefix '44' appears twice"):
        load_ratecard(rows, filename="card.csv", currency="USD")
    with pytest.raises(DeckError, match="no currency"):
        load_ratecard(HEADER + "outbound,44,UK,0.1,0,60,60,2026-01-01\n", filename="c.csv")
    with pytest.raises(DeckError, match="header lacks column"):
        load_ratecard("category,prefix\n", filename="c.csv", currency="USD")
