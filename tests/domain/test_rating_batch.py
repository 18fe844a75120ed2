"""price_calls (the bulk API) and the single-span fast path agree with the general path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commcredits.domain.rating import (
    NoRate,
    RatedCall,
    RatingError,
    RatingIndex,
    epoch_seconds,
    price_call,
    price_calls,
)
from commcredits.domain.rating import _general as general_path
from commcredits.domain.rating.index import Resolution
from commcredits.rating_import import load_cgrates_files, load_cgrates_folder, load_ratecard

TESTDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata"
HEADER = ("category,prefix,destination,rate_per_minute,connection_fee,initial_increment,"
          "next_increment,effective_from\n")
CG = {  # free max cost, a noon timing, half-up with odd denominators, a later activation
    "Destinations.csv": "DST_44,44\nDST_447,447\nDST_1,1\n",
    "Rates.csv": "RT_SEC,0.000001,0.2,1s,1s,0s\nRT_CHEAP,0,0.6,3s,1s,0s\n"
                 "RT_MIN,0.05,0.6,60s,60s,0s\nRT_MIN,0,0.3,60s,1s,60s\n",
    "DestinationRates.csv": "DR_FREE,DST_44,RT_SEC,*middle,6,0.5,*free\n"
                            "DR_447,DST_447,RT_SEC,*middle,7,,\n"
                            "DR_NOON,DST_447,RT_CHEAP,*down,6,,\n"
                            "DR_US,DST_1,RT_MIN,*up,2,2,*disconnect\n",
    "Timings.csv": "TM_NOON,*any,*any,*any,*any,12:00:00\n",
    "RatingPlans.csv": "RP,DR_FREE,*any,10\nRP,DR_447,*any,10\nRP,DR_NOON,TM_NOON,10\n"
                       "RP,DR_US,*any,10\nRP2,DR_US,*any,10\n",
    "RatingProfiles.csv": "K,call,*any,2026-01-01T00:00:00Z,RP,\n"
                          "K,call,*any,2027-06-01T00:00:00Z,RP2,\n"
                          "K,call,vip,2026-03-01T00:00:00Z,RP2,\n",
}
CARD = (HEADER + "outbound,44,UK,0.0000070,0,1,1,2026-01-01\n"
        "outbound,447,UK mobile,0.0333333,0.05,60,1,2026-01-01\n"
        "outbound,1,US,0.0100003,0,30,6,2026-01-01\n"
        "outbound,4420,London,0.01,0,7,3,2026-03-01\n")
INDEXES = {
    "sample": (RatingIndex.build([load_ratecard(
        (TESTDATA / "sample-ratecard.csv").read_text(), filename="s.csv")]),
        ("USD", "outbound", "t")),
    "tutorial2": (RatingIndex.build([load_cgrates_folder(TESTDATA / "cgrates-tutorial2")]),
                  ("cgrates.org", "call", "2001")),
    "synthetic": (RatingIndex.build([load_cgrates_files(CG)]), ("K", "call", "vip")),
    "card": (RatingIndex.build([
        load_ratecard(CARD, filename="c.csv", currency="USD", decimals=8),
        load_ratecard(CARD, filename="d.csv", currency="EUR", decimals=6, rounding="down",
                      rating_key="USD", version=3, timezone="Europe/London")]),
        ("USD", "outbound", "t")),
}
NUMBERS = ["+12015550123", "+18005550100", "+447400123456", "+442079460000", "+4915123456",
           "+2348012345678", "+33612345678", "1002", "2033", "3033", "447", "4", "", "+",
           "+44", "+4420", "+1900555"]
BASE = datetime(2026, 1, 1, tzinfo=UTC)

indexes = st.sampled_from(sorted(INDEXES))
subjects = st.sampled_from([None, "t", "2001", "1001", "vip", "*any"])
EDGES = [epoch_seconds(datetime(*d, tzinfo=UTC)) + s  # activations and noon, and around them
         for d in [(2026, 1, 1), (2026, 3, 1), (2027, 6, 1), (2026, 6, 1, 12)]
         for s in (-61, -1, 0, 1)]
calls = st.lists(st.tuples(
    st.one_of(st.sampled_from(NUMBERS), st.from_regex(r"\+?[1-9][0-9]{0,12}", fullmatch=True)),
    st.one_of(st.integers(-5_000_000, 60_000_000).map(lambda s: epoch_seconds(BASE) + s),
              st.sampled_from(EDGES)),
    st.one_of(st.sampled_from([0, 1, 29, 30, 59, 60, 61, 3600]), st.integers(0, 20_000))),
    max_size=40)


def one_by_one(index: RatingIndex, key: str, category: str, subject: str,
               batch: list[tuple[str, int, int]], currency: str | None) -> list[object]:
    out: list[object] = []
    for number, t, d in batch:
        try:
            out.append(price_call(index, rating_key=key, category=category, subject=subject,
                                  number=number, started_at=BASE + timedelta(
                                      seconds=t - epoch_seconds(BASE)),
                                  duration_s=d, currency=currency))
        except NoRate as e:
            out.append(e)
    return out


def same(a: object, b: object) -> bool:
    if isinstance(a, NoRate) or isinstance(b, NoRate):
        return type(a) is type(b) and str(a) == str(b)
    assert isinstance(a, RatedCall) and isinstance(b, RatedCall)
    return a == b and a.explain() == b.explain() and a.spans == b.spans


@settings(max_examples=150, deadline=None)
@given(indexes, subjects, calls, st.sampled_from([None, "USD", "EUR"]), st.booleans())
def test_batch_equals_one_by_one(which: str, subject: str | None,
                                 batch: list[tuple[str, int, int]], currency: str | None,
                                 in_order: bool) -> None:
    index, (key, category, default_subject) = INDEXES[which]
    subject = subject or default_subject
    if in_order:  # bulk rating usually comes sorted by start; either order must agree
        batch = sorted(batch, key=lambda c: c[1])
    got = price_calls(index, rating_key=key, category=category, subject=subject, calls=batch,
                      currency=currency)
    expected = one_by_one(index, key, category, subject, batch, currency)
    assert len(got) == len(expected)
    assert all(same(g, e) for g, e in zip(got, expected, strict=True))


@pytest.mark.parametrize("which", sorted(INDEXES))
def test_batch_across_activations_and_timings(which: str) -> None:
    """Calls in start order, just before, at and after each boundary (chain changes)."""
    index, (key, category, default_subject) = INDEXES[which]
    batch = [(number, t, d) for t in sorted(EDGES) for number in NUMBERS for d in (0, 1, 90)]
    for subject in (default_subject, "vip", "*any"):
        got = price_calls(index, rating_key=key, category=category, subject=subject,
                          calls=batch)
        expected = one_by_one(index, key, category, subject, batch, None)
        assert all(same(g, e) for g, e in zip(got, expected, strict=True))


@settings(max_examples=150, deadline=None)
@given(indexes, subjects, calls, st.sampled_from([None, "USD"]))
def test_fast_path_equals_general_path(which: str, subject: str | None,
                                       batch: list[tuple[str, int, int]],
                                       currency: str | None) -> None:
    """The single-span fast path (precomputed `Quick`) prices exactly like resolve + walk."""
    index, (key, category, default_subject) = INDEXES[which]
    subject = subject or default_subject
    fast = one_by_one(index, key, category, subject, batch, currency)
    for (number, t, d), got in zip(batch, fast, strict=True):
        digits = number[1:] if number[:1] == "+" else number
        try:
            slow: object = general_path(index, key, category, subject, digits, t, d, currency)
        except NoRate as e:
            slow = e
        assert same(got, slow)


def test_batch_keeps_order_and_reports_no_rate_in_place() -> None:
    index, (key, category, subject) = INDEXES["sample"]
    t = epoch_seconds(datetime(2026, 6, 1, 12, tzinfo=UTC))
    got = price_calls(index, rating_key=key, category=category, subject=subject, calls=[
        ("+447400123456", t, 61), ("+999", t, 60), ("+12015550123", t, 61),
        ("+447400123456", t - 200 * 86_400, 61)])  # before the card's effective_from
    assert [type(g).__name__ for g in got] == ["RatedCall", "NoRate", "RatedCall", "NoRate"]
    first, _, third, _ = got
    assert isinstance(first, RatedCall) and isinstance(third, RatedCall)
    assert (first.charge_micros, third.charge_micros) == (120_000, 30_000)
    assert price_calls(index, rating_key=key, category=category, subject=subject,
                       calls=[]) == []


@pytest.mark.parametrize("bad", [("+44", 1_780_000_000, -1), ("+44", 1_780_000_000, 1.0),
                                 ("+44", 1_780_000_000.0, 1), ("+44", "2026-06-01", 1)])
def test_batch_rejects_invalid_arguments(bad: tuple[str, object, object]) -> None:
    index, (key, category, subject) = INDEXES["sample"]
    with pytest.raises(RatingError):
        price_calls(index, rating_key=key, category=category, subject=subject,
                    calls=[bad])  # type: ignore[list-item]


def test_rated_call_basis_is_the_resolution() -> None:
    index, (key, category, subject) = INDEXES["sample"]
    at = datetime(2026, 6, 1, 12, tzinfo=UTC)
    call = price_call(index, rating_key=key, category=category, subject=subject,
                      number="+447400123456", started_at=at, duration_s=61)
    res = index.resolve(key, category, subject, "447400123456", epoch_seconds(at), None)
    assert isinstance(call.basis, Resolution) and call.basis == res
    assert (call.subject, call.prefix) == ("*any", "447")


def test_started_at_is_floored_to_the_second() -> None:
    index, (key, category, _) = INDEXES["synthetic"]
    # TM_NOON (same weight) takes over at 12:00:00 UTC: 11:59:59.999999 is the second before
    for at in (datetime(2026, 6, 1, 11, 59, 59, 999_999, tzinfo=UTC),
               datetime(2026, 6, 1, 13, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=2)))):
        call = price_call(index, rating_key=key, category=category, subject="x",
                          number="+447400", started_at=at, duration_s=1)
        assert (call.rate_id, call.until) == ("RT_SEC", epoch_seconds(at) + 1)
    with pytest.raises(RatingError):
        price_call(index, rating_key=key, category=category, subject="x", number="+447400",
                   started_at=datetime(2026, 6, 1), duration_s=1)
