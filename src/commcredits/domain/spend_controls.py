"""Spend controls against toll fraud (DOMAIN.md "Spend controls"), pure: no I/O, `now` is a
parameter.

- A **dial-out policy** per tenant, overridable per user: `all`, `no_premium`,
  `domestic_only`, `none` (Teams' outbound calling restrictions). It governs outbound calls
  of users and meeting dial-out only; inbound calls, auto attendant / call queue outbound
  (`ucap_out`) and emergency calls are never blocked.
- **Caps** on credit-funded spend per tenant per day and per month and per user per day;
  days and months are the tenant's local ones, handed to the database as UTC instants.
  `cap_room` says how much may still be spent (None = no cap applies).
- The **auto-recharge velocity** guard, the **spend anomaly** test and the **implausible
  call record** test are small named predicates, reused by the services and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .money import MICROS

DIAL_OUT_POLICIES = ("all", "no_premium", "domestic_only", "none")
GOVERNED_CALL_TYPES = frozenset({"user_out", "user_out_conf", "user_out_transfer", "user_out_forwarding",
                                 "conf_out"})
DEFAULT_MAX_AUTO_RECHARGES = 5
MAX_AUTO_RECHARGES_BOUND = 100
LIMIT_BOUND = 10_000_000 * MICROS  # no cap or threshold above 10 million units: a typing mistake
ANOMALY_FACTOR = 5
HOURS_IN_30_DAYS = 30 * 24
FUTURE_TOLERANCE = timedelta(minutes=5)
LONGEST_CALL_S = 24 * 3600


def check_policy(policy: str) -> str:
    if policy not in DIAL_OUT_POLICIES:
        raise ValueError(f"unknown dial-out policy {policy!r}: use one of {', '.join(DIAL_OUT_POLICIES)}")
    return policy


def _check_amount(name: str, value: int | None) -> None:
    if value is not None and not 0 <= value <= LIMIT_BOUND:
        raise ValueError(f"{name} must lie between 0 and {LIMIT_BOUND // MICROS} units, or be none")


@dataclass(frozen=True, slots=True)
class SpendControls:
    """A tenant's spend controls; money in micros, None = no limit / alert off."""

    dial_out_policy: str = "all"
    daily_limit: int | None = None
    monthly_limit: int | None = None
    user_daily_limit: int | None = None
    low_balance_threshold: int | None = None
    max_auto_recharges_per_day: int = DEFAULT_MAX_AUTO_RECHARGES

    def __post_init__(self) -> None:
        check_policy(self.dial_out_policy)
        for name in ("daily_limit", "monthly_limit", "user_daily_limit", "low_balance_threshold"):
            _check_amount(name, getattr(self, name))
        if not 1 <= self.max_auto_recharges_per_day <= MAX_AUTO_RECHARGES_BOUND:
            raise ValueError(f"max_auto_recharges_per_day must lie between 1 and {MAX_AUTO_RECHARGES_BOUND}")


def effective_policy(tenant_policy: str, user_policy: str | None) -> str:
    """The user's own policy when set, else the tenant's."""
    return check_policy(user_policy if user_policy is not None else tenant_policy)


def policy_blocks(policy: str, *, call_type: str, domestic: bool, number_type: str, emergency: bool) -> bool:
    """Whether `policy` forbids this call. Only governed outbound calls can be blocked."""
    check_policy(policy)
    if emergency or call_type not in GOVERNED_CALL_TYPES:
        return False
    premium = number_type == "premium_rate"
    if policy == "none":
        return True
    if policy == "domestic_only":
        return premium or not domestic
    if policy == "no_premium":
        return premium
    return False


def cap_room(controls: SpendControls, *, spent_today_tenant: int, spent_month_tenant: int,
             spent_today_user: int | None) -> int | None:
    """Micros that may still be spent under every cap that applies (never below 0); None when
    no cap applies. `spent_today_user` is None for a call without a user (then the per-user
    cap does not apply)."""
    rooms = [limit - spent for limit, spent in (
        (controls.daily_limit, spent_today_tenant),
        (controls.monthly_limit, spent_month_tenant),
        (controls.user_daily_limit, spent_today_user),
    ) if limit is not None and spent is not None]
    return max(0, min(rooms)) if rooms else None


def day_bounds(now: datetime, tz: str | ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the tenant's local day holding `now`, as instants in `now`'s zone."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    local = now.astimezone(zone)
    start = datetime(local.year, local.month, local.day, tzinfo=zone)
    nxt = local.date() + timedelta(days=1)
    following = datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone)
    return _instant(start, now), _instant(following, now)


def month_bounds(now: datetime, tz: str | ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the tenant's local calendar month holding `now`."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    local = now.astimezone(zone)
    start = datetime(local.year, local.month, 1, tzinfo=zone)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return _instant(start, now), _instant(datetime(year, month, 1, tzinfo=zone), now)


def _instant(local: datetime, like: datetime) -> datetime:
    # a local midnight that a DST jump skips maps to the jump's instant (fold=0 semantics)
    return local.astimezone(like.tzinfo)


def day_key(now: datetime, tz: str | ZoneInfo) -> str:
    """The tenant's local date, e.g. '2026-11-22' (a period key for once-per-day notices)."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return now.astimezone(zone).date().isoformat()


def month_key(now: datetime, tz: str | ZoneInfo) -> str:
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return now.astimezone(zone).strftime("%Y-%m")


def velocity_exceeded(successes_in_24h: int, limit: int) -> bool:
    """True when another recharge would exceed `limit` successful ones in 24 hours."""
    if successes_in_24h < 0 or limit < 1:
        raise ValueError("counts are never negative and the limit is at least 1")
    return successes_in_24h >= limit


def hourly_average(spend_30_days: int) -> int:
    """The 30-day hourly average of credit spend, in micros (rounded down)."""
    return max(0, spend_30_days) // HOURS_IN_30_DAYS


def anomaly(last_hour_spend: int, thirty_day_hourly_average: int, purchase_minimum: int) -> bool:
    """Last hour's credit spend above 5x the 30-day hourly average and above the purchase
    minimum (the minimum keeps a tenant that barely calls from alerting on its first call)."""
    return (last_hour_spend > ANOMALY_FACTOR * thirty_day_hourly_average
            and last_hour_spend > purchase_minimum)


def implausible(record_started_at: datetime, duration_s: int, now: datetime) -> str | None:
    """`invalid_time` for a record dated more than 5 minutes after the service clock,
    `implausible_duration` for one longer than 24 hours, else None."""
    if record_started_at > now + FUTURE_TOLERANCE:
        return "invalid_time"
    if duration_s > LONGEST_CALL_S:
        return "implausible_duration"
    return None


def balance_crossings(before: int, after: int, low_threshold: int | None) -> tuple[str, ...]:
    """The alerts a balance move from `before` to `after` raises: `balance_low` when it falls
    below the threshold from at or above it, `balance_depleted` when it reaches zero or below
    from above zero. Moves up raise nothing."""
    events: list[str] = []
    if low_threshold is not None and before >= low_threshold > after:
        events.append("balance_low")
    if before > 0 >= after:
        events.append("balance_depleted")
    return tuple(events)
