"""Background jobs and the sandbox clock.

`run_due_jobs` runs everything due at the clock's now; `serve` calls it every few seconds and
`commcredits jobs run` / `POST /v1/jobs/run` on demand. Jobs are idempotent: running them
twice, or from two processes at once, changes nothing the second time. Moving the sandbox
clock walks through every instant at which something fell due (each lot's expiry) and runs
the jobs there, so the journal reads as if the service had been running all along.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..db import ledger, tenants
from ..db.engine import read_tx, write_tx
from ..errors import ValidationError
from .clock import FixedClock, SandboxClock
from .ledger_ops import forfeit_lot
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
                if forfeit_lot(conn, tenant, lot_id, now) is not None:
                    done += 1


def run_due_jobs(rt: Runtime, now: datetime | None = None) -> dict[str, Any]:
    now = now or rt.clock.now()
    return {"now": now.isoformat(), "expired_lots": sweep_expired(rt, now)}


def next_due(rt: Runtime, after: datetime) -> datetime | None:
    with read_tx(rt.engine) as conn:
        return ledger.next_expiry(conn, after)


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
    return {"from": start.isoformat(), "now": target.isoformat(), **totals}
