"""Transactions for reconciliation: every journal entry, newest first, filtered by type and
period, paged, and as a CSV download; each described in words (an expiry names the lot it
ended: when it was bought and for how much), with its lot and receipt."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...db import tenants as tenant_db
from ...db import transaction_pages
from ...db.engine import read_tx
from ...domain.access import VIEW_BILLING
from ...domain.money import Money
from ...errors import NotFound, ValidationError
from ..access.principal import Principal, require_tenant
from ..runtime import Runtime

KINDS = ("purchase", "auto_recharge", "grant", "usage", "expiry", "refund", "adjustment")


@dataclass(frozen=True, slots=True)
class ExpiredLot:
    """The lot an expiry ended: when it was bought and for how much."""

    purchased_at: datetime
    amount: Money | None


@dataclass(frozen=True, slots=True)
class TransactionLine:
    """One journal entry with its lot (a credit's new lot and its expiry) and receipt."""

    id: int
    type: str
    amount: Money | None
    balance_after: Money | None
    created_at: datetime
    reference: str
    lot_id: str | None
    lot_expires_at: datetime | None
    expired_lot: ExpiredLot | None
    receipt_id: str | None
    receipt_number: str | None


@dataclass(frozen=True, slots=True)
class TransactionPage:
    items: tuple[TransactionLine, ...]
    currency: str
    next_cursor: str | None


def _kinds(kind: str | None) -> tuple[str, ...]:
    if kind and kind not in KINDS:
        raise ValidationError(f"the type must be one of {', '.join(KINDS)}")
    return (kind,) if kind else ()


def _line(r: Mapping[str, Any], currency: str) -> TransactionLine:
    def money(micros: int | None) -> Money | None:
        return None if micros is None else Money(micros, currency)

    expired = None if r["expired_lot_purchased_at"] is None else \
        ExpiredLot(r["expired_lot_purchased_at"], money(r["expired_lot_amount"]))
    return TransactionLine(r["id"], r["type"], money(r["amount"]), money(r["balance_after"]), r["created_at"],
                           r["reference"], r["lot_id"], r["lot_expires_at"] or None, expired, r["receipt_id"],
                           r["receipt_number"])


def transactions_page(rt: Runtime, who: Principal, tenant_id: str, *, kind: str | None, start: datetime | None,
                      end: datetime | None, cursor: str | None, limit: int) -> TransactionPage:
    require_tenant(who, tenant_id, VIEW_BILLING)
    before = None
    if cursor:
        when, _, tid = cursor.partition("|")
        try:
            before = (datetime.fromisoformat(when), int(tid))
        except ValueError:
            raise ValidationError("cursor is not one this page made") from None
    with read_tx(rt.engine) as conn:
        tenant = tenant_db.get(conn, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        rows = transaction_pages.page(conn, tenant_id, kinds=_kinds(kind), start=start, end=end, before=before,
                                      limit=limit + 1)
    last = rows[limit - 1] if len(rows) > limit else None
    return TransactionPage(tuple(_line(r, tenant.currency) for r in rows[:limit]), tenant.currency,
                           f"{last['created_at'].isoformat()}|{last['id']}" if last else None)


def transaction_lines(rt: Runtime, who: Principal, tenant_id: str, *, kind: str | None, start: datetime | None,
                      end: datetime | None) -> Iterator[TransactionLine]:
    """Every transaction of the filter, newest first, streamed (for the CSV download)."""
    require_tenant(who, tenant_id, VIEW_BILLING)
    kinds = _kinds(kind)
    with read_tx(rt.engine) as conn:
        tenant = tenant_db.get(conn, tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} not found")
    currency = tenant.currency

    def lines() -> Iterator[TransactionLine]:
        with read_tx(rt.engine) as conn:
            for r in transaction_pages.stream(conn, tenant_id, kinds=kinds, start=start, end=end):
                yield _line(r, currency)

    return lines()


def lot_receipts(rt: Runtime, who: Principal, tenant_id: str) -> dict[str, str]:
    require_tenant(who, tenant_id, VIEW_BILLING)
    with read_tx(rt.engine) as conn:
        return transaction_pages.lot_receipts(conn, tenant_id)
