"""Receipts: one per successful card charge, manual purchase or auto-recharge.

`issue` runs inside the transaction that records the charge (the caller holds the tenant
lock), so a credited lot and its receipt exist together or not at all. The receipt keeps
the card's brand and last 4 and the tenant's name as they were at the charge: removing the
card or renaming the tenant later does not rewrite history. Numbers run per tenant and
calendar year of issue: `R-2026-000001`, `R-2026-000002`, ...
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from ...db import receipts as receipt_db
from ...db import tenants
from ...db.engine import read_tx
from ...db.payments import Attempt, PaymentMethod
from ...db.receipts import Receipt
from ...db.rows import new_id
from ...db.tenants import Tenant
from ...domain.access import VIEW_BILLING
from ...errors import NotFound, ValidationError
from ..access.principal import Principal, require_tenant
from ..runtime import Runtime


def receipt_number(year: int, seq: int) -> str:
    return f"R-{year}-{seq:06d}"


def issue(
    conn: Connection, *, tenant: Tenant, attempt: Attempt, card: PaymentMethod, transaction_id: int,
    charge_ref: str, now: datetime,
) -> Receipt:
    """Write the receipt of a successful charge (inside the outcome transaction)."""
    seq = receipt_db.next_seq(conn, tenant.id, now.year)
    receipt = Receipt(
        id=new_id(), tenant_id=tenant.id, number=receipt_number(now.year, seq), year=now.year,
        seq=seq, kind=attempt.kind, attempt_id=attempt.id, transaction_id=transaction_id,
        amount=attempt.amount, currency=tenant.currency, card_brand=card.brand,
        card_last4=card.last4, tenant_name=tenant.name, charge_ref=charge_ref, issued_at=now,
    )
    receipt_db.insert(conn, receipt)
    return receipt


def get_receipt(rt: Runtime, who: Principal, tenant_id: str, receipt_id: str) -> Receipt:
    require_tenant(who, tenant_id, VIEW_BILLING)
    with read_tx(rt.engine) as conn:
        receipt = receipt_db.get(conn, tenant_id, receipt_id)
    if receipt is None:
        raise NotFound(f"receipt {receipt_id} not found")
    return receipt


@dataclass(frozen=True, slots=True)
class ReceiptPage:
    items: tuple[Receipt, ...]
    next_cursor: str | None


def list_receipts(
    rt: Runtime, who: Principal, tenant_id: str, *, cursor: str | None, limit: int
) -> ReceiptPage:
    require_tenant(who, tenant_id, VIEW_BILLING)
    try:
        before = int(cursor) if cursor else None
    except ValueError:
        raise ValidationError("cursor is not one this service returned") from None
    with read_tx(rt.engine) as conn:
        if tenants.get(conn, tenant_id) is None:
            raise NotFound(f"tenant {tenant_id} not found")
        rows = receipt_db.list_for_tenant(conn, tenant_id, before=before, limit=limit + 1)
    next_cursor = str(rows[limit - 1].transaction_id) if len(rows) > limit else None
    return ReceiptPage(tuple(rows[:limit]), next_cursor)
