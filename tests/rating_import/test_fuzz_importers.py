"""Both deck importers fuzzed: random bytes or CSV in -> a DeckError naming the file, or a
valid deck; never another exception. Through the service, a refused upload applies nothing.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commcredits.domain.rating import Deck, DeckError, RatingIndex
from commcredits.errors import ValidationError
from commcredits.rating_import import deck_from_json, deck_to_json, load_cgrates_files, load_ratecard
from commcredits.services.access.principal import OPERATOR
from commcredits.services.rating import rate_decks

HEADER = ("category,prefix,destination,rate_per_minute,connection_fee,initial_increment,"
          "next_increment,effective_from,effective_to")
TRICKY = ["", "0", "-1", "1e1000000", "1E5", "99999999999999999999", "0.000001", "1_0", "５",
          "+44", "4x4", "44", "*any", "voicemail", "60", "0s", "1m", "86401", "2026-01-01",
          "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00", '"', '"a,b"', "\x00", "\ufeff",
          "NaN", "Infinity", "outbound", "R1", "1001", "1002", "*up", "*free", "1.5h", "12:00:00"]
cell = st.one_of(st.sampled_from(TRICKY), st.text(max_size=12))
row = st.lists(cell, min_size=0, max_size=10).map(",".join)
csv_text = st.lists(row, max_size=8).map("\n".join)


def _valid(deck: Deck) -> None:
    assert deck_from_json(deck_to_json(deck)) == deck
    RatingIndex.build([deck])


def _load_card(data: str | bytes) -> None:
    try:
        _valid(load_ratecard(data, filename="fuzz.csv", currency="USD"))
    except DeckError as exc:
        assert exc.file == "fuzz.csv" and exc.reason


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=csv_text, header=st.booleans())
def test_ratecard_rows(body: str, header: bool) -> None:
    t0 = time.perf_counter()
    _load_card((HEADER + "\n" if header else "") + body)
    assert time.perf_counter() - t0 < 1


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_ratecard_bytes(data: bytes) -> None:
    _load_card(data)
    _load_card(b"PK\x03\x04" + data)


FILES = ("Destinations.csv", "Rates.csv", "DestinationRates.csv", "Timings.csv",
         "RatingPlans.csv", "RatingProfiles.csv")
VALID = {
    "Destinations.csv": "DST_1002,1002\n",
    "Rates.csv": "RT_1,0.4,0.2,60s,60s,0s\n",
    "DestinationRates.csv": "DR_1,DST_1002,RT_1,*up,4,0,\n",
    "Timings.csv": "",
    "RatingPlans.csv": "RP_1,DR_1,*any,10\n",
    "RatingProfiles.csv": "cgrates.org,call,*any,2014-01-14T00:00:00Z,RP_1,\n",
}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(FILES), body=csv_text, raw=st.one_of(st.none(), st.binary(max_size=100)))
def test_cgrates_files(name: str, body: str, raw: bytes | None) -> None:
    files: dict[str, str | bytes] = dict(VALID)
    files[name] = raw if raw is not None else VALID[name] + body
    try:
        _valid(load_cgrates_files(files))
    except DeckError as exc:
        assert exc.file and exc.reason


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=csv_text, mode=st.sampled_from(["replace", "update"]))
def test_a_refused_upload_applies_nothing(rt, body: str, mode: str) -> None:
    before = rate_decks.list_decks(rt, OPERATOR).items
    try:
        rate_decks.import_files(rt, OPERATOR, format_="ratecard", mode=mode, currency="USD", force=True,
                                files={"fuzz.csv": (HEADER + "\n" + body).encode()})
    except ValidationError as exc:
        assert exc.extra["file"] == "fuzz.csv"
        assert rate_decks.list_decks(rt, OPERATOR).items == before
    else:
        assert len(rate_decks.list_decks(rt, OPERATOR).items) == len(before) + 1
