"""Queries behind the admin center's transactions page: every journal entry of a tenant in
time order (newest first, by when it happened, then by id), filtered by type and period,
each with the lot it created or expired and its receipt."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, or_, select

from .schema import lots, transactions
from .schema_payments import receipts

created_lot = lots.alias("created_lot")
expired_lot = lots.alias("expired_lot")


def _query(tenant_id: str, *, kinds: tuple[str, ...], start: datetime | None, end: datetime | None) -> Select[Any]:
    t = transactions.c
    stmt = (
        select(t.id, t.type, t.amount, t.balance_after, t.created_at, t.reference,
               created_lot.c.id.label("lot_id"), created_lot.c.expires_at.label("lot_expires_at"),
               expired_lot.c.purchased_at.label("expired_lot_purchased_at"),
               expired_lot.c.amount.label("expired_lot_amount"), receipts.c.id.label("receipt_id"),
               receipts.c.number.label("receipt_number"))
        .select_from(
            transactions.outerjoin(created_lot, created_lot.c.transaction_id == t.id)
            .outerjoin(expired_lot, expired_lot.c.expired_transaction_id == t.id)
            .outerjoin(receipts, receipts.c.transaction_id == t.id))
        .where(t.tenant_id == tenant_id)
        .order_by(t.created_at.desc(), t.id.desc())
    )
    if kinds:
        stmt = stmt.where(t.type.in_(kinds))
    if start is not None:
        stmt = stmt.where(t.created_at >= start)
    if end is not None:
        stmt = stmt.where(t.created_at < end)
    return stmt


def page(conn: Connection, tenant_id: str, *, kinds: tuple[str, ...], start: datetime | None,
         end: datetime | None, before: tuple[datetime, int] | None, limit: int) -> list[dict[str, Any]]:
    stmt = _query(tenant_id, kinds=kinds, start=start, end=end).limit(limit)
    if before is not None:
        t = transactions.c
        stmt = stmt.where(or_(t.created_at < before[0], and_(t.created_at == before[0], t.id < before[1])))
    return [dict(r._mapping) for r in conn.execute(stmt)]


def stream(conn: Connection, tenant_id: str, *, kinds: tuple[str, ...], start: datetime | None,
           end: datetime | None) -> Iterator[dict[str, Any]]:
    stmt = _query(tenant_id, kinds=kinds, start=start, end=end)
    for r in conn.execution_options(yield_per=1000).execute(stmt):
        yield dict(r._mapping)


def lot_receipts(conn: Connection, tenant_id: str) -> dict[str, str]:
    """Lot id -> the id of the receipt of the payment that bought it."""
    stmt = (select(lots.c.id, receipts.c.id)
            .select_from(lots.join(receipts, receipts.c.transaction_id == lots.c.transaction_id))
            .where(lots.c.tenant_id == tenant_id))
    return {lot_id: rid for lot_id, rid in conn.execute(stmt)}
