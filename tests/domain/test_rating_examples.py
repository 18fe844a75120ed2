"""RATING.md worked examples and hand-computed prices on the three public CGRateS plans."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from commcredits.domain.rating import NoRate, RatingIndex, max_seconds_for, price_call
from commcredits.rating_import import load_cgrates_folder

TESTDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata"
MAY_2024 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def index_of(folder: str, **kw: str) -> RatingIndex:
    return RatingIndex.build([load_cgrates_folder(TESTDATA / folder, **kw)])


TUTORIAL = index_of("cgrates-tutorial")
TUTORIAL2 = index_of("cgrates-tutorial2")
DEST_ANY = index_of("cgrates-destination-any")


def charge(index: RatingIndex, subject: str, number: str, seconds: int,
           at: datetime = MAY_2024, category: str = "call", key: str = "cgrates.org") -> str:
    call = price_call(index, rating_key=key, category=category, subject=subject,
                      number=number, started_at=at, duration_s=seconds)
    return f"{call.charge_micros / 1_000_000:.4f}".rstrip("0").rstrip(".")


@pytest.mark.parametrize(("seconds", "expected"), [(120, "0.7"), (130, "0.7167")])
def test_rating_md_worked_examples(seconds: int, expected: str) -> None:
    assert charge(TUTORIAL, "1001", "1002", seconds) == expected


def test_worked_example_explains_itself() -> None:
    call = price_call(TUTORIAL, rating_key="cgrates.org", category="call", subject="1001",
                      number="1002", started_at=MAY_2024, duration_s=130)
    assert (call.charge_micros, call.currency, call.connect_fee_micros) == (716_700, "USD",
                                                                          400_000)
    assert (call.destination_id, call.prefix, call.rate_id) == ("DST_1002", "1002", "RT_20CNT")
    assert (call.rounding, call.decimals, call.billed_seconds) == ("up", 4, 130)
    assert [(s.start_s, s.billed_s, str(s.cost)) for s in call.spans] == [
        (0, 60, "1/5"), (60, 70, "7/60")]
    assert str(call.exact_total) == "43/60"


@pytest.mark.parametrize(("subject", "number", "seconds", "expected"), [
    ("1001", "1002", 1, "0.6"),       # connect 0.4 + a whole first minute at 0.2
    ("1001", "1002", 60, "0.6"),
    ("1001", "1002", 61, "0.6017"),   # 0.6 + 0.1/60, rounded up to 4 decimals
    ("1001", "1003", 30, "0.3"),      # 0.01/s; max cost 0.12 *disconnect does not cap price
    ("1002", "1001", 120, "0.7"),     # RP_1002 -> DST_1001 at RT_20CNT
    ("1003", "1001", 130, "0.3584"),  # RT_10CNT: 0.2 + 0.1 + 70 x 0.05/60 = 0.358333
])
def test_tutorial_prices(subject: str, number: str, seconds: int, expected: str) -> None:
    assert charge(TUTORIAL, subject, number, seconds) == expected


def test_tutorial_sms_uses_any_subject_and_any_destination() -> None:
    assert charge(TUTORIAL, "1001", "1002", 5, category="sms") == "0.05"
    call = price_call(TUTORIAL, rating_key="cgrates.org", category="sms", subject="x",
                      number="+4412345", started_at=MAY_2024, duration_s=1)
    assert (call.charge_micros, call.destination_id, call.prefix, call.subject) == (
        10_000, "*any", None, "*any")


def test_tutorial_other_tenant_any_subject() -> None:
    assert charge(TUTORIAL, "someone", "1002", 120, key="cgrates.com") == "0.7"


def test_tutorial_activation_history() -> None:
    before = datetime(2012, 6, 1, tzinfo=UTC)
    assert charge(TUTORIAL, "1001", "1001", 120, at=before) == "0.7"  # RP_1002 then
    with pytest.raises(NoRate):
        charge(TUTORIAL, "1001", "1002", 120, at=before)
    # starts under RP_1002 (rates 1001), crosses into RP_1001 (does not): no rate mid-call
    with pytest.raises(NoRate, match="60 s into the call"):
        charge(TUTORIAL, "1001", "1001", 120, at=datetime(2014, 1, 13, 23, 59, tzinfo=UTC))


@pytest.mark.parametrize(("subject", "number", "category"), [
    ("1001", "1004", "call"), ("1001", "1001", "call"), ("1001", "1002", "data"),
    ("1001", "1002", "nosuch")])
def test_tutorial_no_rate(subject: str, number: str, category: str) -> None:
    with pytest.raises(NoRate) as err:
        charge(TUTORIAL, subject, number, 60, category=category)
    assert err.value.code == "no_rate"


def test_max_cost_disconnect_limits_authorised_time() -> None:
    def max_s(amount: int, number: str = "1003") -> int | None:
        return max_seconds_for(TUTORIAL, rating_key="cgrates.org", category="call",
                               subject="1001", number=number, started_at=MAY_2024,
                               amount_micros=amount)
    assert max_s(1_000_000) == 12  # 0.12 max cost at 0.01/s
    assert max_s(50_000) == 5
    assert max_s(1_000_000, "1002") == 300  # 0.4 + 0.2 for the first minute, 0.4 buys 240 s
    assert max_s(599_999, "1002") == 0  # less than connect fee + first minute


# --- cgrates-tutorial2: timings, weights, fallback subjects, flat fees, count units --------

MONDAY = datetime(2024, 5, 6, tzinfo=UTC)


def at(day: datetime, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return day.replace(hour=hh, minute=mm, second=ss)


@pytest.mark.parametrize(("start", "number", "seconds", "expected"), [
    (at(MONDAY, 9), "1002", 120, "2.6"),        # PEAK: 0.2 + 1.2 + 60 x 1.2/60
    (at(MONDAY, 7), "1002", 120, "1.3"),        # OFFPEAK_MORNING: 0.1 + 120 x 0.01
    (at(MONDAY, 20), "1002", 120, "1.3"),       # OFFPEAK_EVENING
    (datetime(2024, 5, 11, 9, tzinfo=UTC), "1002", 120, "1.3"),  # Saturday
    # 07:59:30: 30 s off-peak (0.3), then PEAK: 30 s billed as its first minute (1.2, the
    # minute swallows 30 s), 30 s per second (0.6); connect fee of the first span only
    (at(MONDAY, 7, 59, 30), "1002", 120, "2.2"),
    ("2024-12-31T23:59:30", "2033", 120, "2"),   # 30 s billed 60 at RT_120C, then NEW_YEAR
    ("2025-01-01T10:00:00", "2033", 60, "0.7"),  # NEW_YEAR weight 20 beats *any weight 10
    ("2025-01-01T10:00:00", "3033", 60, "1.4"),  # prefix 30 has only the *any timing
    (at(MONDAY, 9), "voicemail", 300, "0"),      # non-numeric prefix, RT_0
])
def test_tutorial2_timings(start: datetime | str, number: str, seconds: int,
                           expected: str) -> None:
    when = datetime.fromisoformat(start).replace(tzinfo=UTC) if isinstance(start, str) else start
    assert charge(TUTORIAL2, "2001", number, seconds, at=when) == expected


def test_tutorial2_midnight_split_spans() -> None:
    call = price_call(TUTORIAL2, rating_key="cgrates.org", category="call", subject="2001",
                      number="2033", started_at=datetime(2024, 12, 31, 23, 59, 30, tzinfo=UTC),
                      duration_s=120)
    assert [(s.start_s, s.seconds, s.billed_s, s.rate_id) for s in call.spans] == [
        (0, 30, 60, "RT_120C"), (60, 60, 60, "RT_60C")]
    assert call.connect_fee_micros == 200_000 and call.billed_seconds == 120


def test_tutorial2_fallback_subject() -> None:
    assert charge(TUTORIAL2, "1001", "1002", 60, at=at(MONDAY, 9)) == "0.7"  # RP_1001
    call = price_call(TUTORIAL2, rating_key="cgrates.org", category="call", subject="1001",
                      number="1003", started_at=at(MONDAY, 9), duration_s=120)
    assert (call.subject, call.rating_plan_id, call.charge_micros) == (
        "*any", "RP_STANDARD", 2_600_000)


@pytest.mark.parametrize(("subject", "category", "number", "seconds", "expected"), [
    ("RPF_SPECIAL_BLC", "call", "1002", 300, "0.1"),  # unit 0: only the connect fee
    ("x", "reseller1", "5555", 600, "0.1"),
    ("x", "data", "any", 1, "1"), ("x", "data", "any", 1025, "2"), ("x", "data", "any", 2048, "2"),
    ("x", "sms", "1002", 3, "0.3"),   # DST_1002 beats DST_10 (longer prefix)
    ("x", "sms", "1005", 3, "0.6"),
    ("RPF_SPECIAL_BLC", "call", "1002", 0, "0"),  # never answered: not even the connect fee
])
def test_tutorial2_flat_fees_and_units(subject: str, category: str, number: str,
                                       seconds: int, expected: str) -> None:
    assert charge(TUTORIAL2, subject, number, seconds, at=at(MONDAY, 9),
                  category=category) == expected


@pytest.mark.parametrize(("number", "category", "when"), [
    ("5000", "call", MONDAY), ("2000", "sms", MONDAY), ("1002", "call", datetime(2019, 2, 1,
                                                                                 tzinfo=UTC))])
def test_tutorial2_no_rate(number: str, category: str, when: datetime) -> None:
    with pytest.raises(NoRate):
        charge(TUTORIAL2, "2001", number, 60, at=when, category=category)


def test_timings_read_in_deck_time_zone() -> None:
    berlin = index_of("cgrates-tutorial2", timezone="Europe/Berlin")
    # 06:30 UTC on a May Monday is 08:30 in Berlin: peak there, off-peak in UTC
    assert charge(berlin, "2001", "1002", 120, at=at(MONDAY, 6, 30)) == "2.6"
    assert charge(TUTORIAL2, "2001", "1002", 120, at=at(MONDAY, 6, 30)) == "1.3"


# --- cgrates-destination-any -------------------------------------------------------------

@pytest.mark.parametrize(("number", "seconds", "expected"), [
    ("1002", 120, "0.02"), ("1002", 61, "0.02"), ("1002", 1, "0.01"),
    ("1003", 120, "0.35"),   # *any: 0.2 + 0.1 + 60 x 0.05/60
    ("1003", 90, "0.325"), ("+441234567", 60, "0.3")])
def test_destination_any(number: str, seconds: int, expected: str) -> None:
    assert charge(DEST_ANY, "1001", number, seconds) == expected
