"""Billing mode, post-paid statements, subscriptions, minute pools and allowances as JSON
(API.md "Billing mode", "Statements", "Subscriptions", "Minute pools", "Allowances")."""

from __future__ import annotations

from typing import Any

from ..formatting import iso
from ..services.billing.statements import BillingMode, Statement
from ..services.billing.subscriptions import Allowance, MinutePools, Subscriptions


def billing_mode_out(mode: BillingMode) -> dict[str, Any]:
    return {"tenant_id": mode.tenant_id, "billing_mode": mode.billing_mode}


def statement_out(s: Statement) -> dict[str, Any]:
    return {
        "tenant_id": s.tenant_id, "period": s.period, "currency": s.currency, "status": s.status,
        "issued_at": None if s.issued_at is None else iso(s.issued_at), "total": s.total.text,
        "lines": [{"category": x.category, "capability": x.capability, "calls": x.calls, "seconds": x.seconds,
                   "amount": x.amount.text} for x in s.lines],
        "items": [{"description": i.description, "amount": i.amount.text} for i in s.items],
    }


def subscriptions_out(subs: Subscriptions) -> dict[str, Any]:
    """The tenant's subscriptions; `assigned` where the use case counted it (the listing)."""
    return {"tenant_id": subs.tenant_id,
            "items": [{"product": x.product, "quantity": x.quantity}
                      | ({} if x.assigned is None else {"assigned": x.assigned}) for x in subs.items]}


def minute_pools_out(pools: MinutePools) -> dict[str, Any]:
    return {"tenant_id": pools.tenant_id, "period": pools.period,
            "items": [{"country": x.country, "product": x.product, "kind": x.kind, "total_minutes": x.total_minutes,
                       "used_minutes": x.used_minutes, "available_minutes": x.available_minutes}
                      for x in pools.items]}


def allowance_out(a: Allowance) -> dict[str, Any]:
    return {"product": a.product, "kind": a.kind, "country": a.country, "minutes": a.minutes}
