"""Auto-recharge settings: saving them (`PUT .../auto-recharge`) and showing them.

Saving checks what a purchase checks (the amount within the purchase limits, the tenant
allowed to buy, the card its own) and the trigger (>= 0, the currency's decimals), applies
the domain's `configure`, commits, and then runs the trigger check: saving settings is a
change after which a balance already below the trigger fires at once.

Both return `RechargeSettings`: the `RechargeSummary` the balance view shows too, with the
last attempt; amounts are `Money`, the edges format them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from ...db import payments, tenants
from ...db import recharge as recharge_db
from ...db.engine import read_tx, unit_of_work
from ...db.payments import Attempt
from ...db.tenants import Tenant
from ...domain.access import MANAGE_BILLING
from ...domain.money import Money
from ...domain.purchases import TenantFacts, purchase_refusal
from ...domain.recharge import configure
from ...errors import NotFound, PurchaseNotAllowed, ValidationError
from ..access.principal import Principal, require_tenant
from ..ledger.balance_events import balance_changed
from ..ledger.funds import check_limits, parse_amount
from ..runtime import Runtime


@dataclass(frozen=True, slots=True)
class RechargeSummary:
    """A tenant's auto-recharge: the settings (None where never set) and the state."""

    enabled: bool
    status: str  # off | active | retrying | suspended
    amount: Money | None
    trigger: Money | None
    payment_method_id: str | None
    currency: str
    failures: int
    next_retry_at: datetime | None
    in_flight: bool


@dataclass(frozen=True, slots=True)
class RechargeAttempt:
    """The last recharge charge tried."""

    id: str
    status: str
    amount: Money
    error_code: str | None
    created_at: datetime
    completed_at: datetime | None
    transaction_id: int | None


@dataclass(frozen=True, slots=True)
class RechargeSettings(RechargeSummary):
    """The settings endpoint's answer: the summary and the last attempt."""

    last_attempt: RechargeAttempt | None = None


def save_settings(
    rt: Runtime, who: Principal, tenant_id: str, *, enabled: bool, amount: Any = None,
    trigger: Any = None, payment_method_id: str | None = None,
) -> RechargeSettings:
    require_tenant(who, tenant_id, MANAGE_BILLING)
    for tx in unit_of_work(rt.engine):
        with tx as conn:
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
    check_limits(amount, tenant.currency, rt.purchase_limits(tenant.currency, conn), field="amount")
    refusal = purchase_refusal(
        TenantFacts(tenant.country, tenant.billing_country, tenant.billing_mode,
                    tenant.purchase_mitigation, tenant.partner_funded),
        rt.settings.blocked_countries,
    )
    if refusal:
        raise PurchaseNotAllowed(refusal.detail, reason=refusal.reason)
    if payments.get_method(conn, tenant.id, pm_id) is None:
        raise NotFound(f"payment method {pm_id} not found")


def settings_view(rt: Runtime, who: Principal, tenant_id: str) -> RechargeSettings:
    require_tenant(who, tenant_id, MANAGE_BILLING)
    with read_tx(rt.engine) as conn:
        tenant = tenants.get(conn, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        return _view(conn, tenant)


def _attempt(last: Attempt, currency: str) -> RechargeAttempt:
    return RechargeAttempt(last.id, last.status, Money(last.amount, currency), last.error_code, last.created_at,
                           last.completed_at, last.transaction_id)


def _view(conn: Connection, tenant: Tenant) -> RechargeSettings:
    row = recharge_db.get(conn, tenant.id)
    last = payments.get_attempt(conn, row.last_attempt_id) if row and row.last_attempt_id else None
    state = summary(conn, tenant)
    return RechargeSettings(**{f.name: getattr(state, f.name) for f in fields(RechargeSummary)},
                            last_attempt=None if last is None else _attempt(last, tenant.currency))


def summary(conn: Connection, tenant: Tenant) -> RechargeSummary:
    """The settings and state, as the balance view and the settings endpoint show them."""
    row = recharge_db.get(conn, tenant.id)
    if row is None:
        return RechargeSummary(enabled=False, status="off", amount=None, trigger=None, payment_method_id=None,
                               currency=tenant.currency, failures=0, next_retry_at=None, in_flight=False)
    p, currency = row.policy, tenant.currency
    return RechargeSummary(
        enabled=p.enabled, status=p.status, amount=Money(p.amount, currency), trigger=Money(p.trigger, currency),
        payment_method_id=p.payment_method_id, currency=currency, failures=p.failures,
        next_retry_at=p.next_retry_at, in_flight=row.in_flight_attempt_id is not None,
    )
