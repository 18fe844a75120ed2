"""Charging call records: who pays, minute pools, credits, the post-paid statement.

One tenant's records in a batch are charged in ONE database transaction: the tenant row is
locked, records already stored are answered as duplicates (the record id is the idempotency
key), each new record is routed (domain/funding.py), priced (domain/rating.py) and split
(domain/charging.py); then a single usage journal entry draws the batch's credits from the
lots (first-to-expire first, the rest a deficit: usage is never dropped for lack of money),
and the records, pool usage and notifications are written before the commit. A crash
before the commit leaves nothing; sending the same records again charges each exactly once.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from ..db import tenants, usage
from ..db.engine import write_tx
from ..db.schema import users
from ..db.tenants import Tenant
from ..domain.charging import Split, split_call
from ..domain.funding import LICENSE, CallFacts, Route, route_call
from ..domain.money import format_micros, minor_units
from ..domain.numbers import InvalidNumber, PhoneNumber, is_emergency, parse_number
from ..domain.plans import Allowances, PoolKey, pool_sizes, threshold_crossed
from ..domain.rating import NoRate, RatingIndex, price_call
from ..notify.outbox import enqueue
from .call_records import CallRecord, Rejected, parse_record
from .ledger_ops import balance_of, debit_usage
from .rating import rating_index
from .runtime import Runtime

PoolSlot = tuple[str, PoolKey]  # (period YYYY-MM in the tenant's zone, pool)


@dataclass
class Outcome:
    """The answer for one record (API.md `results[]`)."""

    id: str
    status: str  # charged | duplicate | rejected
    charge: int = 0
    funding: str | None = None
    capability: str | None = None
    pool_minutes: int = 0
    currency: str | None = None
    error: dict[str, str] | None = None

    def as_json(self) -> dict[str, Any]:
        if self.status == "rejected":
            return {"id": self.id, "status": "rejected", "charge": None, "funding": None, "error": self.error}
        return {"id": self.id, "status": self.status,
                "charge": format_micros(self.charge, minor_units(self.currency or "USD")),
                "currency": self.currency, "funding": self.funding, "capability": self.capability,
                "pool_minutes": self.pool_minutes}


@dataclass
class _Batch:
    """What one tenant's transaction accumulates before it writes."""

    tenant: Tenant
    zone: ZoneInfo
    products: frozenset[str]
    sizes: dict[PoolKey, int]
    used_before: dict[PoolSlot, int]
    used: dict[PoolSlot, int]
    spendable: int
    people: dict[str, tuple[str, frozenset[str]]]
    rows: list[dict[str, Any]] = field(default_factory=list)
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    credits: int = 0
    switched_to_postpaid: bool = False

    @property
    def billing_mode(self) -> str:
        return "postpaid" if self.switched_to_postpaid else self.tenant.billing_mode


def charge_records(
    rt: Runtime, raw_records: Iterable[Mapping[str, Any]], *, only_tenant: str | None = None
) -> list[Outcome]:
    """Charge a batch of records; the outcomes come back in input order. With `only_tenant`
    (a switch token bound to one tenant) other tenants' records are rejected."""
    from .balance_events import balance_changed

    parsed = [parse_record(r) for r in raw_records]
    results: dict[int, Outcome] = {}
    by_tenant: dict[str, list[tuple[int, CallRecord]]] = defaultdict(list)
    for i, rec in enumerate(parsed):
        if isinstance(rec, Rejected):
            results[i] = _reject(rec.id, rec.code, rec.detail)
        elif only_tenant and rec.tenant_id != only_tenant:
            results[i] = _reject(rec.id, "forbidden", "this switch token may only post its own tenant's records")
        else:
            by_tenant[rec.tenant_id].append((i, rec))
    index = rating_index(rt) if by_tenant else None
    for tenant_id, items in by_tenant.items():
        assert index is not None
        charged_credits = False
        with write_tx(rt.engine) as conn:
            tenant = tenants.lock(conn, tenant_id)
            if tenant is None:
                results.update((i, _reject(r.id, "unknown_tenant", f"tenant {tenant_id} not found")) for i, r in items)
                continue
            batch = _load(conn, tenant, items, rt.clock.now())
            stored = usage.existing_records(conn, [r.id for _, r in items])
            for i, rec in items:
                results[i] = _charge_one(index, batch, rec, stored)
            if batch.rows:
                _write(conn, batch, rt.clock.now())
            charged_credits = batch.credits > 0
        if charged_credits:
            balance_changed(rt, tenant_id)
    return [results[i] for i in range(len(parsed))]


