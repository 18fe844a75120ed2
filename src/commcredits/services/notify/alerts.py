"""Spend alerts through the outbox (e-mail to the admin roles, and the tenant's webhooks):
`balance_low`, `balance_depleted`, `spend_cap_reached`, `spend_anomaly`.

- `balance_crossings(conn, tenant, before, after, now, cause=...)` runs inside the
  transaction that moved the balance (tenant row locked) and enqueues `balance_low` when the
  balance fell below the tenant's threshold from at or above it, and `balance_depleted` when
  it reached zero or below from above zero: once per crossing, whatever caused it (a balance
  that goes back up and down again crosses again). Usage charging, settlement and the expiry
  sweep call it; moves up (purchases, grants) never cross downward.
- `notify_cap_reached(conn, tenant, period_key, ...)`: once per cap and period, by the
  outbox's dedupe key.
- `check_anomalies(rt, now)`: a job; last hour's credit spend above 5x the hourly average
  of the 30 days before it and above the purchase minimum; once per tenant per hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from ...db import spend_controls as db
from ...db import tenants as tenant_db
from ...db.engine import read_tx, run_write
from ...db.tenants import Tenant
from ...domain.money import format_micros, minor_units
from ...domain.spend_controls import anomaly, hourly_average
from ...domain.spend_controls import balance_crossings as crossings
from ...notify.outbox import enqueue
from ..ledger.ledger_ops import balance_of
from ..runtime import Runtime

CAPS = ("daily_limit", "monthly_limit", "user_daily_limit")


def _money(tenant: Tenant, micros: int) -> str:
    return format_micros(micros, minor_units(tenant.currency))


def balance_crossings(conn: Connection, tenant: Tenant, before: int, after: int, now: datetime, *,
                      cause: str = "usage") -> tuple[str, ...]:
    """Enqueue the alerts a balance move raises; return their events. `cause` (usage, expiry,
    settlement, adjustment, ...) is shown in the message."""
    threshold = db.get_controls(conn, tenant.id).low_balance_threshold
    events = crossings(before, after, threshold)
    for event in events:
        payload: dict[str, Any] = {"tenant_name": tenant.name, "currency": tenant.currency,
                                   "balance": _money(tenant, after), "cause": cause}
        if event == "balance_low":
            assert threshold is not None
            payload["threshold"] = _money(tenant, threshold)
        enqueue(conn, tenant_id=tenant.id, event=event, now=now, payload=payload)
    return events


def expiry_crossings(conn: Connection, tenant: Tenant, before: int | None, now: datetime) -> tuple[str, ...]:
    """After the sweep forfeited a lot: the move from the balance of the tenant's previous
    journal transaction (`before`, read before the forfeit) to the balance now. Taking the
    journal's figure, not "now plus the lot", makes two lots expiring together, or usage
    already charged after the expiry instant, raise one alert and not two."""
    if before is None:
        return ()
    return balance_crossings(conn, tenant, before, balance_of(conn, tenant, now), now, cause="expiry")


def notify_cap_reached(conn: Connection, tenant: Tenant, period_key: str, *, cap: str, limit: int, spent: int,
                       now: datetime, user_id: str | None = None) -> str | None:
    """Tell the admins a spend cap was reached, once per cap and period (and user, for the
    per-user cap). `period_key` is the tenant's local day ('2026-11-22', `day_key`) for the
    daily caps and month ('2026-11', `month_key`) for the monthly one. Returns the
    notification id, or None when this period was told already."""
    if cap not in CAPS:
        raise ValueError(f"unknown cap {cap!r}")
    key = f"spend_cap:{cap}:{period_key}" + (f":{user_id}" if user_id else "")
    return enqueue(conn, tenant_id=tenant.id, event="spend_cap_reached", now=now, dedupe_key=key, payload={
        "tenant_name": tenant.name, "currency": tenant.currency, "cap": cap, "period": period_key,
        "limit": _money(tenant, limit), "spent": _money(tenant, spent), "user_id": user_id})


def check_anomalies(rt: Runtime, now: datetime) -> int:
    """Enqueue `spend_anomaly` for every tenant whose last hour looks like toll fraud; return
    how many were enqueued now (a tenant is told at most once per clock hour)."""
    hour_ago = now - timedelta(hours=1)
    with read_tx(rt.engine) as conn:
        candidates = db.tenants_with_credit_spend(conn, hour_ago, now)
    return sum(run_write(rt.engine, _tell_anomaly, rt, tenant_id, hour_ago, now) for tenant_id in candidates)


def _tell_anomaly(conn: Connection, rt: Runtime, tenant_id: str, hour_ago: datetime, now: datetime) -> bool:
    """Enqueue `spend_anomaly` for one tenant if its last hour looks like toll fraud (once per
    clock hour); whether it was enqueued now."""
    tenant = tenant_db.get(conn, tenant_id)
    if tenant is None:
        return False
    last_hour = db.credit_spend(conn, tenant_id, hour_ago, now)
    average = hourly_average(db.credit_spend(conn, tenant_id, hour_ago - timedelta(days=30), hour_ago))
    minimum = rt.purchase_limits(tenant.currency, conn).minimum
    if not anomaly(last_hour, average, minimum):
        return False
    return enqueue(conn, tenant_id=tenant_id, event="spend_anomaly", now=now,
                   dedupe_key=f"spend_anomaly:{now.strftime('%Y-%m-%dT%H')}", payload={
                       "tenant_name": tenant.name, "currency": tenant.currency,
                       "last_hour": _money(tenant, last_hour), "hourly_average": _money(tenant, average),
                       "since": hour_ago.isoformat(), "until": now.isoformat()}) is not None
