"""Reservations of calls in progress, and the tenant's running `reserved` figure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from .schema import tenants
from .schema_calls import ACTIVE, reservations


def get(conn: Connection, call_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(reservations).where(reservations.c.call_id == call_id)).first()
    return dict(row._mapping) if row else None


def insert(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(reservations.insert().values(**row))
    if row["amount"]:
        _add_reserved(conn, row["tenant_id"], row["amount"])


def change(conn: Connection, call_id: str, tenant_id: str, *, delta: int, **fields: Any) -> None:
    conn.execute(update(reservations).where(reservations.c.call_id == call_id)
                 .values(amount=reservations.c.amount + delta, **fields))
    if delta:
        _add_reserved(conn, tenant_id, delta)


def _add_reserved(conn: Connection, tenant_id: str, delta: int) -> None:
    conn.execute(update(tenants).where(tenants.c.id == tenant_id).values(reserved=tenants.c.reserved + delta))


def release(conn: Connection, row: dict[str, Any], *, status: str, now: datetime, outcome: str | None = None) -> None:
    """End a reservation: its hold leaves the tenant's reserved figure."""
    conn.execute(update(reservations).where(reservations.c.call_id == row["call_id"]).values(
        status=status, amount=0, pool_minutes=0, settled_at=now, outcome=outcome))
    if row["amount"]:
        _add_reserved(conn, row["tenant_id"], -row["amount"])


def pool_held(conn: Connection, tenant_id: str, period: str) -> dict[tuple[str, str, str], int]:
    """Pool minutes held by active reservations, per (product, kind, country)."""
    rows = conn.execute(
        select(reservations.c.pool_product, reservations.c.pool_kind, reservations.c.pool_country,
               func.sum(reservations.c.pool_minutes))
        .where(reservations.c.tenant_id == tenant_id, ACTIVE,
               reservations.c.pool_period == period, reservations.c.pool_minutes > 0)
        .group_by(reservations.c.pool_product, reservations.c.pool_kind, reservations.c.pool_country)
    )
    return {(p, k, c): int(n) for p, k, c, n in rows}


def due(conn: Connection, now: datetime, limit: int = 1000) -> list[dict[str, Any]]:
    rows = conn.execute(select(reservations).where(ACTIVE,
                                                   reservations.c.expires_at <= now)
                        .order_by(reservations.c.expires_at).limit(limit))
    return [dict(r._mapping) for r in rows]


def next_expiry(conn: Connection, after: datetime) -> datetime | None:
    value: datetime | None = conn.execute(
        select(func.min(reservations.c.expires_at)).where(ACTIVE,
                                                          reservations.c.expires_at > after)
    ).scalar_one()
    return value


def reserved_sums(conn: Connection) -> dict[str, int]:
    """Held money of active reservations per tenant (for the audit)."""
    rows = conn.execute(select(reservations.c.tenant_id, func.sum(reservations.c.amount))
                        .where(ACTIVE).group_by(reservations.c.tenant_id))
    return {t: int(n or 0) for t, n in rows}
