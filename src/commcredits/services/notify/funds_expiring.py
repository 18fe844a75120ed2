"""The funds-expiring reminder job: one `funds_expiring` notification per lot, once it has
money left and expires within 30 days.

The outbox's dedupe key `funds_expiring:<lot id>` makes the reminder idempotent: the scan
skips lots already reminded, and each reminder is written under the tenant's lock, so two
job runners at once still write it once. A lot bought less than 30 days before its expiry
(a short grant) is reminded at once. `next_reminder` tells the sandbox clock when the next
reminder falls due, so moving the clock by months sends each reminder at its own instant,
30 days before the expiry, as a service running all along would have.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, and_, exists, func, literal, select

from ...db import ledger, tenants
from ...db.engine import read_tx, unit_of_work
from ...db.schema import lots
from ...db.schema_notify import outbox
from ...domain.lots import balance
from ...domain.money import format_micros, minor_units
from ...formatting import iso
from ...notify.outbox import enqueue
from ..runtime import Runtime

WINDOW = timedelta(days=30)
PREFIX = "funds_expiring:"


def _live(now: datetime) -> ColumnElement[bool]:
    return and_(lots.c.remaining > 0, lots.c.expired_transaction_id.is_(None), lots.c.expires_at > now)


def due_reminders(conn: Connection, now: datetime, limit: int = 1000) -> list[tuple[str, str]]:
    """(tenant id, lot id) of lots expiring within the window and not yet reminded."""
    reminded = exists().where(
        outbox.c.tenant_id == lots.c.tenant_id, outbox.c.dedupe_key == literal(PREFIX) + lots.c.id
    )
    stmt = (
        select(lots.c.tenant_id, lots.c.id)
        .where(_live(now), lots.c.expires_at <= now + WINDOW, ~reminded)
        .order_by(lots.c.expires_at, lots.c.id).limit(limit)
    )
    return [(r[0], r[1]) for r in conn.execute(stmt)]


def next_reminder(conn: Connection, after: datetime) -> datetime | None:
    """The first instant after `after` at which a lot's reminder falls due."""
    first = conn.execute(
        select(func.min(lots.c.expires_at)).where(_live(after + WINDOW))
    ).scalar_one()
    return None if first is None else first - WINDOW


def _remind(conn: Connection, tenant_id: str, lot_id: str, now: datetime) -> bool:
    tenant = tenants.lock(conn, tenant_id)
    lot = ledger.get_lot(conn, lot_id)
    if tenant is None or lot is None or not lot.usable_at(now):
        return False
    digits = minor_units(tenant.currency)
    payload = {
        "lot_id": lot.id, "source": lot.source, "currency": tenant.currency,
        "amount": format_micros(lot.amount, digits), "remaining": format_micros(lot.remaining, digits),
        "expires_at": iso(lot.expires_at), "days_left": max((lot.expires_at - now).days, 0),
        "balance": format_micros(balance(ledger.tenant_lots(conn, tenant_id), tenant.deficit, now), digits),
    }
    return enqueue(conn, tenant_id=tenant_id, event="funds_expiring", payload=payload, now=now,
                   dedupe_key=PREFIX + lot_id) is not None


def remind_expiring_funds(rt: Runtime, now: datetime) -> int:
    """Write the reminder of every lot that is due one; return how many were written."""
    done = 0
    while True:
        with read_tx(rt.engine) as conn:
            due = due_reminders(conn, now)
        if not due:
            return done
        written = 0
        for tenant_id, lot_id in due:
            for tx in unit_of_work(rt.engine):
                with tx as conn:
                    reminded = _remind(conn, tenant_id, lot_id, now)
            written += reminded  # counted once the reminder committed (a try may run again)
        done += written
        if written == 0:  # every due lot changed under us (spent, swept); the next run rescans
            return done
