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
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, select, update

from ..domain.plans import PoolKey
from .raw import Raw, pg_array
from .schema import users
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
    return allowances_later(conn)()


def allowances_later(conn: Connection) -> Callable[[], dict[tuple[str, str, str], int]]:
    fetch = Raw.of(conn).later("SELECT product, kind, country, minutes FROM plan_allowances")
    return lambda: {(p, k, c): m for p, k, c, m in fetch()}


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
    """Stored call records among `ids` (any tenant), for duplicate answers (one array
    parameter on PostgreSQL: the plan is a primary-key probe per id whatever the count)."""
    return existing_records_later(conn, ids)()


def existing_records_later(conn: Connection, ids: list[str]) -> Callable[[], dict[str, dict[str, Any]]]:
    raw = Raw.of(conn)
    names = ("id", "tenant_id", "funding", "charge", "capability", "pool_minutes", "currency")
    fetches = [raw.later(f"SELECT {', '.join(names)} FROM call_records WHERE {cond}", params)
               for cond, params in raw.conditions("id", ids)]

    def read() -> dict[str, dict[str, Any]]:
        return {row[0]: dict(zip(names, row, strict=True)) for fetch in fetches for row in fetch()}
    return read

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


_TENANT_COLUMNS = ", ".join(Tenant.__slots__)


def lock_tenants(conn: Connection, ids: Iterable[str]) -> dict[str, Tenant]:
    """Read the tenants and hold their row locks until the transaction ends (PostgreSQL,
    taken in id order so two batches never deadlock; SQLite's write transaction already
    holds the database lock)."""
    return lock_tenants_later(conn, ids)()