def _reject(record_id: str, code: str, detail: str) -> Outcome:
    return Outcome(record_id, "rejected", error={"code": code, "detail": detail})


def _load(conn: Connection, tenant: Tenant, items: list[tuple[int, CallRecord]], now: datetime) -> _Batch:
    zone = ZoneInfo(tenant.timezone)
    periods = {r.started_at.astimezone(zone).strftime("%Y-%m") for _, r in items}
    used = usage.pool_used(conn, tenant.id, periods)
    quantities = usage.subscription_quantities(conn, tenant.id)
    sizes = pool_sizes(usage.license_holders(conn, tenant.id), quantities, Allowances(usage.allowances(conn)))
    ids = {u for _, r in items for u in (r.user_id, r.organizer_id) if u}
    people: dict[str, tuple[str, frozenset[str]]] = {}
    if ids:
        rows = conn.execute(select(users.c.id, users.c.usage_location, users.c.licenses)
                            .where(users.c.tenant_id == tenant.id, users.c.id.in_(sorted(ids))))
        people = {uid: (loc, frozenset(json.loads(lic))) for uid, loc, lic in rows}
    products = frozenset(p for p, q in quantities.items() if q > 0)
    return _Batch(tenant, zone, products, sizes, used, dict(used), balance_of(conn, tenant, now), people)


def _charge_one(index: RatingIndex, batch: _Batch, rec: CallRecord, stored: dict[str, dict[str, Any]]) -> Outcome:
    tenant = batch.tenant
    if rec.id in stored:
        return _duplicate(rec.id, stored[rec.id], tenant)
    if rec.id in batch.by_id:  # repeated within this batch
        return _duplicate(rec.id, batch.by_id[rec.id], tenant)
    holder_id = rec.organizer_id if rec.call_type == "conf_out" else rec.user_id
    if holder_id and holder_id not in batch.people:
        return _reject(rec.id, "unknown_user", f"user {holder_id} is not a user of this tenant")
    location, licenses = batch.people.get(holder_id or "", (tenant.country, frozenset()))
    emergency = is_emergency(rec.callee, location)
    try:
        callee = None if emergency else parse_number(rec.callee, location)
    except InvalidNumber as exc:
        return _reject(rec.id, "invalid_number", str(exc))
    route = route_call(CallFacts(rec.call_type, callee, emergency, location, licenses, batch.products))
    period = rec.started_at.astimezone(batch.zone).strftime("%Y-%m")
    left = {k: batch.sizes.get(k, 0) - batch.used.get((period, k), 0) for k in route.pools}
    try:
        split = split_call(route, rec.duration_s, left, _pricer(index, tenant, route, rec),
                           billing_mode=batch.billing_mode, spendable=batch.spendable)
    except NoRate as exc:
        return _reject(rec.id, "no_rate", str(exc))
    if (split.credits or split.postpaid) and route.needs_license and LICENSE not in licenses:
        who = "the meeting organizer" if rec.call_type == "conf_out" else "the user"
        return _reject(rec.id, "license_required", f"{who} holds no {LICENSE} license for a call beyond the plans")
    _apply(batch, rec, route, split, callee, period)
    return Outcome(rec.id, "charged", split.charge, split.funding, split.capability, split.pool_minutes,
                   tenant.currency)


