"""Receipts: one per successful card charge, numbered per tenant and year.

The number is taken under the tenant lock the outcome transaction already holds, so two
charges of one tenant can never share it (and UNIQUE(tenant_id, year, seq) says so again).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from .schema_payments import receipts


@dataclass(frozen=True, slots=True)
class Receipt:
    id: str
    tenant_id: str
    number: str
    year: int
    seq: int
    kind: str
    attempt_id: str
    transaction_id: int
    amount: int
    currency: str
    card_brand: str
    card_last4: str
    tenant_name: str
    charge_ref: str
    issued_at: datetime


def _receipt(row: Any) -> Receipt:
    return Receipt(**{f: row._mapping[f] for f in Receipt.__slots__})


def next_seq(conn: Connection, tenant_id: str, year: int) -> int:
    last = conn.execute(
        select(func.max(receipts.c.seq)).where(receipts.c.tenant_id == tenant_id, receipts.c.year == year)
    ).scalar_one()
    return int(last or 0) + 1


def insert(conn: Connection, receipt: Receipt) -> None:
    conn.execute(receipts.insert().values(**{f: getattr(receipt, f) for f in Receipt.__slots__}))


def get(conn: Connection, tenant_id: str, receipt_id: str) -> Receipt | None:
    row = conn.execute(
        select(receipts).where(receipts.c.id == receipt_id, receipts.c.tenant_id == tenant_id)
    ).first()
    return _receipt(row) if row else None


def by_transaction(conn: Connection, transaction_id: int) -> Receipt | None:
    row = conn.execute(select(receipts).where(receipts.c.transaction_id == transaction_id)).first()
    return _receipt(row) if row else None


def ids_for_transactions(conn: Connection, transaction_ids: Iterable[int]) -> dict[int, str]:
    ids = list(transaction_ids)
    if not ids:
        return {}
    rows = conn.execute(
        select(receipts.c.transaction_id, receipts.c.id).where(receipts.c.transaction_id.in_(ids))
    )
    return {int(t): r for t, r in rows}


def list_for_tenant(conn: Connection, tenant_id: str, *, before: int | None, limit: int) -> list[Receipt]:
    """Newest first; `before` is a transaction id (receipts follow the journal's order)."""
    stmt = select(receipts).where(receipts.c.tenant_id == tenant_id)
    if before is not None:
        stmt = stmt.where(receipts.c.transaction_id < before)
    rows = conn.execute(stmt.order_by(receipts.c.transaction_id.desc()).limit(limit))
    return [_receipt(r) for r in rows]
