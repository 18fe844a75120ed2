"""Transactions for reconciliation: every journal entry, newest first, filtered by type and
period, paged, and as a CSV download; each described in words (an expiry names the lot it
ended: when it was bought and for how much), with its lot and receipt."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from ...db import tenants as tenant_db
from ...db import transaction_pages
from ...db.engine import read_tx
from ...domain.access import VIEW_BILLING
from ...domain.money import format_micros, minor_units
from ...errors import NotFound, ValidationError
from ..access.principal import Principal, require_tenant
from ..runtime import Runtime
from .funds import iso

KINDS = ("purchase", "auto_recharge", "grant", "usage", "expiry", "refund", "adjustment")
CSV_COLUMNS = ("Transaction", "Time (UTC)", "Type", "Amount", "Balance after", "Currency", "Reference", "Receipt")


def _kinds(kind: str | None) -> tuple[str, ...]:
    if kind and kind not in KINDS:
        raise ValidationError(f"the type must be one of {', '.join(KINDS)}")
    return (kind,) if kind else ()


def _item(r: dict[str, Any], digits: int) -> dict[str, Any]:
    def money(micros: int | None) -> str | None:
        return None if micros is None else format_micros(micros, digits)

    return {
        "id": str(r["id"]), "type": r["type"], "amount": money(r["amount"]),
        "balance_after": money(r["balance_after"]), "created_at": iso(r["created_at"]), "reference": r["reference"],
        "lot_id": r["lot_id"], "lot_expires_at": iso(r["lot_expires_at"]) if r["lot_expires_at"] else None,
        "expired_lot": None if r["expired_lot_purchased_at"] is None else {
            "purchased_at": iso(r["expired_lot_purchased_at"]), "amount": money(r["expired_lot_amount"])},
        "receipt_id": r["receipt_id"], "receipt_number": r["receipt_number"],
    }


def transactions_page(rt: Runtime, who: Principal, tenant_id: str, *, kind: str | None, start: datetime | None,
                      end: datetime | None, cursor: str | None, limit: int) -> dict[str, Any]:
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
    digits = minor_units(tenant.currency)
    last = rows[limit - 1] if len(rows) > limit else None
    return {"items": [_item(r, digits) for r in rows[:limit]], "currency": tenant.currency,
            "next_cursor": f"{last['created_at'].isoformat()}|{last['id']}" if last else None}


def transactions_csv_rows(rt: Runtime, who: Principal, tenant_id: str, *, kind: str | None, start: datetime | None,
                          end: datetime | None) -> Iterator[list[Any]]:
    """The header, then one row per transaction (streamed)."""
    require_tenant(who, tenant_id, VIEW_BILLING)
    kinds = _kinds(kind)
    with read_tx(rt.engine) as conn:
        tenant = tenant_db.get(conn, tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} not found")
    digits = minor_units(tenant.currency)

    def rows() -> Iterator[list[Any]]:
        yield list(CSV_COLUMNS)
        with read_tx(rt.engine) as conn:
            for r in transaction_pages.stream(conn, tenant_id, kinds=kinds, start=start, end=end):
                x = _item(r, digits)
                yield [x["id"], x["created_at"], x["type"], x["amount"], x["balance_after"], tenant.currency,
                       x["reference"], x["receipt_number"] or ""]

    return rows()


def lot_receipts(rt: Runtime, who: Principal, tenant_id: str) -> dict[str, str]:
    require_tenant(who, tenant_id, VIEW_BILLING)
    with read_tx(rt.engine) as conn:
        return transaction_pages.lot_receipts(conn, tenant_id)
