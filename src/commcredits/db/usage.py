"""Subscriptions, minute allowances, pool usage and call records."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, select, update

from ..domain.plans import PoolKey
from .schema import users
from .schema_usage import call_records, plan_allowances, pool_usage, subscriptions


def subscription_quantities(conn: Connection, tenant_id: str) -> dict[str, int]:
    rows = conn.execute(
        select(subscriptions.c.product, subscriptions.c.quantity).where(subscriptions.c.tenant_id == tenant_id)
    )
    return {p: q for p, q in rows}


def set_subscription(conn: Connection, tenant_id: str, product: str, quantity: int, now: datetime) -> None:
    done = conn.execute(
        update(subscriptions)
        .where(subscriptions.c.tenant_id == tenant_id, subscriptions.c.product == product)
        .values(quantity=quantity, updated_at=now)
    )
    if done.rowcount == 0:
        conn.execute(subscriptions.insert().values(tenant_id=tenant_id, product=product,
                                                   quantity=quantity, updated_at=now))


def allowances(conn: Connection) -> dict[tuple[str, str, str], int]:
    rows = conn.execute(select(plan_allowances.c.product, plan_allowances.c.kind,
                               plan_allowances.c.country, plan_allowances.c.minutes))
    return {(p, k, c): m for p, k, c, m in rows}


def set_allowance(conn: Connection, product: str, kind: str, country: str, minutes: int) -> None:
    done = conn.execute(
        update(plan_allowances).where(
            plan_allowances.c.product == product, plan_allowances.c.kind == kind,
            plan_allowances.c.country == country,
        ).values(minutes=minutes)
    )
    if done.rowcount == 0:
        conn.execute(plan_allowances.insert().values(product=product, kind=kind, country=country,
                                                     minutes=minutes))


def license_holders(conn: Connection, tenant_id: str) -> list[tuple[str, list[str]]]:
    """(usage location, licenses) of every user of the tenant."""
    rows = conn.execute(select(users.c.usage_location, users.c.licenses).where(users.c.tenant_id == tenant_id))
    return [(loc, json.loads(lic)) for loc, lic in rows]


def pool_used(conn: Connection, tenant_id: str, periods: Iterable[str]) -> dict[tuple[str, PoolKey], int]:
    rows = conn.execute(
        select(pool_usage.c.period, pool_usage.c.product, pool_usage.c.kind, pool_usage.c.country,
               pool_usage.c.used_minutes)
        .where(pool_usage.c.tenant_id == tenant_id, pool_usage.c.period.in_(sorted(set(periods))))
    )
    return {(period, PoolKey(p, k, c)): used for period, p, k, c, used in rows}


def save_pool_used(conn: Connection, tenant_id: str, changed: dict[tuple[str, PoolKey], int],
                   existing: set[tuple[str, PoolKey]]) -> None:
    for (period, key), used in changed.items():
        where = and_(pool_usage.c.tenant_id == tenant_id, pool_usage.c.period == period,
                     pool_usage.c.product == key.product, pool_usage.c.kind == key.kind,
                     pool_usage.c.country == key.country)
        if (period, key) in existing:
            conn.execute(update(pool_usage).where(where).values(used_minutes=used))
        else:
            conn.execute(pool_usage.insert().values(
                tenant_id=tenant_id, period=period, product=key.product, kind=key.kind,
                country=key.country, used_minutes=used))


def existing_records(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Stored call records among `ids` (any tenant), for duplicate answers."""
    found: dict[str, dict[str, Any]] = {}
    cols = [call_records.c[c] for c in ("id", "tenant_id", "funding", "charge", "capability",
                                        "pool_minutes", "currency")]
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        for row in conn.execute(select(*cols).where(call_records.c.id.in_(chunk))):
            found[row[0]] = dict(row._mapping)
    return found


def insert_records(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(call_records.insert(), rows)


def records_between(conn: Connection, tenant_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(call_records).where(call_records.c.tenant_id == tenant_id,
                                   call_records.c.started_at >= start, call_records.c.started_at < end)
        .order_by(call_records.c.started_at, call_records.c.id)
    )
    return [dict(r._mapping) for r in rows]


def update_record_charge(conn: Connection, record_id: str, *, charge: int, credits: int, postpaid: int,
                         rating: str) -> None:
    conn.execute(update(call_records).where(call_records.c.id == record_id).values(
        charge=charge, credits_charge=credits, postpaid_charge=postpaid, rating=rating))