def _duplicate(record_id: str, stored: Mapping[str, Any], tenant: Tenant) -> Outcome:
    if stored["tenant_id"] != tenant.id:
        return _reject(record_id, "id_conflict", "this record id was already used by another tenant")
    return Outcome(record_id, "duplicate", stored["charge"], stored["funding"], stored["capability"],
                   stored["pool_minutes"], stored["currency"])


def _pricer(index: RatingIndex, tenant: Tenant, route: Route, rec: CallRecord) -> Callable[[int], int]:
    def price(seconds: int) -> int:
        return price_call(index, rating_key=tenant.rating_key, category=route.category or "",
                          subject=tenant.id, number=route.rate_number, started_at=rec.started_at,
                          duration_s=seconds, currency=tenant.currency).charge_micros
    return price


def _apply(batch: _Batch, rec: CallRecord, route: Route, split: Split, callee: PhoneNumber | None,
           period: str) -> None:
    for draw in split.draws:
        slot = (period, draw.key)
        batch.used[slot] = batch.used.get(slot, 0) + draw.minutes
    batch.credits += split.credits
    batch.spendable -= split.credits
    if split.postpaid and batch.tenant.billing_mode == "migrating":
        batch.switched_to_postpaid = True
    row = {
        "id": rec.id, "tenant_id": batch.tenant.id, "call_id": rec.call_id, "conference_id": rec.conference_id,
        "call_type": rec.call_type, "user_id": rec.user_id, "organizer_id": rec.organizer_id,
        "caller": rec.caller, "callee": callee.e164 if callee else rec.callee,
        "destination_country": callee.country if callee else None,
        "number_type": callee.number_type if callee else "emergency", "domestic": int(route.domestic),
        "started_at": rec.started_at, "duration_s": rec.duration_s, "category": route.category,
        "funding": split.funding, "capability": split.capability, "pool_minutes": split.pool_minutes,
        "charge": split.charge, "credits_charge": split.credits, "postpaid_charge": split.postpaid,
        "connect_fee": 0, "currency": batch.tenant.currency, "rating": None,
    }
    batch.rows.append(row)
    batch.by_id[rec.id] = row


def _write(conn: Connection, batch: _Batch, now: datetime) -> None:
    tenant = batch.tenant
    txn_id = None
    if batch.credits:
        before = balance_of(conn, tenant, now)
        first = batch.rows[0]["id"]
        txn_id, after = debit_usage(conn, tenant, amount=batch.credits, now=now,
                                    reference=f"usage: {len(batch.rows)} call(s) from record {first}",
                                    idempotency_key=f"cdr-batch:{first}")
        if before > 0 >= after:
            enqueue(conn, tenant_id=tenant.id, event="balance_depleted", now=now, payload={
                "tenant_name": tenant.name, "currency": tenant.currency,
                "balance": format_micros(after, minor_units(tenant.currency))})
    for row in batch.rows:
        row["created_at"] = now
        row["transaction_id"] = txn_id if row["credits_charge"] else None
    usage.insert_records(conn, batch.rows)
    changed = {slot: n for slot, n in batch.used.items() if n != batch.used_before.get(slot)}
    usage.save_pool_used(conn, tenant.id, changed, set(batch.used_before))
    for (period, key), after_used in changed.items():
        size = batch.sizes.get(key, 0)
        for percent in threshold_crossed(size, batch.used_before.get((period, key), 0), after_used):
            enqueue(conn, tenant_id=tenant.id, event="pool_threshold", now=now,
                    dedupe_key=f"pool:{period}:{key}:{percent}",
                    payload={"tenant_name": tenant.name, "period": period, "pool": str(key),
                             "product": key.product, "kind": key.kind, "country": key.country,
                             "percent": percent, "total_minutes": size, "used_minutes": after_used})
    if batch.switched_to_postpaid:
        tenants.set_fields(conn, tenant.id, billing_mode="postpaid")
