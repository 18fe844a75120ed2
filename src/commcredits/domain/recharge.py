"""Auto-recharge rules (DOMAIN.md "Auto-recharge"), pure: no I/O, `now` is a parameter.

The policy is a frozen value; every event (settings saved, a charge decided, a charge
succeeded or declined, a card saved) is a function from the old policy to the new one, so
the service only loads, asks, and writes back.

- Fires when the balance (reservations not counted) is strictly below the trigger; equal
  does not fire.
- One charge: the smallest multiple of the recharge amount that lifts the balance to at
  least the trigger (a deficit of -190 with trigger 50 and amount 50 -> 250, once).
- Statuses: `off` (disabled), `active`, `retrying` (a soft decline waits for its retry
  instant), `suspended` (a hard decline or the third consecutive failure; only saving a new
  or updated card resumes it).
- Velocity (DOMAIN.md "Spend controls"): a charge due after `max_auto_recharges_per_day`
  successful ones in the last 24 hours is not made; the recharge is suspended with reason
  `velocity_limit` (`suspend_for_velocity`). Turning it off and on again, or saving a card,
  resumes it; the next charge is checked against the same 24 hours again.
- Soft declines are retried 1 hour after the first failure and 6 hours after the second;
  the third consecutive failure suspends. `incorrect_cvc` counts as HARD here: an off-session
  charge re-sends the CVC stored with the card, so retrying cannot succeed until an admin
  enters the card again. Unknown codes are soft (retrying costs nothing but a decline).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

STATUSES = ("off", "active", "retrying", "suspended")
SOFT_DECLINES = frozenset({"card_declined", "insufficient_funds", "processing_error"})
HARD_DECLINES = frozenset({"expired_card", "incorrect_number", "lost_card", "stolen_card", "incorrect_cvc"})
RETRY_DELAYS = (timedelta(hours=1), timedelta(hours=6))
MAX_CONSECUTIVE_FAILURES = len(RETRY_DELAYS) + 1
STALE_PENDING = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class AutoRechargePolicy:
    enabled: bool
    amount: int
    trigger: int
    payment_method_id: str
    status: str = "active"
    failures: int = 0
    next_retry_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise ValueError("the recharge amount must be positive")
        if self.trigger < 0:
            raise ValueError("the trigger must be at least 0")
        if self.status not in STATUSES:
            raise ValueError(f"unknown auto-recharge status {self.status!r}")
        if (self.status == "off") == self.enabled:
            raise ValueError("status 'off' goes with enabled = False, and only with it")
        if self.failures < 0:
            raise ValueError("failures are never negative")
        if (self.status == "retrying") != (self.next_retry_at is not None):
            raise ValueError("exactly a retrying policy has a next retry instant")


@dataclass(frozen=True, slots=True)
class Failure:
    """What a declined charge leads to: the new policy and whether it suspended."""

    policy: AutoRechargePolicy
    suspended: bool
    hard: bool


def is_hard_decline(code: str | None) -> bool:
    return code in HARD_DECLINES


def recharge_amount(balance: int, trigger: int, amount: int) -> int:
    """The one charge that lifts `balance` to at least `trigger`: the smallest multiple of
    `amount` that does it; 0 when the balance is not strictly below the trigger."""
    if amount <= 0:
        raise ValueError("the recharge amount must be positive")
    if balance >= trigger:
        return 0
    times = -(-(trigger - balance) // amount)  # ceiling division on ints
    return times * amount


def charge_due(policy: AutoRechargePolicy | None, balance: int, now: datetime) -> int:
    """How much to charge now (0 = nothing): enabled, not suspended, not waiting for a
    retry instant, and the balance strictly below the trigger."""
    if policy is None or not policy.enabled or policy.status in ("off", "suspended"):
        return 0
    if policy.status == "retrying" and policy.next_retry_at is not None and now < policy.next_retry_at:
        return 0
    return recharge_amount(balance, policy.trigger, policy.amount)


def retry_not_needed(policy: AutoRechargePolicy, balance: int, now: datetime) -> AutoRechargePolicy:
    """At a retry instant the balance may already be back at the trigger (a manual purchase):
    the failed sequence is over and the policy is active again."""
    if policy.status == "retrying" and policy.next_retry_at is not None and now >= policy.next_retry_at \
            and balance >= policy.trigger:
        return replace(policy, status="active", failures=0, next_retry_at=None)
    return policy


def configure(
    previous: AutoRechargePolicy | None, *, enabled: bool, amount: int, trigger: int,
    payment_method_id: str,
) -> AutoRechargePolicy:
    """New settings. Turning on starts `active`; a running retry schedule is kept; a
    suspension is lifted only by choosing another card (or by saving a card, `card_saved`)."""
    if not enabled:
        return AutoRechargePolicy(False, amount, trigger, payment_method_id, "off")
    if previous is None or previous.status == "off":
        return AutoRechargePolicy(True, amount, trigger, payment_method_id, "active")
    if previous.status == "suspended" and payment_method_id != previous.payment_method_id:
        return AutoRechargePolicy(True, amount, trigger, payment_method_id, "active")
    return replace(previous, amount=amount, trigger=trigger, payment_method_id=payment_method_id)


def card_saved(policy: AutoRechargePolicy, payment_method_id: str, *, updated: bool) -> AutoRechargePolicy:
    """An admin saved a new card, or updated one: a suspended recharge resumes with it.

    A new card replaces the suspended recharge's card (the old one is what failed); updating
    another card than the recharge's leaves the suspension alone."""
    if policy.status != "suspended":
        return policy
    if updated and payment_method_id != policy.payment_method_id:
        return policy
    return replace(policy, status="active", failures=0, next_retry_at=None,
                   payment_method_id=payment_method_id)


def after_success(policy: AutoRechargePolicy) -> AutoRechargePolicy:
    if not policy.enabled:
        return policy
    return replace(policy, status="active", failures=0, next_retry_at=None)


def after_failure(policy: AutoRechargePolicy, code: str | None, now: datetime) -> Failure:
    """A declined charge: schedule the retry, or suspend (hard decline, third failure)."""
    failures = policy.failures + 1
    hard = is_hard_decline(code)
    if not policy.enabled:
        return Failure(replace(policy, failures=failures), False, hard)
    if hard or failures >= MAX_CONSECUTIVE_FAILURES:
        return Failure(replace(policy, status="suspended", failures=failures, next_retry_at=None), True, hard)
    retry_at = now + RETRY_DELAYS[failures - 1]
    return Failure(replace(policy, status="retrying", failures=failures, next_retry_at=retry_at), False, hard)


VELOCITY_LIMIT = "velocity_limit"


def suspend_for_velocity(policy: AutoRechargePolicy) -> AutoRechargePolicy:
    """Too many recharges in 24 hours (a stolen account refilling itself from the card):
    suspend at once, keeping the failure count as it was."""
    if not policy.enabled:
        return policy
    return replace(policy, status="suspended", next_retry_at=None)
