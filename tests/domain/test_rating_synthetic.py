"""Hand-computed prices on the sample rate card and on small synthetic decks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from commcredits.domain.rating import (
    NoRate,
    RatingError,
    RatingIndex,
    max_seconds_for,
    price_call,
)
from commcredits.rating_import import load_cgrates_files, load_ratecard

TESTDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata"
JUNE = datetime(2026, 6, 1, 12, tzinfo=UTC)
SAMPLE = RatingIndex.build([load_ratecard((TESTDATA / "sample-ratecard.csv").read_text(),
                                          filename="sample-ratecard.csv")])
HEADER = ("category,prefix,destination,rate_per_minute,connection_fee,initial_increment,"
          "next_increment,effective_from\n")


def micros(index: RatingIndex, number: str, seconds: int, category: str = "outbound",
           at: datetime = JUNE, key: str = "USD", **kw: str) -> int:
    return price_call(index, rating_key=key, category=category, subject="tenant-7",
                      number=number, started_at=at, duration_s=seconds, **kw).charge_micros


@pytest.mark.parametrize(("category", "number", "seconds", "expected"), [
    ("outbound", "+12015550123", 61, 30_000),      # 0.015/min, 60/60: two minutes
    ("outbound", "+18005550100", 300, 0),          # toll-free prefix 1800 at 0
    ("outbound", "+19005550100", 61, 4_230_000),   # 0.25 + 2 x 1.99
    ("outbound", "+447400123456", 61, 120_000),    # 0.12 x 61/60 = 0.122 -> 0.12
    ("outbound", "+447400123456", 90, 180_000),
    ("outbound", "+442079460000", 61, 30_000),     # 0.025 x 61/60 = 0.0254 -> 0.03
    ("outbound", "+4915123456789", 45, 140_000),   # 60/1: first minute whole
    ("outbound", "+2348012345678", 30, 450_000),   # 0.10 + 0.35
    ("outbound", "+81312345678", 1, 90_000),
    ("toll_free_inbound", "+18005550100", 59, 40_000),  # 0.035 -> half_up 0.04
    ("toll_free_inbound", "+18005550100", 61, 70_000),
    ("conference_dial_in", "+442079460000", 60, 30_000),  # 0.032 -> 0.03
    ("conference_dial_out", "+447400123456", 61, 300_000),
])
def test_sample_ratecard(category: str, number: str, seconds: int, expected: int) -> None:
    assert micros(SAMPLE, number, seconds, category) == expected


def test_sample_ratecard_explains_and_checks_currency() -> None:
    call = price_call(SAMPLE, rating_key="USD", category="outbound", subject="t",
                      number="+447400123456", started_at=JUNE, duration_s=61)
    assert (call.prefix, call.destination_name, call.rounding, call.decimals) == (
        "447", "United Kingdom mobile", "half_up", 2)
    assert call.explain()["spans"] == [
        {"start_s": 0, "seconds": 60, "billed_s": 60, "rate": "3/25", "unit_s": 60,
         "increment_s": 60, "cost": "3/25"},
        {"start_s": 60, "seconds": 1, "billed_s": 1, "rate": "3/25", "unit_s": 60,
         "increment_s": 1, "cost": "1/500"}]
    with pytest.raises(NoRate):
        micros(SAMPLE, "+447400123456", 61, currency="EUR")
    with pytest.raises(NoRate):
        micros(SAMPLE, "+33612345678", 60, category="conference_dial_in")
    with pytest.raises(NoRate):  # before the card's effective_from
        micros(SAMPLE, "+447400123456", 61, at=datetime(2025, 12, 31, tzinfo=UTC))


def card(rows: str, **kw: object) -> RatingIndex:
    return RatingIndex.build([load_ratecard(HEADER + rows, filename="t.csv", currency="USD",
                                            **kw)])  # type: ignore[arg-type]


@pytest.mark.parametrize(("first", "nxt", "seconds", "expected"), [
    (60, 60, 61, 1_200_000), (60, 60, 1, 600_000), (60, 1, 61, 610_000), (60, 1, 20, 600_000),
    (30, 6, 10, 300_000), (30, 6, 31, 360_000), (30, 6, 37, 420_000), (1, 1, 61, 610_000),
])
def test_billing_increments(first: int, nxt: int, seconds: int, expected: int) -> None:
    index = card(f"outbound,44,UK,0.60,0,{first},{nxt},2026-01-01\n", decimals=4)
    assert micros(index, "+442079460000", seconds) == expected


@pytest.mark.parametrize(("rounding", "seconds", "expected"), [
    ("up", 1, 10_000), ("half_up", 1, 10_000), ("down", 1, 0),        # 0.005
    ("up", 3, 20_000), ("half_up", 3, 20_000), ("down", 3, 10_000),   # 0.015
    ("up", 4, 20_000), ("half_up", 4, 20_000), ("down", 4, 20_000),   # 0.02
    ("up", 7, 40_000), ("half_up", 7, 40_000), ("down", 7, 30_000),   # 0.035
])
def test_rounding_methods_round_once(rounding: str, seconds: int, expected: int) -> None:
    index = card("outbound,44,UK,0.30,0,1,1,2026-01-01\n", rounding=rounding)
    assert micros(index, "+44207", seconds) == expected


def test_rounding_is_once_per_call_not_per_increment() -> None:
    index = card("outbound,44,UK,0.01,0,1,1,2026-01-01\n", decimals=2)  # 1/6000 per second
    assert micros(index, "+44207", 1) == 0  # 0.000167 -> 0.00
    assert micros(index, "+44207", 3600) == 600_000  # not 3600 x round(0.000167)


def test_decimals_above_six_round_to_micros() -> None:
    index = card("outbound,44,UK,0.0000060,0,1,1,2026-01-01\n", decimals=8, rounding="up")
    assert micros(index, "+44207", 1) == 1  # 0.0000001 -> one micro


def test_activation_split_mid_call_and_cumulative_card() -> None:
    index = card("outbound,44,UK,0.60,0,1,1,2026-01-01\n"
                 "outbound,49,DE,0.30,0,1,1,2026-01-01\n"
                 "outbound,44,UK,1.20,0.05,1,1,2026-02-01\n", decimals=4)
    start = datetime(2026, 1, 31, 23, 59, 30, tzinfo=UTC)
    assert micros(index, "+44207", 60, at=start) == 300_000 + 600_000
    assert micros(index, "+44207", 60, at=JUNE) == 1_250_000
    assert micros(index, "+49301", 60, at=JUNE) == 300_000  # still rated after the change


CG = {
    "Destinations.csv": "#Id,Prefix\nDST_44,44\nDST_447,447\n",
    "Rates.csv": "#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\n"
                 "RT_SEC,0,0.01,1s,1s,0s\nRT_CHEAP,0,0.005,1s,1s,0s\n",
    "DestinationRates.csv": "#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,"
                            "MaxCost,MaxCostStrategy\n"
                            "DR_FREE,DST_44,RT_SEC,*up,4,0.5,*free\n"
                            "DR_447,DST_447,RT_SEC,*up,4,,\nDR_NOON,DST_447,RT_CHEAP,*up,4,,\n",
    "Timings.csv": "#ID,Years,Months,MonthDays,WeekDays,Time\n"
                   "TM_NOON,*any,*any,*any,*any,12:00:00\n",
    "RatingPlans.csv": "#Id,DestinationRatesId,TimingTag,Weight\n"
                       "RP,DR_FREE,*any,10\nRP,DR_447,*any,10\nRP,DR_NOON,TM_NOON,10\n",
    "RatingProfiles.csv": "#Tenant,Category,Subject,ActivationTime,RatingPlanId,Fallback\n"
                          "USD,outbound,*any,2020-01-01T00:00:00Z,RP,\n",
}
SYN = RatingIndex.build([load_cgrates_files(CG)])


def test_max_cost_free_caps_the_total() -> None:
    assert micros(SYN, "+44207", 30) == 300_000
    call = price_call(SYN, rating_key="USD", category="outbound", subject="t",
                      number="+44207", started_at=JUNE, duration_s=100)
    assert (call.charge_micros, call.capped) == (500_000, True)
    assert max_seconds_for(SYN, rating_key="USD", category="outbound", subject="t",
                           number="+44207", started_at=JUNE, amount_micros=600_000) == 86_400


def test_equal_weight_timing_in_force_until_next_starts() -> None:
    # *any (00:00) and TM_NOON (12:00) at the same weight: noon takes over at 12:00
    morning = datetime(2026, 6, 1, 11, 59, 50, tzinfo=UTC)
    assert micros(SYN, "+447400", 20, at=morning) == 10 * 10_000 + 10 * 5_000
    assert micros(SYN, "+447400", 10, at=datetime(2026, 6, 1, 23, 0, tzinfo=UTC)) == 50_000
    # the midnight ends TM_NOON's day: the *any timing is in force again
    late = datetime(2026, 6, 1, 23, 59, 50, tzinfo=UTC)
    assert micros(SYN, "+447400", 20, at=late) == 10 * 5_000 + 10 * 10_000


def test_invalid_arguments() -> None:
    with pytest.raises(RatingError):
        micros(SYN, "+44207", -1)
    with pytest.raises(RatingError):
        price_call(SYN, rating_key="USD", category="outbound", subject="t", number="+44207",
                   started_at=datetime(2026, 1, 1), duration_s=1)
