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

from datetime import datetime
from typing import Any

from ..db import ledger, reservations, tenants
from ..db import spend_controls as spend_db
from ..db.engine import read_tx, write_tx
from ..errors import ValidationError
from .billing.statements import issue_statements, next_month_start
from .calls.call_control import expire_reservations
from .clock import FixedClock, SandboxClock
from .ledger.balance_events import balance_changed
from .ledger.funds import iso
from .ledger.ledger_ops import forfeit_lot
from .notify import alerts, notifications
from .notify.funds_expiring import next_reminder, remind_expiring_funds
from .payments import auto_recharge
from .runtime import Runtime


def sweep_expired(rt: Runtime, now: datetime) -> int:
    """Write the expiry transaction of every lot past its expiry; return how many."""
    done = 0
    while True:
        with read_tx(rt.engine) as conn:
            due = ledger.due_expiries(conn, now)
        if not due:
            return done
        for tenant_id, lot_id in due:
            with write_tx(rt.engine) as conn:
                tenant = tenants.lock(conn, tenant_id)
                assert tenant is not None
                before = spend_db.last_balance_after(conn, tenant_id)
                forfeited = forfeit_lot(conn, tenant, lot_id, now) is not None
                if forfeited:  # an expiry that empties the balance is told like any other
                    alerts.expiry_crossings(conn, tenant, before, now)
            if forfeited:
                done += 1
                balance_changed(rt, tenant_id)  # after the commit: may fire auto-recharge


def run_due_jobs(rt: Runtime, now: datetime | None = None) -> dict[str, Any]:
    now = now or rt.clock.now()
    recovered = auto_recharge.recover(rt, now)  # attempts left pending first, then new work
    return {"now": iso(now), "recovered_payments": recovered,
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


def move_clock(rt: Runtime, target: datetime) -> dict[str, Any]:
    """Sandbox only: move the clock to `target`, running every job due on the way."""
    clock = rt.clock
    if not isinstance(clock, SandboxClock | FixedClock):
        raise ValidationError("the clock can only be moved in sandbox mode")
    start = clock.now()
    if target < start:
        raise ValidationError("the sandbox clock only moves forward")
    totals = {"expired_lots": 0}
    instant = start
    while (due := next_due(rt, instant)) is not None and due <= target:
        clock.set(due)
        totals["expired_lots"] += run_due_jobs(rt, due)["expired_lots"]
        instant = due
    clock.set(target)
    totals["expired_lots"] += run_due_jobs(rt, target)["expired_lots"]
    return {"from": iso(start), "now": iso(target), **totals}
