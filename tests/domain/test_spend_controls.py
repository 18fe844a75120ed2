"""Spend controls, pure rules: policies, caps, local days and months, velocity, anomaly,
implausible records; examples first, then properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commcredits.domain.spend_controls import (
    DIAL_OUT_POLICIES,
    GOVERNED_CALL_TYPES,
    SpendControls,
    anomaly,
    balance_crossings,
    cap_room,
    day_bounds,
    effective_policy,
    hourly_average,
    implausible,
    month_bounds,
    policy_blocks,
    velocity_exceeded,
)

U = 1_000_000
CALL_TYPES = ("user_out", "user_in", "user_out_conf", "user_out_transfer", "user_out_forwarding",
              "conf_in", "conf_out", "ucap_in", "ucap_out", "unassigned_in")
NUMBER_TYPES = ("fixed_line", "mobile", "toll_free", "premium_rate", "unknown")


@pytest.mark.parametrize(("policy", "domestic", "number_type", "blocked"), [
    ("all", False, "premium_rate", False),
    ("no_premium", False, "mobile", False),
    ("no_premium", True, "premium_rate", True),
    ("domestic_only", True, "fixed_line", False),
    ("domestic_only", False, "fixed_line", True),
    ("domestic_only", True, "premium_rate", True),
    ("none", True, "toll_free", True),
])
def test_policy_examples(policy: str, domestic: bool, number_type: str, blocked: bool) -> None:
    assert policy_blocks(policy, call_type="user_out", domestic=domestic, number_type=number_type,
                         emergency=False) is blocked
    assert policy_blocks(policy, call_type="conf_out", domestic=domestic, number_type=number_type,
                         emergency=False) is blocked


@given(st.sampled_from(DIAL_OUT_POLICIES), st.sampled_from(CALL_TYPES), st.booleans(),
       st.sampled_from(NUMBER_TYPES), st.booleans())
def test_policy_never_blocks_inbound_or_emergency(policy: str, call_type: str, domestic: bool,
                                                  number_type: str, emergency: bool) -> None:
    blocked = policy_blocks(policy, call_type=call_type, domestic=domestic, number_type=number_type,
                            emergency=emergency)
    if emergency or call_type not in GOVERNED_CALL_TYPES:
        assert not blocked
    # the policies are ordered: what a looser one blocks, every stricter one blocks too
    order = ("all", "no_premium", "domestic_only", "none")
    stricter = order[order.index(policy):]
    if blocked:
        assert all(policy_blocks(p, call_type=call_type, domestic=domestic, number_type=number_type,
                                 emergency=emergency) for p in stricter)


def test_effective_policy_and_unknown_names() -> None:
    assert effective_policy("all", None) == "all"
    assert effective_policy("all", "none") == "none"
    assert effective_policy("none", "all") == "all"
    with pytest.raises(ValueError, match="unknown dial-out policy"):
        effective_policy("all", "nowhere")


@pytest.mark.parametrize("kwargs", [
    {"dial_out_policy": "some"}, {"daily_limit": -1}, {"monthly_limit": 10_000_001 * U},
    {"max_auto_recharges_per_day": 0}, {"max_auto_recharges_per_day": 101}, {"low_balance_threshold": -5},
])
def test_controls_check_their_inputs(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SpendControls(**kwargs)  # type: ignore[arg-type]


def test_cap_room_examples() -> None:
    assert cap_room(SpendControls(), spent_today_tenant=10, spent_month_tenant=10, spent_today_user=10) is None
    c = SpendControls(daily_limit=100 * U, monthly_limit=1000 * U, user_daily_limit=30 * U)
    assert cap_room(c, spent_today_tenant=20 * U, spent_month_tenant=990 * U, spent_today_user=0) == 10 * U
    assert cap_room(c, spent_today_tenant=20 * U, spent_month_tenant=20 * U, spent_today_user=25 * U) == 5 * U
    assert cap_room(c, spent_today_tenant=20 * U, spent_month_tenant=20 * U, spent_today_user=None) == 80 * U
    assert cap_room(c, spent_today_tenant=120 * U, spent_month_tenant=20 * U, spent_today_user=None) == 0


limits = st.one_of(st.none(), st.integers(0, 1000 * U))


@given(limits, limits, limits, st.lists(st.integers(0, 50 * U), max_size=40), st.integers(1, 4))
def test_granting_no_more_than_the_room_never_passes_a_cap(
        daily: int | None, monthly: int | None, per_user: int | None, wanted: list[int], concurrent: int) -> None:
    """Calls granted at most cap_room never spend past any cap by more than what calls in
    flight at once were each granted before the others were counted (one increment each)."""
    c = SpendControls(daily_limit=daily, monthly_limit=monthly, user_daily_limit=per_user)
    spent = 0
    for i in range(0, len(wanted), concurrent):
        batch = wanted[i:i + concurrent]
        room = cap_room(c, spent_today_tenant=spent, spent_month_tenant=spent, spent_today_user=spent)
        grants = [w if room is None else min(w, room) for w in batch]  # each sees the same room
        spent += sum(grants)
        caps = [x for x in (daily, monthly, per_user) if x is not None]
        if caps:
            assert spent <= min(caps) + (len(batch) - 1) * 50 * U or spent - sum(grants) >= min(caps)
            if room == 0:
                assert sum(grants) == 0


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
       st.sampled_from(sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc"))))
@settings(max_examples=300)
def test_day_and_month_hold_now_and_tile_time(now: datetime, zone: str) -> None:
    start, end = day_bounds(now, zone)
    assert start <= now < end
    assert timedelta(hours=20) <= end - start <= timedelta(hours=27)
    assert day_bounds(end, zone)[0] == end  # the next day starts where this one ends
    local = start.astimezone(ZoneInfo(zone))
    assert local.date() == now.astimezone(ZoneInfo(zone)).date()
    m_start, m_end = month_bounds(now, zone)
    assert m_start <= start and end <= m_end
    assert month_bounds(m_end, zone)[0] == m_end


def test_day_boundary_is_the_tenants_midnight() -> None:
    tokyo = datetime(2026, 11, 22, 14, 59, tzinfo=UTC)  # 23:59 in Tokyo
    assert day_bounds(tokyo, "Asia/Tokyo") == (datetime(2026, 11, 21, 15, tzinfo=UTC),
                                               datetime(2026, 11, 22, 15, tzinfo=UTC))
    spring = datetime(2026, 3, 8, 12, tzinfo=UTC)  # New York's 23-hour day
    start, end = day_bounds(spring, "America/New_York")
    assert (start, end - start) == (datetime(2026, 3, 8, 5, tzinfo=UTC), timedelta(hours=23))
    assert month_bounds(datetime(2026, 12, 31, 23, tzinfo=UTC), "Pacific/Auckland")[0] == \
        datetime(2026, 12, 31, 11, tzinfo=UTC)


def test_velocity_anomaly_and_crossings() -> None:
    assert not velocity_exceeded(4, 5) and velocity_exceeded(5, 5)
    assert hourly_average(720 * 3 * U) == 3 * U
    assert anomaly(60 * U, 3 * U, 50 * U) and not anomaly(15 * U, 3 * U, 10 * U)
    assert not anomaly(40 * U, 1 * U, 50 * U)  # five times nothing, but below the purchase minimum
    assert balance_crossings(100, 5, 10) == ("balance_low",)
    assert balance_crossings(100, 0, 10) == ("balance_low", "balance_depleted")
    assert balance_crossings(5, -3, 10) == ("balance_depleted",)
    assert balance_crossings(0, -3, 10) == ()
    assert balance_crossings(-3, 40, 10) == ()
    assert balance_crossings(100, 5, None) == ()


@given(st.integers(-10**9, 10**9), st.integers(-10**9, 10**9), st.one_of(st.none(), st.integers(0, 10**9)))
def test_crossings_fire_only_going_down_across_the_line(before: int, after: int, threshold: int | None) -> None:
    events = balance_crossings(before, after, threshold)
    if after >= before:
        assert events == ()
    assert ("balance_depleted" in events) == (before > 0 >= after)


def test_implausible_records() -> None:
    now = datetime(2026, 11, 22, 10, tzinfo=UTC)
    assert implausible(now + timedelta(minutes=5), 60, now) is None
    assert implausible(now + timedelta(minutes=5, seconds=1), 60, now) == "invalid_time"
    assert implausible(now - timedelta(days=1), 86_400, now) is None
    assert implausible(now - timedelta(days=2), 86_401, now) == "implausible_duration"
