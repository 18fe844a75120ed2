"""Real-time call control for the switch: authorize, extend, end (settle), expire.

`authorize` decides allow/deny with the funding source and `max_seconds` and, for a
credit-funded call, holds money for the granted time (a reservation), all under the tenant's
lock so concurrent calls share the available balance. `end` charges the real duration
through the same charging path as call records (the call id is the record id), then
releases the hold; both steps are idempotent, so the switch may retry `end` freely. A hold
the switch never settles expires (`expire_reservations`, run by the jobs).

On SQLite, where one writer holds the database at a time, the call-control writes of one
process queue on a lock (`_writer`) instead of in SQLite's busy handler, whose sleeps with
back-off starve callers under concurrency (100 concurrent callers: minutes, then 500s).

Emergency calls are decided before anything touches the database: they are allowed even
when the database is unreachable (`emergency_decision`). Everything else fails closed: when
the database cannot be reached the API answers 503 and the switch must deny the call.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from ..db import reservations as res_db
from ..db import tenants as tenant_db
from ..db import usage
from ..db.engine import read_tx, write_tx
from ..db.rows import new_id
from ..db.schema import users
from ..db.tenants import Tenant
from ..domain.funding import LICENSE, CallFacts, Route, route_call
from ..domain.money import format_micros, minor_units
from ..domain.numbers import InvalidNumber, is_emergency, parse_number
from ..domain.plans import Allowances, PoolKey, pool_sizes
from ..domain.purchases import TenantFacts, purchase_refusal
from ..domain.rating import NoRate, RatingIndex, max_seconds_for, price_call
from ..domain.reservations import next_grant
from ..errors import Forbidden, NotFound, ValidationError
from .call_records import parse_instant
from .charging import charge_records
from .funds import iso
from .ledger_ops import balance_of
from .principal import Principal
from .rating import rating_index
from .runtime import Runtime

EMERGENCY_EVERYWHERE = frozenset({"911", "112", "999", "000", "110", "119", "118", "100", "101", "102", "108"})


_SQLITE_WRITER = threading.Lock()


@contextmanager
def _writer(rt: Runtime) -> Iterator[None]:
    """One call-control writer at a time in this process on SQLite (see the module doc)."""
    with _SQLITE_WRITER if rt.engine.dialect.name == "sqlite" else nullcontext():
        yield


def emergency_decision(call_id: str, callee: str, caller: str) -> dict[str, Any] | None:
    """Allow an emergency call without the database (callee checked against the caller's
    country's short codes, else against the codes used almost everywhere)."""
    region = None
    try:
        region = parse_number(caller).country if caller.startswith("+") else None
    except InvalidNumber:
        region = None
    digits = callee.strip()
    if (region and is_emergency(digits, region)) or digits in EMERGENCY_EVERYWHERE:
        return _answer(call_id, "allow", "emergency", None, "free", None, None)
    return None


def _answer(call_id: str, decision: str, reason: str, max_seconds: int | None, funding: str | None,
            reservation: dict[str, Any] | None, currency: str | None) -> dict[str, Any]:
    return {"call_id": call_id, "decision": decision, "reason": reason, "max_seconds": max_seconds,
            "funding": funding, "reservation": reservation, "currency": currency}


def check_switch(who: Principal, tenant_id: str) -> None:
    if who.kind == "switch":
        if who.tenant_id and who.tenant_id != tenant_id:
            raise NotFound(f"tenant {tenant_id} not found")
        return
    if not who.is_operator:
        raise Forbidden("call control is for the switch (a switch token) or the operator")


def authorize(rt: Runtime, who: Principal, body: dict[str, Any]) -> dict[str, Any]:
    tenant_id, call_id = str(body["tenant_id"]), str(body["call_id"])
    check_switch(who, tenant_id)
    started = parse_instant(body["started_at"]) if body.get("started_at") else rt.clock.now()
    now = rt.clock.now()
    index = rating_index(rt)  # before the transaction: its refresh must not need a 2nd connection
    with _writer(rt), write_tx(rt.engine) as conn:
        tenant = tenant_db.lock(conn, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        seen = res_db.get(conn, call_id)
        if seen is not None:
            if seen["tenant_id"] != tenant_id:
                raise ValidationError(f"call id {call_id} belongs to another tenant", code="id_conflict")
            return _replay(seen, tenant)
        answer, row = _decide(rt, index, conn, tenant, body, started, now)
        row.update(call_id=call_id, tenant_id=tenant_id, started_at=started, created_at=now,
                   call_type=body["call_type"], caller=str(body.get("caller") or ""),
                   callee=str(body["callee"]), user_id=body.get("user_id"), organizer_id=body.get("organizer_id"),
                   answer=json.dumps(answer))
        res_db.insert(conn, row)
    return answer


def _replay(seen: dict[str, Any], tenant: Tenant) -> dict[str, Any]:
    """The first answer again: authorize is idempotent on the call id."""
    answer: dict[str, Any] = json.loads(seen["answer"])
    return answer


def _context(conn: Connection, tenant: Tenant, holder_id: str | None) -> tuple[str, frozenset[str], frozenset[str]]:
    location, licenses = tenant.country, frozenset[str]()
    if holder_id:
        row = conn.execute(select(users.c.usage_location, users.c.licenses)
                           .where(users.c.tenant_id == tenant.id, users.c.id == holder_id)).first()
        if row is None:
            raise NotFound(f"user {holder_id} not found")
        location, licenses = row[0], frozenset(json.loads(row[1]))
    products = frozenset(p for p, q in usage.subscription_quantities(conn, tenant.id).items() if q > 0)
    return location, licenses, products


def _decide(rt: Runtime, index: RatingIndex, conn: Connection, tenant: Tenant, body: dict[str, Any], started: datetime,
            now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    call_id, call_type = str(body["call_id"]), str(body["call_type"])
    holder = body.get("organizer_id") if call_type == "conf_out" else body.get("user_id")
    location, licenses, products = _context(conn, tenant, holder)
    callee_text = str(body["callee"]).strip()
    emergency = is_emergency(callee_text, location)
    try:
        callee = None if emergency else parse_number(callee_text, location)
        route = route_call(CallFacts(call_type, callee, emergency, location, licenses, products))
    except (InvalidNumber, ValueError) as exc:
        raise ValidationError(str(exc), code=getattr(exc, "code", "validation_error")) from None
    settings = rt.settings
    row_id = new_id()
    base = {"id": row_id, "funding": None, "amount": 0, "granted_s": None, "pool_minutes": 0, "pool_period": None,
            "pool_product": None, "pool_kind": None, "pool_country": None}

    def allow(reason: str, funding: str, max_s: int | None, hold: int = 0,
              ttl_s: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        expires = now + timedelta(seconds=(max_s + settings.reservation_grace_seconds) if max_s is not None
                                  else (ttl_s or settings.reservation_ttl_seconds))
        reservation = {"id": row_id, "amount": format_micros(hold, minor_units(tenant.currency)),
                       "expires_at": iso(expires)}
        row = {**base, "decision": "allow", "reason": reason, "funding": funding, "amount": hold,
               "granted_s": max_s, "status": "active", "expires_at": expires}
        return _answer(call_id, "allow", reason, max_s, funding, reservation, tenant.currency), row

    def deny(reason: str) -> tuple[dict[str, Any], dict[str, Any]]:
        row = {**base, "decision": "deny", "reason": reason, "status": "denied", "expires_at": now}
        return _answer(call_id, "deny", reason, 0, None, None, tenant.currency), row

    if route.payer == "free":
        return allow(route.reason, "free", None)
    pricer = _pricer(index, tenant, route, started)
    try:
        pricer(0)
    except NoRate:
        return deny("no_rate")
    pool = _pool_grant(conn, tenant, route, started, licenses)
    if pool is not None:
        key, minutes, period = pool
        answer, row = allow("pool", "pool", None if LICENSE in licenses else minutes * 60)
        row.update(pool_minutes=minutes, pool_period=period, pool_product=key.product, pool_kind=key.kind,
                   pool_country=key.country)
        return answer, row
    if route.needs_license and LICENSE not in licenses:
        return deny("license_required")
    if tenant.billing_mode == "postpaid":
        return allow("postpaid", "postpaid", None)
    available = balance_of(conn, tenant, now) - tenant.reserved
    if tenant.billing_mode == "migrating" and available <= 0:
        return allow("postpaid", "postpaid", None)
    grant = next_grant(granted_s=0, held=0, available=available, chunk_s=settings.call_chunk_seconds,
                       full=body.get("reserve") == "full", affordable=_affordable(rt, index, tenant, route, started),
                       price=pricer)
    if grant is None:
        refusal = purchase_refusal(TenantFacts(tenant.country, tenant.billing_country, tenant.billing_mode,
                                               tenant.purchase_mitigation, tenant.partner_funded),
                                   rt.settings.blocked_countries)
        return deny("purchase_blocked" if refusal else "insufficient_balance")
    if grant.seconds == 0:
        return allow("credits", "credits", None)
    return allow("credits", "credits", grant.seconds, grant.hold)


def _pricer(index: RatingIndex, tenant: Tenant, route: Route, started: datetime) -> Any:
    def price(seconds: int) -> int:
        return price_call(index, rating_key=tenant.rating_key, category=route.category or "", subject=tenant.id,
                          number=route.rate_number, started_at=started, duration_s=seconds,
                          currency=tenant.currency).charge_micros
    return price


def _affordable(rt: Runtime, index: RatingIndex, tenant: Tenant, route: Route, started: datetime) -> Any:
    def affordable(budget: int) -> int | None:
        return max_seconds_for(index, rating_key=tenant.rating_key, category=route.category or "",
                               subject=tenant.id, number=route.rate_number, started_at=started,
                               amount_micros=budget, currency=tenant.currency,
                               limit_s=rt.settings.call_max_seconds)
    return affordable


def _pool_grant(conn: Connection, tenant: Tenant, route: Route, started: datetime,
                licenses: frozenset[str]) -> tuple[PoolKey, int, str] | None:
    """The first of the route's pools with minutes left (after other calls' holds)."""
    if not route.pools:
        return None
    period = started.astimezone(ZoneInfo(tenant.timezone)).strftime("%Y-%m")
    sizes = pool_sizes(usage.license_holders(conn, tenant.id), usage.subscription_quantities(conn, tenant.id),
                       Allowances(usage.allowances(conn)))
    used = usage.pool_used(conn, tenant.id, [period])
    held = res_db.pool_held(conn, tenant.id, period)
    for key in route.pools:
        left = sizes.get(key, 0) - used.get((period, key), 0) - held.get((key.product, key.kind, key.country), 0)
        if left > 0:
            return key, min(left, 5), period
    return None


def extend(rt: Runtime, who: Principal, call_id: str, *, reserve: str | None = None) -> dict[str, Any]:
    """More time for a call in progress: the next chunk (or everything affordable)."""
    now = rt.clock.now()
    index = rating_index(rt)
    with _writer(rt), write_tx(rt.engine) as conn:
        row = _reservation(conn, who, call_id)
        tenant = tenant_db.lock(conn, row["tenant_id"])
        assert tenant is not None
        row = res_db.get(conn, call_id) or row  # re-read under the lock
        if row["status"] != "active":
            return _answer(call_id, "deny", "not_active" if row["status"] == "denied" else row["status"], 0,
                           row["funding"], None, tenant.currency)
        if row["granted_s"] is None:  # nothing limits it
            return _answer(call_id, "allow", row["reason"], None, row["funding"], None, tenant.currency)
        if row["funding"] == "pool":
            return _extend_pool(conn, rt, tenant, row, now)
        route = _route_of(conn, tenant, row)
        available = balance_of(conn, tenant, now) - tenant.reserved
        grant = next_grant(granted_s=row["granted_s"], held=row["amount"], available=available,
                           chunk_s=rt.settings.call_chunk_seconds, full=reserve == "full",
                           affordable=_affordable(rt, index, tenant, route, row["started_at"]),
                           price=_pricer(index, tenant, route, row["started_at"]))
        granted, hold = (row["granted_s"], row["amount"]) if grant is None else (grant.seconds, grant.hold)
        expires = row["started_at"] + timedelta(seconds=granted + rt.settings.reservation_grace_seconds)
        expires = max(expires, now + timedelta(seconds=rt.settings.reservation_grace_seconds))
        res_db.change(conn, call_id, tenant.id, delta=hold - row["amount"], granted_s=granted, expires_at=expires)
    digits = minor_units(tenant.currency)
    return _answer(call_id, "allow", "credits" if grant else "limit_reached", granted, row["funding"],
                   {"id": row["id"], "amount": format_micros(hold, digits), "expires_at": iso(expires)},
                   tenant.currency)


def _extend_pool(conn: Connection, rt: Runtime, tenant: Tenant, row: dict[str, Any], now: datetime) -> dict[str, Any]:
    key = PoolKey(row["pool_product"], row["pool_kind"], row["pool_country"])
    sizes = pool_sizes(usage.license_holders(conn, tenant.id), usage.subscription_quantities(conn, tenant.id),
                       Allowances(usage.allowances(conn)))
    period = row["pool_period"]
    used = usage.pool_used(conn, tenant.id, [period]).get((period, key), 0)
    held = res_db.pool_held(conn, tenant.id, period).get((key.product, key.kind, key.country), 0)
    more = min(max(sizes.get(key, 0) - used - held, 0), 5)
    granted = row["granted_s"] + more * 60
    expires = now + timedelta(seconds=rt.settings.reservation_grace_seconds + more * 60)
    res_db.change(conn, row["call_id"], tenant.id, delta=0, granted_s=granted,
                  pool_minutes=row["pool_minutes"] + more, expires_at=expires)
    return _answer(row["call_id"], "allow", "pool" if more else "limit_reached", granted, "pool",
                   {"id": row["id"], "amount": "0", "expires_at": iso(expires)}, tenant.currency)


def _reservation(conn: Connection, who: Principal, call_id: str) -> dict[str, Any]:
    row = res_db.get(conn, call_id)
    if row is None:
        raise NotFound(f"call {call_id} was never authorized")
    check_switch(who, row["tenant_id"])
    return row


def _route_of(conn: Connection, tenant: Tenant, row: dict[str, Any]) -> Route:
    holder = row["organizer_id"] if row["call_type"] == "conf_out" else row["user_id"]
    location, licenses, products = _context(conn, tenant, holder)
    emergency = is_emergency(row["callee"], location)
    callee = None if emergency else parse_number(row["callee"], location)
    return route_call(CallFacts(row["call_type"], callee, emergency, location, licenses, products))


def end(rt: Runtime, who: Principal, call_id: str, *, duration_seconds: int, ended_at: Any = None) -> dict[str, Any]:
    """Settle a call: charge the real duration (idempotent on the call id), release the hold."""
    if isinstance(duration_seconds, bool) or not isinstance(duration_seconds, int) or duration_seconds < 0:
        raise ValidationError("duration_seconds must be a whole number >= 0")
    with read_tx(rt.engine) as conn:
        row = _reservation(conn, who, call_id)
    record = {"id": call_id, "tenant_id": row["tenant_id"], "call_type": row["call_type"], "caller": row["caller"],
              "callee": row["callee"], "started_at": row["started_at"], "duration_seconds": duration_seconds,
              "user_id": row["user_id"], "organizer_id": row["organizer_id"], "call_id": call_id}
    if ended_at is not None and duration_seconds:
        record["started_at"] = parse_instant(ended_at) - timedelta(seconds=duration_seconds)
    with _writer(rt):
        outcome = charge_records(rt, [record])[0].as_json()
    now = rt.clock.now()
    with _writer(rt), write_tx(rt.engine) as conn:
        tenant = tenant_db.lock(conn, row["tenant_id"])
        assert tenant is not None
        current = res_db.get(conn, call_id)
        assert current is not None
        released = current["amount"]
        if current["status"] == "active":
            res_db.release(conn, current, status="settled", now=now, outcome=json.dumps(outcome))
    return {"call_id": call_id, "duration_seconds": duration_seconds, **{k: v for k, v in outcome.items() if k != "id"},
            "released": format_micros(released, minor_units(tenant.currency))}


def expire_reservations(rt: Runtime, now: datetime) -> int:
    """Release holds the switch never settled (job)."""
    done = 0
    with read_tx(rt.engine) as conn:
        due = res_db.due(conn, now)
    for row in due:
        with _writer(rt), write_tx(rt.engine) as conn:
            tenant_db.lock(conn, row["tenant_id"])
            current = res_db.get(conn, row["call_id"])
            if current and current["status"] == "active" and current["expires_at"] <= now:
                res_db.release(conn, current, status="expired", now=now)
                done += 1
    return done
