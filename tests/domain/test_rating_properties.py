"""Hypothesis properties of price_call and max_seconds_for."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from commcredits.domain.rating import NoRate, RatingIndex, max_seconds_for, price_call
from commcredits.rating_import import (
    deck_from_json,
    deck_to_json,
    load_cgrates_files,
    load_cgrates_folder,
    load_ratecard,
)

TESTDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata"
DECKS = {
    "tutorial2": load_cgrates_folder(TESTDATA / "cgrates-tutorial2"),
    "sample": load_ratecard((TESTDATA / "sample-ratecard.csv").read_text(), filename="s.csv"),
}
INDEX = {k: RatingIndex.build([d]) for k, d in DECKS.items()}
CALLS = {  # (key, category, subject, number) that have a rate
    "tutorial2": [("cgrates.org", "call", "2001", n) for n in ("1002", "2033", "3033")]
    + [("cgrates.org", "call", "1001", "1002"), ("cgrates.org", "sms", "x", "1002")],
    "sample": [("USD", "outbound", "t", n) for n in ("+12015550123", "+447400123456",
                                                     "+4915123456789", "+2348012345678")]
    + [("USD", "toll_free_inbound", "t", "+18005550100")],
}
instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2030, 12, 31),
                        timezones=st.just(UTC))
calls = st.sampled_from([(deck, c) for deck, cs in CALLS.items() for c in cs])


def price(index: RatingIndex, call: tuple[str, str, str, str], at: datetime, d: int) -> int:
    key, category, subject, number = call
    return price_call(index, rating_key=key, category=category, subject=subject,
                      number=number, started_at=at, duration_s=d).charge_micros


@given(calls, instants, st.integers(0, 20_000), st.integers(0, 5_000))
def test_price_is_monotone_in_duration(which: tuple[str, tuple[str, str, str, str]],
                                       at: datetime, d: int, extra: int) -> None:
    deck, call = which
    assert price(INDEX[deck], call, at, d) <= price(INDEX[deck], call, at, d + extra)


def split_deck(rate_rows: str, activations: list[int]) -> RatingIndex:
    """One plan, activated again at each offset: every activation is an artificial split."""
    base = datetime(2026, 3, 1, tzinfo=UTC)
    profiles = "".join(
        f"K,call,*any,{(base + timedelta(seconds=s)).isoformat()},RP,\n" for s in activations)
    return RatingIndex.build([load_cgrates_files({
        "Destinations.csv": "DST,44\n", "Rates.csv": rate_rows,
        "DestinationRates.csv": "DR,DST,RT,*up,4,,\n", "RatingPlans.csv": "RP,DR,*any,10\n",
        "RatingProfiles.csv": profiles})])


RATES = ["RT,0.3,0.6,60s,60s,0s\n", "RT,0,0.6,60s,60s,0s\nRT,0,0.6,60s,1s,60s\n",
         "RT,0.05,0.6,60s,30s,0s\nRT,0,0.6,60s,6s,30s\n", "RT,0,0.37,60s,1s,0s\n",
         "RT,0.1,0.5,60s,60s,0s\nRT,0,0.2,60s,10s,60s\nRT,0,0.1,1m,1s,300s\n"]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(RATES), st.lists(st.integers(1, 3_000), max_size=6),
       st.integers(0, 3_600))
def test_artificial_splits_never_change_the_price(rates: str, cuts: list[int],
                                                  d: int) -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    call = ("K", "call", "u", "+44207")
    plain = price(split_deck(rates, [0]), call, at, d)
    assert price(split_deck(rates, [0, *cuts]), call, at, d) == plain


@settings(deadline=None)
@given(calls, instants, st.integers(0, 20_000_000))
def test_max_seconds_is_consistent_with_price(which: tuple[str, tuple[str, str, str, str]],
                                              at: datetime, amount: int) -> None:
    deck, call = which
    key, category, subject, number = call
    best = max_seconds_for(INDEX[deck], rating_key=key, category=category, subject=subject,
                           number=number, started_at=at, amount_micros=amount, limit_s=20_000)
    if best is None:  # free for the whole limit
        assert price(INDEX[deck], call, at, 20_000) == 0
        return
    assert price(INDEX[deck], call, at, best) <= amount
    if best < 20_000:
        with contextlib.suppress(NoRate):
            assert price(INDEX[deck], call, at, best + 1) > amount


ROUND_TRIPPED = {k: RatingIndex.build([deck_from_json(json.loads(json.dumps(deck_to_json(d))))])
                 for k, d in DECKS.items()}


@given(calls, instants, st.integers(0, 10_000))
def test_codec_round_trip_gives_identical_prices(which: tuple[str, tuple[str, str, str, str]],
                                                 at: datetime, d: int) -> None:
    deck, call = which
    assert price(INDEX[deck], call, at, d) == price(ROUND_TRIPPED[deck], call, at, d)
