"""Background jobs and the sandbox clock.

`run_due_jobs` runs everything due at the clock's now; `serve` calls it every few seconds and
`commcredits jobs run` / `POST /v1/jobs/run` on demand. Jobs are idempotent: running them
twice, or from two processes at once, changes nothing the second time. Moving the sandbox
clock walks through every instant at which something fell due (each lot's expiry, and its
funds-expiring reminder 30 days before, each auto-recharge retry, and the minute after
which a pending payment attempt is re-driven) and runs the jobs there, so the journal and the
notifications read as if the service had been running all along.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from ..db import ledger, reservations, tenants
from ..db import spend_controls as spend_db
from ..db.engine import read_tx, unit_of_work
from ..errors import ValidationError
from .billing.statements import issue_statements, next_month_start
from .calls.call_control import expire_reservations
from .clock import FixedClock, SandboxClock
from .ledger.balance_events import balance_changed
from .ledger.ledger_ops import forfeit_lot
from .notify import alerts, notifications
from .notify.funds_expiring import next_reminder, remind_expiring_funds
from .payments import auto_recharge
from .runtime import Runtime


class JobsRun(TypedDict):
    """What one run of the due jobs did, as of `now`: a count per job, and the notification
    dispatch's counts by channel and outcome (`{"emails": {"sent": 2}, "webhooks": {}}`)."""

    now: datetime
    recovered_payments: int
    expired_lots: int
    expired_reservations: int
    statements_issued: int
    recharge_retries: int
    funds_expiring_reminders: int
    spend_anomalies: int
    notifications: dict[str, dict[str, int]]


@dataclass(frozen=True, slots=True)
class ClockMove:
    """The sandbox clock moved from `start` to `now`; `expired_lots` were swept on the way."""

    start: datetime
    now: datetime
    expired_lots: int


def sweep_expired(rt: Runtime, now: datetime) -> int:
    """Write the expiry transaction of every lot past its expiry; return how many."""
    done = 0
    while True:
        with read_tx(rt.engine) as conn:
            due = ledger.due_expiries(conn, now)
        if not due:
            return done
        for tenant_id, lot_id in due:
            for tx in unit_of_work(rt.engine):
                with tx as conn:
                    tenant = tenants.lock(conn, tenant_id)
                    assert tenant is not None
                    before = spend_db.last_balance_after(conn, tenant_id)
                    forfeited = forfeit_lot(conn, tenant, lot_id, now) is not None
                    if forfeited:  # an expiry that empties the balance is told like any other
                        alerts.expiry_crossings(conn, tenant, before, now)
            if forfeited:
                done += 1
                balance_changed(rt, tenant_id)  # after the commit: may fire auto-recharge


def run_due_jobs(rt: Runtime, now: datetime | None = None) -> JobsRun:
    now = now or rt.clock.now()
    recovered = auto_recharge.recover(rt, now)  # attempts left pending first, then new work
    return {"now": now, "recovered_payments": recovered,
            "expired_lots": sweep_expired(rt, now),
            "expired_reservations": expire_reservations(rt, now),
            "statements_issued": issue_statements(rt, now),
            "recharge_retries": auto_recharge.run_retries(rt, now),
            "funds_expiring_reminders": remind_expiring_funds(rt, now),
            "spend_anomalies": alerts.check_anomalies(rt, now),
            "notifications": notifications.dispatch(rt, now)}


def next_due(rt: Runtime, after: datetime) -> datetime | None:
    with read_tx(rt.engine) as conn:
        instants = [ledger.next_expiry(conn, after), next_reminder(conn, after),
                    reservations.next_expiry(conn, after)]
    instants.append(auto_recharge.next_due(rt, after))  # recharge retries, stale attempts
    instants.append(next_month_start(rt, after))  # post-paid statements are issued then
    return min((i for i in instants if i is not None), default=None)


def move_clock(rt: Runtime, target: datetime) -> ClockMove:
    """Sandbox only: move the clock to `target`, running every job due on the way."""
    clock = rt.clock
    if not isinstance(clock, SandboxClock | FixedClock):
        raise ValidationError("the clock can only be moved in sandbox mode")
    start = clock.now()
    if target < start:
        raise ValidationError("the sandbox clock only moves forward")
    expired = 0
    instant = start
    while (due := next_due(rt, instant)) is not None and due <= target:
        clock.set(due)
        expired += run_due_jobs(rt, due)["expired_lots"]
        instant = due
    clock.set(target)
    expired += run_due_jobs(rt, target)["expired_lots"]
    return ClockMove(start, target, expired)
