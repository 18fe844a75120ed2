"""Subscriptions, minute allowances and the minute-pools report, as typed values the edges
format."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from ...db import tenants as tenant_db
from ...db import usage
from ...db.engine import read_tx, unit_of_work
from ...db.schema import users
from ...domain.access import VIEW_BILLING
from ...domain.plans import (
    ANY_COUNTRY,
    PRODUCTS,
    UNLIMITED_LICENSES,
    Allowances,
    license_overflow,
    pool_sizes,
)
from ...errors import Conflict, NotFound, ValidationError
from ..access.principal import Principal, require_operator, require_tenant
from ..runtime import Runtime


@dataclass(frozen=True, slots=True)
class SubscriptionLine:
    """A product the tenant subscribes to; `assigned` (licenses held by users) when listed."""

    product: str
    quantity: int
    assigned: int | None = None


@dataclass(frozen=True, slots=True)
class Subscriptions:
    tenant_id: str
    items: tuple[SubscriptionLine, ...]


@dataclass(frozen=True, slots=True)
class PoolLine:
    """A minute pool of a month: `country` None for the pool of any country."""

    country: str | None
    product: str
    kind: str
    total_minutes: int
    used_minutes: int
    available_minutes: int


@dataclass(frozen=True, slots=True)
class MinutePools:
    tenant_id: str
    period: str
    items: tuple[PoolLine, ...]


@dataclass(frozen=True, slots=True)
class Allowance:
    """Minutes per license per month for a product, kind and country ('*' = the others)."""

    product: str
    kind: str
    country: str
    minutes: int


def set_subscription(rt: Runtime, who: Principal, tenant_id: str, *, product: str, quantity: int) -> Subscriptions:
    require_operator(who)
    if product not in PRODUCTS:
        raise ValidationError(f"product must be one of {', '.join(PRODUCTS)}")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise ValidationError("quantity must be a whole number >= 0")
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            if tenant_db.lock(conn, tenant_id) is None:
                raise NotFound(f"tenant {tenant_id} not found")
            assigned = assigned_count(conn, tenant_id, product)
            if license_overflow(product, assigned, quantity):
                raise Conflict(
                    f"{assigned} users hold {product}; unassign licenses before lowering the quantity to {quantity}"
                )
            usage.set_subscription(conn, tenant_id, product, quantity, rt.clock.now())
            quantities = usage.subscription_quantities(conn, tenant_id)
    return Subscriptions(tenant_id, tuple(SubscriptionLine(p, q) for p, q in sorted(quantities.items())))


def list_subscriptions(rt: Runtime, who: Principal, tenant_id: str) -> Subscriptions:
    require_tenant(who, tenant_id, VIEW_BILLING)
    with read_tx(rt.engine) as conn:
        if tenant_db.get(conn, tenant_id) is None:
            raise NotFound(f"tenant {tenant_id} not found")
        quantities = usage.subscription_quantities(conn, tenant_id)
        assigned = {p: assigned_count(conn, tenant_id, p) for p in quantities}
    return Subscriptions(tenant_id, tuple(SubscriptionLine(p, q, assigned[p]) for p, q in sorted(quantities.items())))


def assigned_count(conn: Connection, tenant_id: str, product: str, *, except_user: str | None = None) -> int:
    return sum(1 for _, licenses in _holders_by_user(conn, tenant_id, except_user) if product in licenses)


def _holders_by_user(conn: Connection, tenant_id: str, except_user: str | None) -> list[tuple[str, list[str]]]:
    rows = conn.execute(select(users.c.id, users.c.licenses).where(users.c.tenant_id == tenant_id))
    return [(uid, json.loads(lic)) for uid, lic in rows if uid != except_user]


def check_license_capacity(conn: Connection, tenant_id: str, licenses: tuple[str, ...], user_id: str | None) -> None:
    """Refuse an assignment that would exceed the tenant's subscription quantity."""
    limited = [p for p in licenses if p not in UNLIMITED_LICENSES]
    if not limited:
        return
    quantities = usage.subscription_quantities(conn, tenant_id)
    for product in limited:
        assigned = assigned_count(conn, tenant_id, product, except_user=user_id) + 1
        if license_overflow(product, assigned, quantities.get(product, 0)):
            raise Conflict(
                f"no {product} license left: the tenant subscribes to {quantities.get(product, 0)} and "
                f"{assigned - 1} are assigned",
                code="license_unavailable",
            )


def current_period(tenant_timezone: str, now: datetime) -> str:
    return now.astimezone(ZoneInfo(tenant_timezone)).strftime("%Y-%m")


def minute_pools(rt: Runtime, who: Principal, tenant_id: str, *, period: str | None) -> MinutePools:
    require_tenant(who, tenant_id, VIEW_BILLING)
    with read_tx(rt.engine) as conn:
        tenant = tenant_db.get(conn, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        period = period or current_period(tenant.timezone, rt.clock.now())
        if len(period) != 7 or period[4] != "-" or not (period[:4] + period[5:]).isdigit():
            raise ValidationError("period must look like YYYY-MM")
        sizes = pool_sizes(
            usage.license_holders(conn, tenant_id),
            usage.subscription_quantities(conn, tenant_id),
            Allowances(usage.allowances(conn)),
        )
        used = usage.pool_used(conn, tenant_id, [period])
    items = []
    for key, total in sorted(sizes.items(), key=lambda kv: (kv[0].country, kv[0].product, kv[0].kind)):
        spent = used.get((period, key), 0)
        items.append(PoolLine(None if key.country == ANY_COUNTRY else key.country, key.product, key.kind, total,
                              spent, max(total - spent, 0)))
    return MinutePools(tenant_id, period, tuple(items))


def list_allowances(rt: Runtime, who: Principal) -> list[Allowance]:
    require_operator(who)
    with read_tx(rt.engine) as conn:
        table = usage.allowances(conn)
    return [Allowance(p, k, c, m) for (p, k, c), m in sorted(table.items())]


def set_allowance(
    rt: Runtime, who: Principal, *, product: str, kind: str, country: str, minutes: int
) -> Allowance:
    """Operator data: minutes per license per month for a product, kind and country ('*' = others)."""
    require_operator(who)
    if product not in PRODUCTS:
        raise ValidationError(f"product must be one of {', '.join(PRODUCTS)}")
    if kind not in ("domestic", "international", "dial_out"):
        raise ValidationError("kind must be domestic, international or dial_out")
    country = country.upper()
    if country != ANY_COUNTRY and (len(country) != 2 or not country.isalpha()):
        raise ValidationError("country must be an ISO alpha-2 code or '*'")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 0:
        raise ValidationError("minutes must be a whole number >= 0")
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            usage.set_allowance(conn, product, kind, country, minutes)
    return Allowance(product, kind, country, minutes)
