"""Deck JSON codec: lossless and compact."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from commcredits.domain.rating import DeckError
from commcredits.rating_import import (
    deck_from_json,
    deck_to_json,
    load_cgrates_folder,
    load_ratecard,
)
from commcredits.rating_import.codec import fraction_text, parse_fraction_text

TESTDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata"


@pytest.mark.parametrize("folder", ["cgrates-tutorial", "cgrates-tutorial2",
                                    "cgrates-destination-any"])
def test_cgrates_decks_round_trip(folder: str) -> None:
    deck = load_cgrates_folder(TESTDATA / folder, version=3, timezone="Europe/Paris")
    assert deck_from_json(json.loads(json.dumps(deck_to_json(deck)))) == deck


def test_ratecard_round_trip_and_size() -> None:
    header = ("category,prefix,destination,rate_per_minute,connection_fee,initial_increment,"
              "next_increment,effective_from\n")
    rows = "".join(f"outbound,{4400000 + i},UK {i},0.{i % 97:04d},0,60,1,2026-01-01\n"
                   for i in range(5000))
    deck = load_ratecard(header + rows, filename="big.csv", currency="GBP")
    text = json.dumps(deck_to_json(deck), separators=(",", ":"))
    assert deck_from_json(json.loads(text)) == deck
    assert len(text) < 5000 * 80  # about 60 bytes a prefix: 50,000 prefixes ~ 3 MB


@pytest.mark.parametrize("value", ["0", "0.015", "1.2", "3/7", "0.0000001", "12345678901.5"])
def test_fraction_text_is_exact(value: str) -> None:
    assert fraction_text(parse_fraction_text(value)) == value
    assert parse_fraction_text(fraction_text(Fraction(1, 3))) == Fraction(1, 3)


def test_malformed_document() -> None:
    with pytest.raises(DeckError):
        deck_from_json({"codec": 1, "name": "x"})
    with pytest.raises(DeckError, match="codec"):
        deck_from_json({"codec": 99})
