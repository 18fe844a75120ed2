"""Ledger steps shared by the use cases. Each runs inside the caller's transaction, with
the tenant row already locked (`db.tenants.lock`); none of them commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from ...db import ledger
from ...db.ledger import NewLot
from ...db.rows import new_id
from ...db.tenants import Tenant
from ...domain.journal import expiry_entry, funding_entry, usage_entry
from ...domain.lots import plan_draw


def balance_of(conn: Connection, tenant: Tenant, now: datetime) -> int:
    """Balance = usable lots - deficit, from the stored running figures (read fresh, so
    several steps in one transaction see each other's effects)."""
    return ledger.usable_total(conn, tenant.id, now) - ledger.deficit_of(conn, tenant.id)


def credit_new_lot(
    conn: Connection, tenant: Tenant, *, type_: str, source_account: str, lot_source: str,
    amount: int, now: datetime, expires_at: datetime, reference: str = "",
    idempotency_key: str | None = None,
) -> tuple[int, str, int]:
    """Create a lot of `amount`, paying off the deficit from it first.

    Returns (transaction id, lot id, balance after)."""
    lot_id = new_id()
    entry = funding_entry(
        type_, source=source_account, lot_id=lot_id, amount=amount,
        deficit=ledger.deficit_of(conn, tenant.id),
        reference=reference,
    )
    balance_after = balance_of(conn, tenant, now) + entry.balance_change
    txn_id = ledger.post(
        conn, tenant_id=tenant.id, entry=entry, now=now, balance_after=balance_after,
        idempotency_key=idempotency_key,
        new_lot=NewLot(lot_id, lot_source, amount, now, expires_at, reference),
    )
    return txn_id, lot_id, balance_after


def debit_usage(
    conn: Connection, tenant: Tenant, *, amount: int, now: datetime, reference: str = "",
    idempotency_key: str | None = None,
) -> tuple[int, int]:
    """Charge `amount` to the lots, first-to-expire first; the rest becomes a deficit.

    Returns (transaction id, balance after)."""
    lots = ledger.tenant_lots(conn, tenant.id, with_remaining=True)
    takes, shortfall = plan_draw(lots, amount, now)
    entry = usage_entry(takes, shortfall, reference=reference)
    balance_after = balance_of(conn, tenant, now) + entry.balance_change
    txn_id = ledger.post(
        conn, tenant_id=tenant.id, entry=entry, now=now, balance_after=balance_after,
        idempotency_key=idempotency_key,
    )
    return txn_id, balance_after


def forfeit_lot(conn: Connection, tenant: Tenant, lot_id: str, now: datetime) -> int | None:
    """Write the expiry transaction of an expired lot; None if there was nothing left."""
    lot = ledger.get_lot(conn, lot_id)
    if lot is None or lot.remaining == 0 or lot.expires_at > now:
        return None
    entry = expiry_entry(lot.id, lot.remaining, reference=f"lot {lot.id} expired {lot.expires_at.isoformat()}")
    # the lot stopped counting at its expiry instant, so the balance does not move now
    txn_id = ledger.post(
        conn, tenant_id=tenant.id, entry=entry, now=now, balance_after=balance_of(conn, tenant, now),
        idempotency_key=f"expiry:{lot.id}",
    )
    ledger.mark_expired(conn, lot.id, txn_id)
    return txn_id
