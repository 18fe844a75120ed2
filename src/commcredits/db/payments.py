"""Saved payment methods (brand, last 4, expiry; never the card number) and payment
attempts, each written before the gateway is called so a crash can always be reconciled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from .schema import lots, payment_attempts, payment_methods


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    id: str
    tenant_id: str
    gateway: str
    gateway_ref: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Attempt:
    id: str
    tenant_id: str
    kind: str
    amount: int
    payment_method_id: str
    status: str
    error_code: str | None
    gateway_ref: str | None
    transaction_id: int | None
    idempotency_key: str
    created_at: datetime
    completed_at: datetime | None


_PM_COLUMNS = [payment_methods.c[f] for f in PaymentMethod.__slots__]


def insert_method(conn: Connection, pm: PaymentMethod) -> None:
    conn.execute(payment_methods.insert().values(**{f: getattr(pm, f) for f in PaymentMethod.__slots__}))


def get_method(conn: Connection, tenant_id: str, pm_id: str) -> PaymentMethod | None:
    row = conn.execute(
        select(*_PM_COLUMNS).where(
            payment_methods.c.id == pm_id, payment_methods.c.tenant_id == tenant_id,
            payment_methods.c.deleted_at.is_(None),
        )
    ).first()
    return PaymentMethod(*row) if row else None


def list_methods(conn: Connection, tenant_id: str) -> list[PaymentMethod]:
    rows = conn.execute(
        select(*_PM_COLUMNS).where(
            payment_methods.c.tenant_id == tenant_id, payment_methods.c.deleted_at.is_(None)
        ).order_by(payment_methods.c.created_at, payment_methods.c.id)
    )
    return [PaymentMethod(*r) for r in rows]


def delete_method(conn: Connection, tenant_id: str, pm_id: str, now: datetime) -> bool:
    done = conn.execute(
        update(payment_methods).where(
            payment_methods.c.id == pm_id, payment_methods.c.tenant_id == tenant_id,
            payment_methods.c.deleted_at.is_(None),
        ).values(deleted_at=now)
    )
    return done.rowcount == 1


def _attempt(row: Any) -> Attempt:
    return Attempt(**{f: row._mapping[f] for f in Attempt.__slots__})


def insert_attempt(conn: Connection, attempt: Attempt) -> None:
    conn.execute(payment_attempts.insert().values(**{f: getattr(attempt, f) for f in Attempt.__slots__}))


def attempt_by_key(conn: Connection, tenant_id: str, kind: str, key: str) -> Attempt | None:
    row = conn.execute(
        select(payment_attempts).where(
            payment_attempts.c.tenant_id == tenant_id, payment_attempts.c.kind == kind,
            payment_attempts.c.idempotency_key == key,
        )
    ).first()
    return _attempt(row) if row else None


def get_attempt(conn: Connection, attempt_id: str) -> Attempt | None:
    row = conn.execute(select(payment_attempts).where(payment_attempts.c.id == attempt_id)).first()
    return _attempt(row) if row else None


def complete_attempt(
    conn: Connection, attempt_id: str, *, status: str, now: datetime,
    error_code: str | None = None, gateway_ref: str | None = None, transaction_id: int | None = None,
) -> None:
    conn.execute(
        update(payment_attempts).where(payment_attempts.c.id == attempt_id).values(
            status=status, error_code=error_code, gateway_ref=gateway_ref,
            transaction_id=transaction_id, completed_at=now,
        )
    )


def method_any(conn: Connection, pm_id: str) -> PaymentMethod | None:
    """A payment method even if removed since: re-driving an attempt needs its card."""
    row = conn.execute(select(*_PM_COLUMNS).where(payment_methods.c.id == pm_id)).first()
    return PaymentMethod(*row) if row else None


def credited_lot(conn: Connection, transaction_id: int) -> tuple[str, datetime] | None:
    """(lot id, expires_at) of the lot a funding transaction created."""
    row = conn.execute(
        select(lots.c.id, lots.c.expires_at).where(lots.c.transaction_id == transaction_id)
    ).first()
    return (row[0], row[1]) if row else None
