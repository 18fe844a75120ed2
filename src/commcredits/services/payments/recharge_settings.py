"""Auto-recharge settings: saving them (`PUT .../auto-recharge`) and showing them.

Saving checks what a purchase checks (the amount within the purchase limits, the tenant
allowed to buy, the card its own) and the trigger (>= 0, the currency's decimals), applies
the domain's `configure`, commits, and then runs the trigger check: saving settings is a
change after which a balance already below the trigger fires at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ...db import payments, tenants
from ...db import recharge as recharge_db
from ...db.engine import read_tx, write_tx
from ...db.tenants import Tenant
from ...domain.access import MANAGE_BILLING
from ...domain.money import format_micros, minor_units
from ...domain.purchases import TenantFacts, limit_violation, purchase_refusal
from ...domain.recharge import configure
from ...errors import AboveMaximum, BelowMinimum, NotFound, PurchaseNotAllowed, ValidationError
from ..access.principal import Principal, require_tenant
from ..ledger.balance_events import balance_changed
from ..ledger.funds import iso, parse_amount
from ..runtime import Runtime


def save_settings(
    rt: Runtime, who: Principal, tenant_id: str, *, enabled: bool, amount: Any = None,
    trigger: Any = None, payment_method_id: str | None = None,
) -> dict[str, Any]:
    require_tenant(who, tenant_id, MANAGE_BILLING)
    with write_tx(rt.engine) as conn:
        tenant = tenants.lock(conn, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        previous = recharge_db.get(conn, tenant_id)
        old = previous.policy if previous else None
        micros = parse_amount(amount, tenant.currency, purchase=True) if amount is not None else \
            (old.amount if old else None)
        trigger_micros = (parse_amount(trigger, tenant.currency, purchase=True, field="trigger")
                          if trigger is not None else (old.trigger if old else None))
        pm_id = payment_method_id or (old.payment_method_id if old else None)
        if micros is None or trigger_micros is None or pm_id is None:
            if enabled:
                raise ValidationError("amount, trigger and payment_method_id are required to turn auto-recharge on")
            return _view(conn, tenant)  # turning off what was never on
        _check(rt, conn, tenant, micros, trigger_micros, pm_id, enabled=enabled)
        policy = configure(old, enabled=enabled, amount=micros, trigger=trigger_micros, payment_method_id=pm_id)
        recharge_db.save_policy(conn, tenant_id, policy, rt.clock.now())
    balance_changed(rt, tenant_id)
    return settings_view(rt, who, tenant_id)


def _check(
    rt: Runtime, conn: Connection, tenant: Tenant, amount: int, trigger: int, pm_id: str, *, enabled: bool
) -> None:
    if trigger < 0:
        raise ValidationError("trigger must be at least 0")
    if amount <= 0:
        raise ValidationError("amount must be positive")
    if not enabled:
        return
    violation = limit_violation(amount, tenant.currency, rt.purchase_limits(tenant.currency, conn))
    if violation:
        code, message = violation.split(":", 1)
        raise (BelowMinimum if code == "below_minimum" else AboveMaximum)(f"amount: {message}")
    refusal = purchase_refusal(
        TenantFacts(tenant.country, tenant.billing_country, tenant.billing_mode,
                    tenant.purchase_mitigation, tenant.partner_funded),
        rt.settings.blocked_countries,
    )
    if refusal:
        raise PurchaseNotAllowed(refusal.detail, reason=refusal.reason)
    if payments.get_method(conn, tenant.id, pm_id) is None:
        raise NotFound(f"payment method {pm_id} not found")


def settings_view(rt: Runtime, who: Principal, tenant_id: str) -> dict[str, Any]:
    require_tenant(who, tenant_id, MANAGE_BILLING)
    with read_tx(rt.engine) as conn:
        tenant = tenants.get(conn, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        return _view(conn, tenant)


def _view(conn: Connection, tenant: Tenant) -> dict[str, Any]:
    out = summary(conn, tenant)
    row = recharge_db.get(conn, tenant.id)
    last = payments.get_attempt(conn, row.last_attempt_id) if row and row.last_attempt_id else None
    out["last_attempt"] = None if last is None else {
        "id": last.id, "status": last.status, "amount": format_micros(last.amount, minor_units(tenant.currency)),
        "error_code": last.error_code, "created_at": iso(last.created_at),
        "completed_at": iso(last.completed_at) if last.completed_at else None,
        "transaction_id": str(last.transaction_id) if last.transaction_id else None,
    }
    return out


def summary(conn: Connection, tenant: Tenant) -> dict[str, Any]:
    """The settings and state, as the balance view and the settings endpoint show them."""
    row = recharge_db.get(conn, tenant.id)
    if row is None:
        return {"enabled": False, "status": "off", "amount": None, "trigger": None,
                "payment_method_id": None, "currency": tenant.currency, "failures": 0,
                "next_retry_at": None, "in_flight": False}
    p, digits = row.policy, minor_units(tenant.currency)
    return {
        "enabled": p.enabled, "status": p.status, "amount": format_micros(p.amount, digits),
        "trigger": format_micros(p.trigger, digits), "payment_method_id": p.payment_method_id,
        "currency": tenant.currency, "failures": p.failures,
        "next_retry_at": iso(p.next_retry_at) if p.next_retry_at else None,
        "in_flight": row.in_flight_attempt_id is not None,
    }