def lock_tenants_later(conn: Connection, ids: Iterable[str], *, of_calls: Sequence[str] = ()
                       ) -> Callable[[], dict[str, Tenant]]:
    """`lock_tenants`, sent now and read when called. On PostgreSQL `of_calls` adds the
    tenants of those calls' reservations, so the call desk locks without reading them first."""
    raw = Raw.of(conn)
    lock = " FOR UPDATE" if raw.pg else ""
    if of_calls:
        if not raw.pg:
            raise ValueError("of_calls is for PostgreSQL; on SQLite read the reservations first")
        # one array built first (an InitPlan), so the tenants are found through their key; an
        # `id = ANY(?) OR id IN (SELECT ...)` would filter every tenant row instead
        fetches = [raw.later(f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE id = ANY(ARRAY("
                             "SELECT unnest(?::text[]) UNION ALL "
                             f"SELECT tenant_id FROM reservations WHERE call_id = ANY(?))) ORDER BY id{lock}",
                             [pg_array(sorted(set(ids))), pg_array(of_calls)])]
    else:
        fetches = [raw.later(f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE {cond} ORDER BY id{lock}", params)
                   for cond, params in raw.conditions("id", ids)]

    def read() -> dict[str, Tenant]:
        found: dict[str, Tenant] = {}
        for fetch in fetches:
            for row in fetch():
                data = dict(zip(Tenant.__slots__, row, strict=True))
                data.update(purchase_mitigation=bool(data["purchase_mitigation"]),
                            partner_funded=bool(data["partner_funded"]),
                            created_at=raw.read_instant(data["created_at"]))
                found[row[0]] = Tenant(**data)
        return found
    return read

def subscriptions_of_tenants(conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, int]]:
    return subscriptions_of_tenants_later(conn, ids)()


def subscriptions_of_tenants_later(conn: Connection, ids: Sequence[str]) -> Callable[[], dict[str, dict[str, int]]]:
    raw = Raw.of(conn)
    fetches = [raw.later(f"SELECT tenant_id, product, quantity FROM subscriptions WHERE {cond}", params)
               for cond, params in raw.conditions("tenant_id", ids)]

    def read() -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for fetch in fetches:
            for tid, product, quantity in fetch():
                out[tid][product] = quantity
        return out
    return read

def license_holders_of_tenants(conn: Connection, ids: Sequence[str]) -> dict[str, list[tuple[str, list[str]]]]:
    """(usage location, licenses) of every user of each tenant, counted in the database."""
    return license_holders_of_tenants_later(conn, ids)()


def license_holders_of_tenants_later(conn: Connection, ids: Sequence[str]
                                     ) -> Callable[[], dict[str, list[tuple[str, list[str]]]]]:
    raw = Raw.of(conn)
    fetches = [raw.later(f"SELECT tenant_id, usage_location, licenses, COUNT(*) FROM users WHERE {cond} "
                         "GROUP BY tenant_id, usage_location, licenses", params)
               for cond, params in raw.conditions("tenant_id", ids)]

    def read() -> dict[str, list[tuple[str, list[str]]]]:
        out: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
        for fetch in fetches:
            for tid, location, licenses, count in fetch():
                out[tid].extend([(location, json.loads(licenses))] * count)
        return out
    return read


def users_by_id(conn: Connection, ids: Iterable[str]) -> dict[str, tuple[str, str, frozenset[str]]]:
    """user id -> (tenant id, usage location, licenses) for the users among `ids`."""
    return users_by_id_later(conn, ids)()


def users_by_id_later(conn: Connection, ids: Iterable[str]
                      ) -> Callable[[], dict[str, tuple[str, str, frozenset[str]]]]:
    raw = Raw.of(conn)
    fetches = [raw.later(f"SELECT id, tenant_id, usage_location, licenses FROM users WHERE {cond}", params)
               for cond, params in raw.conditions("id", ids)]

    def read() -> dict[str, tuple[str, str, frozenset[str]]]:
        out: dict[str, tuple[str, str, frozenset[str]]] = {}
        parsed: dict[str, frozenset[str]] = {}  # few distinct license sets: parse each once
        for fetch in fetches:
            for uid, tid, location, licenses in fetch():
                held = parsed.get(licenses)
                if held is None:
                    held = parsed[licenses] = frozenset(json.loads(licenses))
                out[uid] = (tid, location, held)
        return out
    return read

def pool_used_of_tenants(conn: Connection, ids: Sequence[str], periods: Iterable[str]
                         ) -> dict[str, dict[tuple[str, PoolKey], int]]:
    return pool_used_of_tenants_later(conn, ids, periods)()


def pool_used_of_tenants_later(conn: Connection, ids: Sequence[str], periods: Iterable[str]
                               ) -> Callable[[], dict[str, dict[tuple[str, PoolKey], int]]]:
    raw = Raw.of(conn)
    months = sorted(set(periods))
    fetches = []
    if months:
        in_months, more = raw.among("period", months)
        fetches = [raw.later(f"SELECT tenant_id, period, product, kind, country, used_minutes FROM pool_usage "
                             f"WHERE {cond} AND {in_months}", params + more)
                   for cond, params in raw.conditions("tenant_id", ids)]

    def read() -> dict[str, dict[tuple[str, PoolKey], int]]:
        out: dict[str, dict[tuple[str, PoolKey], int]] = defaultdict(dict)
        for fetch in fetches:
            for tid, period, p, k, c, used in fetch():
                out[tid][(period, PoolKey(p, k, c))] = used
        return out
    return read


def save_pool_used_many(conn: Connection, updates: list[tuple[str, str, PoolKey, int]],
                        inserts: list[tuple[str, str, PoolKey, int]]) -> None:
    """Write (tenant id, period, pool, used minutes): `updates` exist already, `inserts` are new."""
    raw = Raw.of(conn)
    raw.many("UPDATE pool_usage SET used_minutes = ? WHERE tenant_id = ? AND period = ? AND product = ? "
             "AND kind = ? AND country = ?", [(u, t, m, k.product, k.kind, k.country) for t, m, k, u in updates])
    raw.many("INSERT INTO pool_usage (tenant_id, period, product, kind, country, used_minutes) "
             "VALUES (?, ?, ?, ?, ?, ?)", [(t, m, k.product, k.kind, k.country, u) for t, m, k, u in inserts])


RECORD_COLUMNS = tuple(c.name for c in call_records.columns)
_INSTANTS = tuple(i for i, c in enumerate(RECORD_COLUMNS) if c in ("started_at", "created_at"))


def insert_record_rows(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert call records given as tuples in `RECORD_COLUMNS` order (aware datetimes) with
    one driver-level statement (`Raw.copy`: COPY on PostgreSQL, executemany on SQLite): the
    batch path skips per-row parameter dictionaries. The last column (`created_at`) is
    usually one instant for the whole batch and is converted once."""
    if not rows:
        return
    raw = Raw.of(conn)
    first, second = _INSTANTS
    assert second == len(RECORD_COLUMNS) - 1, "created_at is the last column"
    to_db = raw.instant
    last: Any = None
    last_db: Any = None
    fixed: list[tuple[Any, ...]] = []
    append = fixed.append
    for r in rows:
        created = r[second]
        if created is not last:
            last, last_db = created, to_db(created)
        append((*r[:first], to_db(r[first]), *r[first + 1:second], last_db))
    insert_stored_record_rows(conn, fixed)


def insert_stored_record_rows(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """`insert_record_rows` for rows whose instants are already in the database's form
    (`Raw.instant`): batch charging builds each row once, in its final form."""
    if rows:
        Raw.of(conn).copy("call_records", RECORD_COLUMNS, rows)


# a tenant's low-balance threshold (None: not set) and dial-out policy; the own dial-out
# policies of users, per tenant
SpendSettings = tuple[dict[str, int | None], dict[str, str], dict[str, dict[str, str]]]


def spend_settings_later(conn: Connection, ids: Sequence[str], holders: Iterable[str]
                         ) -> Callable[[], SpendSettings]:
    """What charging needs from the tenants' spend controls, in one statement (send now, read
    later): the `balance_low` thresholds where set, the dial-out policies where set, and the
    own dial-out policies of the users among `holders` that have one."""
    raw = Raw.of(conn)
    tenants = [raw.later(f"SELECT tenant_id, low_balance_threshold, dial_out_policy FROM spend_controls "
                         f"WHERE {cond}", params) for cond, params in raw.conditions("tenant_id", ids)]
    users = [raw.later(f"SELECT user_id, tenant_id, dial_out_policy FROM user_dial_out_policies WHERE {cond}",
                       params) for cond, params in raw.conditions("user_id", holders)]

    def read() -> SpendSettings:
        thresholds: dict[str, int | None] = {}
        tenant_policies: dict[str, str] = {}
        for fetch in tenants:
            for tid, threshold, policy in fetch():
                thresholds[tid] = None if threshold is None else int(threshold)
                tenant_policies[tid] = policy
        own: dict[str, dict[str, str]] = defaultdict(dict)
        for fetch in users:
            for uid, tid, policy in fetch():
                own[tid][uid] = policy
        return thresholds, tenant_policies, own
    return read

def tenants_with_auto_recharge(conn: Connection, ids: Sequence[str]) -> set[str]:
    """Which of the tenants have auto-recharge settings (only those need the check after a
    charge; for the others it would do nothing)."""
    return tenants_with_auto_recharge_later(conn, ids)()


def tenants_with_auto_recharge_later(conn: Connection, ids: Sequence[str]) -> Callable[[], set[str]]:
    raw = Raw.of(conn)
    fetches = [raw.later(f"SELECT tenant_id FROM auto_recharge WHERE {cond}", params)
               for cond, params in raw.conditions("tenant_id", ids)]
    return lambda: {r[0] for fetch in fetches for r in fetch()}
