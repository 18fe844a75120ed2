"""Read models: a tenant's balance with its lots, and its journal."""

from __future__ import annotations

from typing import Any

from ...db import ledger, tenants
from ...db import receipts as receipt_db
from ...db.engine import read_tx
from ...domain.access import VIEW_BILLING
from ...domain.lots import balance as lots_balance
from ...domain.money import format_micros, minor_units
from ...errors import NotFound, ValidationError
from ..access.principal import Principal, require_tenant
from ..payments import recharge_settings
from ..runtime import Runtime
from .funds import iso


def balance_view(rt: Runtime, who: Principal, tenant_id: str) -> dict[str, Any]:
    require_tenant(who, tenant_id, VIEW_BILLING)
    now = rt.clock.now()
    with read_tx(rt.engine) as conn:
        tenant = tenants.get(conn, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        lots = ledger.tenant_lots(conn, tenant_id)
        recharge = recharge_settings.summary(conn, tenant)
    digits = minor_units(tenant.currency)
    money = lambda micros: format_micros(micros, digits)  # noqa: E731
    balance = lots_balance(lots, tenant.deficit, now)
    return {
        "tenant_id": tenant_id,
        "currency": tenant.currency,
        "balance": money(balance),
        "reserved": money(tenant.reserved),
        "available": money(balance - tenant.reserved),
        "deficit": money(tenant.deficit),
        "billing_mode": tenant.billing_mode,
        "as_of": iso(now),
        "lots": [
            {
                "id": lot.id, "source": lot.source, "amount": money(lot.amount),
                "remaining": money(lot.remaining if lot.usable_at(now) else 0),
                "purchased_at": iso(lot.purchased_at), "expires_at": iso(lot.expires_at),
                "status": "active" if lot.usable_at(now) else
                          ("expired" if now >= lot.expires_at else "used"),
            }
            for lot in lots
        ],
        "auto_recharge": recharge,
    }


def transactions_view(
    rt: Runtime, who: Principal, tenant_id: str, *, cursor: str | None, limit: int
) -> dict[str, Any]:
    require_tenant(who, tenant_id, VIEW_BILLING)
    try:
        before = int(cursor) if cursor else None
    except ValueError:
        raise ValidationError("cursor is not one this service returned") from None
    with read_tx(rt.engine) as conn:
        tenant = tenants.get(conn, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        rows = ledger.list_transactions(conn, tenant_id, before=before, limit=limit + 1)
        receipt_ids = receipt_db.ids_for_transactions(conn, (t.id for t in rows[:limit]))
    digits = minor_units(tenant.currency)
    items = [
        {"id": str(t.id), "type": t.type, "amount": format_micros(t.amount, digits),
         "balance_after": format_micros(t.balance_after, digits), "currency": tenant.currency,
         "created_at": iso(t.created_at), "reference": t.reference,
         **({"receipt_id": receipt_ids.get(t.id)} if t.type in ("purchase", "auto_recharge") else {})}
        for t in rows[:limit]
    ]
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


def money(micros: int, currency: str) -> str:
    return format_micros(micros, minor_units(currency))
