"""Subscriptions, minute allowances, pool usage and call records.

The `*_of_tenants` readers and the batch writers at the end serve usage charging, which
charges many tenants' records in one transaction with one statement per table
(DESIGN.md "Hot paths batch"). Long id lists are read in chunks that keep every
database's parameter limit.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, select, update

from ..domain.plans import PoolKey
from .schema import tenants, users
from .schema_payments import auto_recharge
from .schema_usage import call_records, plan_allowances, pool_usage, subscriptions
from .tenants import Tenant

CHUNK = 900  # ids per IN (...) list


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
    """Stored call records among `ids` (any tenant), for duplicate answers.

    The ids are sent as literals: with bound parameters PostgreSQL soon switches to a
    generic plan, which on a table that grew since its last ANALYZE scans every row and
    compares it with each of the 900 parameters (seconds per batch); with literals each
    lookup is planned with the ids in hand (primary-key probes, or a hashed list)."""
    found: dict[str, dict[str, Any]] = {}
    cols = [call_records.c[c] for c in ("id", "tenant_id", "funding", "charge", "capability",
                                        "pool_minutes", "currency")]
    for chunk in _chunks(ids):
        wanted = bindparam("ids", list(chunk), expanding=True, literal_execute=True)
        for row in conn.execute(select(*cols).where(call_records.c.id.in_(wanted))):
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




def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def lock_tenants(conn: Connection, ids: Iterable[str]) -> dict[str, Tenant]:
    """Read the tenants and hold their row locks until the transaction ends (PostgreSQL,
    taken in id order so two batches never deadlock; SQLite's write transaction already
    holds the database lock)."""
    found: dict[str, Tenant] = {}
    for chunk in _chunks(sorted(set(ids))):
        stmt = select(tenants).where(tenants.c.id.in_(chunk)).order_by(tenants.c.id)
        if conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        found.update((row.id, Tenant(**row._mapping)) for row in conn.execute(stmt))
    return found


def subscriptions_of_tenants(conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for chunk in _chunks(ids):
        for tid, product, quantity in conn.execute(
            select(subscriptions.c.tenant_id, subscriptions.c.product, subscriptions.c.quantity)
            .where(subscriptions.c.tenant_id.in_(chunk))
        ):
            out[tid][product] = quantity
    return out


def license_holders_of_tenants(conn: Connection, ids: Sequence[str]) -> dict[str, list[tuple[str, list[str]]]]:
    """(usage location, licenses) of every user of each tenant, counted in the database."""
    out: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    for chunk in _chunks(ids):
        rows = conn.execute(
            select(users.c.tenant_id, users.c.usage_location, users.c.licenses, func.count())
            .where(users.c.tenant_id.in_(chunk))
            .group_by(users.c.tenant_id, users.c.usage_location, users.c.licenses)
        )
        for tid, location, licenses, count in rows:
            out[tid].extend([(location, json.loads(licenses))] * count)
    return out


def users_by_id(conn: Connection, ids: Iterable[str]) -> dict[str, tuple[str, str, frozenset[str]]]:
    """user id -> (tenant id, usage location, licenses) for the users among `ids`."""
    out: dict[str, tuple[str, str, frozenset[str]]] = {}
    parsed: dict[str, frozenset[str]] = {}  # few distinct license sets: parse each once
    for chunk in _chunks(sorted(set(ids))):
        rows = conn.execute(select(users.c.id, users.c.tenant_id, users.c.usage_location, users.c.licenses)
                            .where(users.c.id.in_(chunk)))
        for uid, tid, location, licenses in rows:
            held = parsed.get(licenses)
            if held is None:
                held = parsed[licenses] = frozenset(json.loads(licenses))
            out[uid] = (tid, location, held)
    return out


def pool_used_of_tenants(conn: Connection, ids: Sequence[str], periods: Iterable[str]
                         ) -> dict[str, dict[tuple[str, PoolKey], int]]:
    out: dict[str, dict[tuple[str, PoolKey], int]] = defaultdict(dict)
    months = sorted(set(periods))
    for chunk in _chunks(ids):
        rows = conn.execute(
            select(pool_usage.c.tenant_id, pool_usage.c.period, pool_usage.c.product, pool_usage.c.kind,
                   pool_usage.c.country, pool_usage.c.used_minutes)
            .where(pool_usage.c.tenant_id.in_(chunk), pool_usage.c.period.in_(months))
        )
        for tid, period, p, k, c, used in rows:
            out[tid][(period, PoolKey(p, k, c))] = used
    return out


def save_pool_used_many(conn: Connection, updates: list[tuple[str, str, PoolKey, int]],
                        inserts: list[tuple[str, str, PoolKey, int]]) -> None:
    """Write (tenant id, period, pool, used minutes): `updates` exist already, `inserts` are new."""
    if updates:
        conn.execute(
            update(pool_usage).where(
                pool_usage.c.tenant_id == bindparam("t"), pool_usage.c.period == bindparam("m"),
                pool_usage.c.product == bindparam("p"), pool_usage.c.kind == bindparam("k"),
                pool_usage.c.country == bindparam("c"),
            ).values(used_minutes=bindparam("u")),
            [{"t": t, "m": m, "p": k.product, "k": k.kind, "c": k.country, "u": u} for t, m, k, u in updates],
        )
    if inserts:
        conn.execute(pool_usage.insert(), [
            {"tenant_id": t, "period": m, "product": k.product, "kind": k.kind, "country": k.country,
             "used_minutes": u} for t, m, k, u in inserts])


RECORD_COLUMNS = tuple(c.name for c in call_records.columns)
_INSTANTS = tuple(i for i, c in enumerate(RECORD_COLUMNS) if c in ("started_at", "created_at"))


def _instant_param(dialect: str) -> Callable[[datetime], Any]:
    """What `UTCDateTime` binds for an aware instant: naive UTC; on SQLite the text form
    SQLAlchemy's DATETIME stores ("2026-01-20 15:00:00.000000"), so reads and range
    queries through the table definitions see exactly the same values."""
    if dialect == "sqlite":
        return lambda d: d.astimezone(UTC).isoformat(" ", "microseconds")[:26]
    return lambda d: d.astimezone(UTC).replace(tzinfo=None)


def insert_record_rows(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert call records given as tuples in `RECORD_COLUMNS` order (aware datetimes) with
    one driver-level executemany: the batch path skips per-row parameter dictionaries."""
    if not rows:
        return
    to_db = _instant_param(conn.dialect.name)
    first, second = _INSTANTS
    fixed = [(*r[:first], to_db(r[first]), *r[first + 1:second], to_db(r[second]), *r[second + 1:])
             for r in rows]
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO {call_records.name} ({', '.join(RECORD_COLUMNS)}) "
           f"VALUES ({', '.join([mark] * len(RECORD_COLUMNS))})")
    conn.exec_driver_sql(sql, fixed)


def tenants_with_auto_recharge(conn: Connection, ids: Sequence[str]) -> set[str]:
    """Which of the tenants have auto-recharge settings (only those need the check after a
    charge; for the others it would do nothing)."""
    found: set[str] = set()
    for chunk in _chunks(ids):
        found.update(conn.execute(select(auto_recharge.c.tenant_id)
                                  .where(auto_recharge.c.tenant_id.in_(chunk))).scalars())
    return found
