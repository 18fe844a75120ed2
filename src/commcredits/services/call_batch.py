"""One batch of call-control requests, decided and written in one transaction.

The call desk hands over the requests that were waiting; `handle_batch` reads what they
need with one statement per table (tokens, reservations, tenants locked in id order, users,
subscriptions, balances), then:

1. settles every `end` through the charging core (`charging.charge_in`, the path call
   records take, so the bulk and real-time paths charge alike) and releases its hold;
2. decides every `authorize` and `extend` in arrival order against the balances the
   settlements left, each call described once (`domain/call_descriptor.py`); a hold taken
   by one request is seen by the next, so concurrent calls share what is available;
3. writes the new holds and the tenants' `reserved` figures, one statement per table.

A request that is refused gets its exception as its result and writes nothing; the others
go on. Nothing here commits: the desk does, once, for the whole batch.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from ..db import reservations as res_db
from ..db import usage
from ..db.raw import Raw
from ..db.rows import new_id
from ..db.schema_calls import reservations
from ..db.tenants import Tenant
from ..db.tokens import hash_token
from ..domain.call_descriptor import CallDescriptor, CallRefused, Holder, TenantTerms, describe
from ..domain.money import format_micros, minor_units
from ..domain.plans import Allowances, PoolKey, pool_sizes
from ..domain.purchases import TenantFacts, purchase_refusal
from ..domain.rating import NoRate, RatingError, RatingIndex
from ..domain.reservations import next_grant
from ..domain.spend_controls import SpendControls, effective_policy, policy_blocks
from ..errors import CommCreditsError, Conflict, Forbidden, NotFound, Unauthenticated, ValidationError
from . import alerts, charging
from .call_control import AuthorizeRequest, EndRequest, ExtendRequest, RecordsRequest, answer
from .call_desk import Job
from .call_records import CallRecord, Rejected
from .funds import iso
from .rating import rating_index
from .runtime import Runtime
from .spend_controls import exhausted_cap, room_left

POOL_CHUNK_MINUTES = 5


@dataclass
class _Account:
    """A tenant as this batch sees it: locked, with its balance and holds kept current."""

    tenant: Tenant
    terms: TenantTerms
    available: int = 0  # balance - reserved, after this batch's settlements and holds
    reserved_delta: int = 0
    products: frozenset[str] = frozenset()
    pools: dict[str, Any] = field(default_factory=dict)  # period -> (sizes, used, held)
    controls: SpendControls = field(default_factory=SpendControls)
    room: dict[str | None, int | None] = field(default_factory=dict)  # holder -> cap room (before holds)
    user_held: dict[str, int] = field(default_factory=dict)  # holder -> money held by their calls


@dataclass
class _Batch:
    rt: Runtime
    conn: Connection
    index: RatingIndex
    now: datetime
    accounts: dict[str, _Account] = field(default_factory=dict)
    people: dict[str, tuple[str, str, frozenset[str]]] = field(default_factory=dict)
    policies: dict[str, str] = field(default_factory=dict)  # user id -> own dial-out policy
    new_holds: list[dict[str, Any]] = field(default_factory=list)


def handle_batch(rt: Runtime, conn: Connection, jobs: Sequence[Job]) -> tuple[list[Any], list[str]]:
    now = rt.clock.now()
    batch = _Batch(rt, conn, rating_index(rt), now)
    results: list[Any] = [None] * len(jobs)
    who = _principals(conn, [j.bearer for j in jobs])
    rows = _reservations(conn, [j.request.call_id for j in jobs if not isinstance(j.request, RecordsRequest)])
    tenant_ids: set[str] = set()
    for i, job in enumerate(jobs):
        if isinstance(job.request, RecordsRequest):
            tenant_ids.update(r.tenant_id for r in job.request.records if isinstance(r, CallRecord))
            continue
        try:
            tenant_ids.add(_tenant_of(job, who.get(job.bearer or ""), rows))
        except CommCreditsError as exc:
            results[i] = exc
    locked = usage.lock_tenants(conn, tenant_ids)
    if conn.dialect.name != "sqlite":  # re-read under the locks: another process may have settled
        rows = _reservations(conn, [j.request.call_id for j in jobs if not isinstance(j.request, RecordsRequest)])
    changed = _charge_records(batch, jobs, results)
    changed += _settle(batch, jobs, results, rows, locked)
    if any(job.kind in ("authorize", "extend") for job in jobs):
        _load_accounts(batch, locked, jobs, rows)
    answered: dict[str, dict[str, Any]] = {}
    for i, job in enumerate(jobs):
        if results[i] is not None or job.kind in ("end", "records"):
            continue
        try:
            if job.kind == "authorize":
                results[i] = _authorize(batch, job.request, rows, answered)
            else:
                results[i] = _extend(batch, job.request, rows)
        except CommCreditsError as exc:
            results[i] = exc
    _write_holds(batch)
    return results, changed


# ---------------------------------------------------------------- loading


def _principals(conn: Connection, bearers: list[str | None]) -> dict[str, tuple[str, str | None]]:
    """clear token -> (kind, tenant id) for the live tokens among `bearers`."""
    by_hash = {hash_token(b): b for b in bearers if b}
    if not by_hash:
        return {}
    raw = Raw(conn)
    cond, params = raw.among("token_hash", list(by_hash))
    found = raw.rows(f"SELECT token_hash, kind, tenant_id FROM tokens WHERE {cond} AND revoked_at IS NULL", params)
    return {by_hash[h]: (kind, tid) for h, kind, tid in found}


_RESERVATION = tuple(c.name for c in reservations.columns)
_INSTANTS = ("started_at", "expires_at", "created_at", "settled_at")


def _reservations(conn: Connection, call_ids: list[str]) -> dict[str, dict[str, Any]]:
    raw = Raw(conn)
    out: dict[str, dict[str, Any]] = {}
    for chunk in raw.chunks(call_ids):
        cond, params = raw.among("call_id", chunk)
        for values in raw.rows(f"SELECT {', '.join(_RESERVATION)} FROM reservations WHERE {cond}", params):
            row = dict(zip(_RESERVATION, values, strict=True))
            for name in _INSTANTS:
                row[name] = raw.read_instant(row[name])
            out[row["call_id"]] = row
    return out


def _tenant_of(job: Job, principal: tuple[str, str | None] | None, rows: dict[str, dict[str, Any]]) -> str:
    """The tenant a request acts on, once its token may act there."""
    if not job.bearer:
        raise Unauthenticated("send 'Authorization: Bearer <token>'")
    if principal is None:
        raise Unauthenticated("the token is unknown or revoked")
    if isinstance(job.request, AuthorizeRequest):
        tenant_id = job.request.tenant_id
    else:
        row = rows.get(job.request.call_id)
        if row is None:
            raise NotFound(f"call {job.request.call_id} was never authorized")
        tenant_id = row["tenant_id"]
    kind, bound = principal
    if kind == "switch":
        if bound and bound != tenant_id:
            raise NotFound(f"tenant {tenant_id} not found")
    elif kind != "operator":
        raise Forbidden("call control is for the switch (a switch token) or the operator")
    return tenant_id


def _load_accounts(batch: _Batch, locked: dict[str, Tenant], jobs: Sequence[Job],
                   rows: dict[str, dict[str, Any]]) -> None:
    """Balances (after the settlements), products and holders for authorize and extend."""
    wanted = {t for t in locked}
    if not wanted:
        return
    conn, raw = batch.conn, Raw(batch.conn)
    figures: dict[str, tuple[int, int, int]] = {}
    for chunk in raw.chunks(wanted):
        cond, params = raw.among("t.id", chunk)
        for tid, deficit, reserved, total in raw.rows(
                "SELECT t.id, t.deficit, t.reserved, (SELECT COALESCE(SUM(l.remaining), 0) FROM lots l "
                f"WHERE l.tenant_id = t.id AND l.remaining > 0 AND l.expires_at > ?) FROM tenants t WHERE {cond}",
                [raw.instant(batch.now), *params]):
            figures[tid] = (deficit, reserved, total)
    products = usage.subscriptions_of_tenants(conn, sorted(wanted))
    for tid in wanted:
        t = locked[tid]
        deficit, reserved, total = figures[tid]
        batch.accounts[tid] = _Account(
            t, TenantTerms(t.id, t.country, t.currency, t.rating_key, t.billing_mode),
            available=int(total) - int(deficit) - int(reserved),
            products=frozenset(p for p, q in products.get(tid, {}).items() if q > 0))
    holders: set[str] = set()
    for job in jobs:
        req = job.request
        if isinstance(req, EndRequest | RecordsRequest):
            continue
        source = req if isinstance(req, AuthorizeRequest) else rows.get(req.call_id)
        if source is None:
            continue
        get = (lambda k, s=source: getattr(s, k)) if isinstance(source, AuthorizeRequest) else source.get
        holder = get("organizer_id") if get("call_type") == "conf_out" else get("user_id")
        if holder:
            holders.add(holder)
    batch.people = usage.users_by_id(conn, holders) if holders else {}
    _load_controls(batch, raw, wanted, holders)


def _load_controls(batch: _Batch, raw: Raw, tenant_ids: set[str], holders: set[str]) -> None:
    """Spend controls of the batch's tenants and the holders' own dial-out policies."""
    names = ("dial_out_policy", "daily_limit", "monthly_limit", "user_daily_limit", "low_balance_threshold",
             "max_auto_recharges_per_day")
    for chunk in raw.chunks(tenant_ids):
        cond, params = raw.among("tenant_id", chunk)
        for tid, *values in raw.rows(f"SELECT tenant_id, {', '.join(names)} FROM spend_controls WHERE {cond}",
                                     params):
            batch.accounts[tid].controls = SpendControls(**dict(zip(names, values, strict=True)))
    for chunk in raw.chunks(holders):
        cond, params = raw.among("user_id", chunk)
        batch.policies.update(raw.rows(f"SELECT user_id, dial_out_policy FROM user_dial_out_policies WHERE {cond}",
                                       params))


# ---------------------------------------------------------------- call records and settlement (end)


def _charge_records(batch: _Batch, jobs: Sequence[Job], results: list[Any]) -> list[str]:
    """Charge the call records of every `records` request of the batch in one pass of the
    charging core (a record repeated across requests is charged once, then a duplicate)."""
    spans: list[tuple[int, int, int]] = []  # job index, first outcome, end
    outcomes: list[charging.Outcome] = []
    by_tenant: charging.Items = defaultdict(list)
    for i, job in enumerate(jobs):
        if not isinstance(job.request, RecordsRequest):
            continue
        start, only = len(outcomes), job.request.only_tenant
        for rec in job.request.records:
            n = len(outcomes)
            if isinstance(rec, Rejected):
                outcomes.append(charging.rejected(rec.id, rec.code, rec.detail))
            elif only and rec.tenant_id != only:
                outcomes.append(charging.rejected(rec.id, "forbidden",
                                                  "this switch token may only post its own tenant's records"))
            else:
                outcomes.append(charging.NOT_YET)
                by_tenant[rec.tenant_id].append((n, rec))
        spans.append((i, start, len(outcomes)))
    if not spans:
        return []
    recharge = charging.charge_in(batch.conn, batch.index, by_tenant, outcomes, batch.now) if by_tenant else []
    for i, start, end in spans:
        results[i] = outcomes[start:end]
    return recharge



def _settle(batch: _Batch, jobs: Sequence[Job], results: list[Any], rows: dict[str, dict[str, Any]],
            locked: dict[str, Tenant]) -> list[str]:
    """Charge and release every `end` of the batch; return the tenants due a recharge check."""
    first: dict[str, int] = {}  # call id -> index of the end that settles it in this batch
    records: list[tuple[int, CallRecord]] = []
    for i, job in enumerate(jobs):
        if job.kind != "end" or results[i] is not None:
            continue
        req: EndRequest = job.request
        row = rows[req.call_id]
        if req.call_id in first or row["outcome"] is not None:
            continue  # answered below from the first settlement
        first[req.call_id] = i
        started = row["started_at"]
        if req.ended_at is not None and req.duration_seconds:
            started = req.ended_at - timedelta(seconds=req.duration_seconds)
        records.append((i, CallRecord(req.call_id, row["tenant_id"], row["call_type"], row["caller"], row["callee"],
                                      started, req.duration_seconds, row["user_id"], row["organizer_id"],
                                      req.call_id)))
    recharge: list[str] = []
    if records:
        by_tenant: charging.Items = defaultdict(list)
        for n, (_, rec) in enumerate(records):
            by_tenant[rec.tenant_id].append((n, rec))
        outcomes: list[charging.Outcome] = [charging.NOT_YET] * len(records)
        recharge = charging.charge_in(batch.conn, batch.index, by_tenant, outcomes, batch.now, settlements=True)
        for (i, _), body in zip(records, _release(batch, records, outcomes, rows, locked), strict=True):
            results[i] = body
    for i, job in enumerate(jobs):  # repeated ends, in this batch or after an earlier one
        if job.kind == "end" and results[i] is None:
            results[i] = _ended(job.request, rows[job.request.call_id], results, first)
    return recharge


def _release(batch: _Batch, records: list[tuple[int, CallRecord]], outcomes: list[charging.Outcome],
             rows: dict[str, dict[str, Any]], locked: dict[str, Tenant]) -> list[dict[str, Any]]:
    """Store each settlement on its reservation and release the holds; return the answers."""
    released: dict[str, int] = defaultdict(int)
    bodies = []
    updates = []
    for (_, rec), outcome in zip(records, outcomes, strict=True):
        row = rows[rec.id]
        held = row["amount"] if row["status"] == "active" else 0
        currency = locked[row["tenant_id"]].currency
        body = {"call_id": rec.id, "duration_seconds": rec.duration_s,
                **{k: v for k, v in outcome.as_json().items() if k != "id"},
                "released": format_micros(held, minor_units(currency))}
        bodies.append(body)
        row["outcome"] = json.dumps(body)
        status = "settled" if row["status"] == "active" else row["status"]
        updates.append({"cid": rec.id, "status": status, "outcome": row["outcome"], "now": batch.now})
        released[row["tenant_id"]] += held
        row["status"], row["amount"] = status, 0
    raw = Raw(batch.conn)
    raw.many("UPDATE reservations SET status = ?, amount = 0, pool_minutes = 0, settled_at = ?, outcome = ? "
             "WHERE call_id = ?", [(u["status"], raw.instant(u["now"]), u["outcome"], u["cid"]) for u in updates])
    raw.many("UPDATE tenants SET reserved = reserved - ? WHERE id = ?", [(v, t) for t, v in released.items() if v])
    return bodies


def _ended(req: EndRequest, row: dict[str, Any], results: list[Any], first: dict[str, int]) -> Any:
    """The answer to an end: the stored settlement when the duration agrees, else 409."""
    if row["outcome"] is None:  # the first end's charge failed as a whole
        return results[first[req.call_id]] if req.call_id in first else NotFound("call not settled")
    settled: dict[str, Any] = json.loads(row["outcome"])
    if settled["duration_seconds"] != req.duration_seconds:
        return Conflict(f"call {req.call_id} was already ended with {settled['duration_seconds']} s; "
                        f"an end with {req.duration_seconds} s cannot change it", code="end_conflict")
    if settled.get("status") == "charged":
        settled["status"] = "duplicate"  # charged once, by the first end
    return settled


# ---------------------------------------------------------------- authorize and extend


def _describe(batch: _Batch, account: _Account, call_type: str, callee: str, holder_id: str | None,
              started: datetime) -> CallDescriptor:
    holder = None
    if holder_id:
        person = batch.people.get(holder_id)
        if person is None or person[0] != account.tenant.id:
            raise NotFound(f"user {holder_id} not found")
        holder = Holder(person[1], person[2])
    try:
        return describe(call_type=call_type, callee=callee, holder=holder, tenant=account.terms,
                        products=account.products, started_at=started)
    except CallRefused as exc:
        raise ValidationError(exc.detail, code=exc.code) from None


def _authorize(batch: _Batch, req: AuthorizeRequest, rows: dict[str, dict[str, Any]],
               answered: dict[str, dict[str, Any]]) -> dict[str, Any]:
    seen = rows.get(req.call_id)
    if seen is not None:
        if seen["tenant_id"] != req.tenant_id:
            raise ValidationError(f"call id {req.call_id} belongs to another tenant", code="id_conflict")
        stored: dict[str, Any] = json.loads(seen["answer"])
        return stored
    if req.call_id in answered:  # the same call twice in this batch
        return answered[req.call_id]
    account = batch.accounts.get(req.tenant_id)
    if account is None:
        raise NotFound(f"tenant {req.tenant_id} not found")
    started = req.started_at or batch.now
    holder = req.organizer_id if req.call_type == "conf_out" else req.user_id
    call = _describe(batch, account, req.call_type, req.callee, holder, started)
    (body, row), hold = _decide(batch, account, call, holder, req.call_id, req.reserve_full)
    row.update(call_id=req.call_id, tenant_id=req.tenant_id, started_at=started, created_at=batch.now,
               call_type=req.call_type, caller=req.caller, callee=req.callee, user_id=req.user_id,
               organizer_id=req.organizer_id, answer=json.dumps(body))
    batch.new_holds.append(row)
    account.available -= hold
    account.reserved_delta += hold
    if holder and hold:
        account.user_held[holder] = account.user_held.get(holder, 0) + hold
    answered[req.call_id] = body
    return body


def _decide(batch: _Batch, account: _Account, call: CallDescriptor, holder: str | None, call_id: str, full: bool
            ) -> tuple[tuple[dict[str, Any], dict[str, Any]], int]:
    """(answer, reservation row) and the money held, for a new call."""
    settings, tenant, now = batch.rt.settings, account.tenant, batch.now
    row_id = new_id()
    base = {"id": row_id, "funding": None, "amount": 0, "granted_s": None, "pool_minutes": 0, "pool_period": None,
            "pool_product": None, "pool_kind": None, "pool_country": None}

    def allow(reason: str, funding: str, max_s: int | None, hold: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
        expires = now + timedelta(seconds=(max_s + settings.reservation_grace_seconds) if max_s is not None
                                  else settings.reservation_ttl_seconds)
        reservation = {"id": row_id, "amount": format_micros(hold, minor_units(tenant.currency)),
                       "expires_at": iso(expires)}
        row = {**base, "decision": "allow", "reason": reason, "funding": funding, "amount": hold,
               "granted_s": max_s, "status": "active", "expires_at": expires}
        return answer(call_id, "allow", reason, max_s, funding, reservation, tenant.currency), row

    def deny(reason: str) -> tuple[tuple[dict[str, Any], dict[str, Any]], int]:
        row = {**base, "decision": "deny", "reason": reason, "status": "denied", "expires_at": now}
        return (answer(call_id, "deny", reason, 0, None, None, tenant.currency), row), 0

    def done(pair: tuple[dict[str, Any], dict[str, Any]], hold: int = 0
             ) -> tuple[tuple[dict[str, Any], dict[str, Any]], int]:
        return pair, hold

    if call.free:
        return done(allow(call.route.reason, "free", None))
    if _blocked(batch, account, call, holder):  # before any money is looked at
        return deny("policy_blocked")
    try:
        call.price(batch.index, 0)
    except NoRate:
        return deny("no_rate")
    except RatingError as exc:
        raise ValidationError(f"the call cannot be rated: {exc}", code="rating_error") from None
    pool = _pool_grant(batch, account, call)
    if pool is not None:
        key, minutes, period = pool
        pair = allow("pool", "pool", None if call.licensed else minutes * 60)
        pair[1].update(pool_minutes=minutes, pool_period=period, pool_product=key.product, pool_kind=key.kind,
                       pool_country=key.country)
        return done(pair)
    if call.license_missing:
        return deny("license_required")
    if call.funding_mode == "postpaid":
        return done(allow("postpaid", "postpaid", None))
    if tenant.billing_mode == "migrating" and account.available <= 0:
        return done(allow("postpaid", "postpaid", None))
    spendable = _under_caps(batch, account, holder, account.available)
    if spendable is None:
        return deny("spend_cap_reached")
    grant = next_grant(granted_s=0, held=0, available=spendable, chunk_s=settings.call_chunk_seconds,
                       full=full, limit_s=settings.call_max_seconds,
                       longest=lambda budget, upto: call.longest(batch.index, budget, upto=upto,
                                                                 limit=settings.call_max_seconds),
                       price=call.pricer(batch.index))
    if grant is None:
        refusal = purchase_refusal(TenantFacts(tenant.country, tenant.billing_country, tenant.billing_mode,
                                               tenant.purchase_mitigation, tenant.partner_funded),
                                   settings.blocked_countries)
        return deny("purchase_blocked" if refusal else "insufficient_balance")
    if grant.seconds == 0:
        return done(allow("credits", "credits", None))
    return done(allow("credits", "credits", grant.seconds, grant.hold), grant.hold)


def _blocked(batch: _Batch, account: _Account, call: CallDescriptor, holder: str | None) -> bool:
    """Whether the dial-out policy in force (the holder's own, else the tenant's) blocks the call."""
    policy = effective_policy(account.controls.dial_out_policy, batch.policies.get(holder or ""))
    number_type = call.callee.number_type if call.callee else "emergency"
    return policy_blocks(policy, call_type=call.call_type, domestic=call.route.domestic, number_type=number_type,
                         emergency=False)


def _under_caps(batch: _Batch, account: _Account, holder: str | None, available: int) -> int | None:
    """What a credit-funded call may spend: the available balance, lowered to what the spend
    caps leave after what calls in progress hold (the tenant's calls for its daily and monthly
    caps, the holder's for the per-user cap); None when a cap is used up (the admins are told
    once per period)."""
    controls, tenant = account.controls, account.tenant
    tenant_caps = controls.daily_limit is not None or controls.monthly_limit is not None
    user_cap = controls.user_daily_limit is not None and holder is not None
    if not tenant_caps and not user_cap:
        return available
    if holder not in account.room:  # what the caps leave before holds, once per batch
        if tenant_caps and None not in account.room:
            account.room[None] = room_left(batch.conn, tenant, replace(controls, user_daily_limit=None), batch.now,
                                           None)
        if user_cap and holder is not None:
            account.room[holder] = room_left(batch.conn, tenant, replace(controls, daily_limit=None,
                                                                         monthly_limit=None), batch.now, holder)
            account.user_held[holder] = account.user_held.get(holder, 0) + _held_by(batch, tenant.id, holder)
    lefts = []
    if tenant_caps:
        lefts.append(int(account.room[None] or 0) - (tenant.reserved + account.reserved_delta))
    if user_cap and holder is not None:
        lefts.append(int(account.room[holder] or 0) - account.user_held.get(holder, 0))
    left = min(lefts)
    if left <= 0:
        held = tenant.reserved + account.reserved_delta
        hit = exhausted_cap(batch.conn, tenant, controls, batch.now, holder, held=held)
        if hit is not None:
            alerts.notify_cap_reached(batch.conn, tenant, hit.period_key, cap=hit.cap, limit=hit.limit,
                                      spent=hit.spent, now=batch.now,
                                      user_id=holder if hit.cap == "user_daily_limit" else None)
        return None
    return min(available, left)


def _held_by(batch: _Batch, tenant_id: str, holder: str) -> int:
    rows = Raw(batch.conn).rows("SELECT COALESCE(SUM(amount), 0) FROM reservations WHERE tenant_id = ? "
                                "AND status = 'active' AND (user_id = ? OR organizer_id = ?)",
                                (tenant_id, holder, holder))
    return int(rows[0][0])


def _pools(batch: _Batch, account: _Account, period: str) -> tuple[dict[PoolKey, int], dict[Any, int], dict[Any, int]]:
    """(sizes, used, held) of the tenant's pools in `period`, loaded once per batch."""
    state = account.pools.get(period)
    if state is None:
        conn, tid = batch.conn, account.tenant.id
        sizes = pool_sizes(usage.license_holders(conn, tid), usage.subscription_quantities(conn, tid),
                           Allowances(usage.allowances(conn)))
        used = {k: v for (p, k), v in usage.pool_used(conn, tid, [period]).items() if p == period}
        state = account.pools[period] = (sizes, used, dict(res_db.pool_held(conn, tid, period)))
    return state  # type: ignore[no-any-return]


def _pool_grant(batch: _Batch, account: _Account, call: CallDescriptor) -> tuple[PoolKey, int, str] | None:
    """The first of the route's pools with minutes left (after other calls' holds)."""
    if not call.route.pools:
        return None
    period = call.started_at.astimezone(ZoneInfo(account.tenant.timezone)).strftime("%Y-%m")
    sizes, used, held = _pools(batch, account, period)
    for key in call.route.pools:
        slot = (key.product, key.kind, key.country)
        left = sizes.get(key, 0) - used.get(key, 0) - held.get(slot, 0)
        if left > 0:
            minutes = min(left, POOL_CHUNK_MINUTES)
            held[slot] = held.get(slot, 0) + minutes
            return key, minutes, period
    return None


def _extend(batch: _Batch, req: ExtendRequest, rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    row = rows[req.call_id]
    account = batch.accounts[row["tenant_id"]]
    currency = account.tenant.currency
    if row["status"] != "active":
        return answer(req.call_id, "deny", "not_active" if row["status"] == "denied" else row["status"], 0,
                      row["funding"], None, currency)
    if row["granted_s"] is None:  # nothing limits it
        return answer(req.call_id, "allow", row["reason"], None, row["funding"], None, currency)
    if row["funding"] == "pool":
        return _extend_pool(batch, account, row)
    settings = batch.rt.settings
    holder = row["organizer_id"] if row["call_type"] == "conf_out" else row["user_id"]
    call = _describe(batch, account, row["call_type"], row["callee"], holder, row["started_at"])
    spendable = _under_caps(batch, account, holder, account.available)
    grant = next_grant(granted_s=row["granted_s"], held=row["amount"], available=spendable or 0,
                       chunk_s=settings.call_chunk_seconds, full=req.reserve_full, limit_s=settings.call_max_seconds,
                       longest=lambda budget, upto: call.longest(batch.index, budget, upto=upto,
                                                                 limit=settings.call_max_seconds),
                       price=call.pricer(batch.index))
    granted, hold = (row["granted_s"], row["amount"]) if grant is None else (grant.seconds, grant.hold)
    expires = max(row["started_at"] + timedelta(seconds=granted + settings.reservation_grace_seconds),
                  batch.now + timedelta(seconds=settings.reservation_grace_seconds))
    delta = hold - row["amount"]
    raw = Raw(batch.conn)
    raw.run("UPDATE reservations SET amount = ?, granted_s = ?, expires_at = ? WHERE call_id = ?",
            (hold, granted, raw.instant(expires), req.call_id))
    account.available -= delta
    account.reserved_delta += delta
    if holder and delta:
        account.user_held[holder] = account.user_held.get(holder, 0) + delta
    row.update(granted_s=granted, amount=hold, expires_at=expires)
    return answer(req.call_id, "allow", "credits" if grant else "limit_reached", granted, row["funding"],
                  {"id": row["id"], "amount": format_micros(hold, minor_units(currency)), "expires_at": iso(expires)},
                  currency)


def _extend_pool(batch: _Batch, account: _Account, row: dict[str, Any]) -> dict[str, Any]:
    key = PoolKey(row["pool_product"], row["pool_kind"], row["pool_country"])
    sizes, used, held = _pools(batch, account, row["pool_period"])
    slot = (key.product, key.kind, key.country)
    more = min(max(sizes.get(key, 0) - used.get(key, 0) - held.get(slot, 0), 0), POOL_CHUNK_MINUTES)
    held[slot] = held.get(slot, 0) + more
    granted = row["granted_s"] + more * 60
    expires = batch.now + timedelta(seconds=batch.rt.settings.reservation_grace_seconds + more * 60)
    raw = Raw(batch.conn)
    raw.run("UPDATE reservations SET granted_s = ?, pool_minutes = ?, expires_at = ? WHERE call_id = ?",
            (granted, row["pool_minutes"] + more, raw.instant(expires), row["call_id"]))
    row.update(granted_s=granted, pool_minutes=row["pool_minutes"] + more, expires_at=expires)
    return answer(row["call_id"], "allow", "pool" if more else "limit_reached", granted, "pool",
                  {"id": row["id"], "amount": "0", "expires_at": iso(expires)}, account.tenant.currency)


# ---------------------------------------------------------------- writing


def _write_holds(batch: _Batch) -> None:
    raw = Raw(batch.conn)
    if batch.new_holds:
        raw.many(f"INSERT INTO reservations ({', '.join(_RESERVATION)}) VALUES ({', '.join('?' * len(_RESERVATION))})",
                 [tuple(raw.instant(row[c]) if c in _INSTANTS and row.get(c) is not None else row.get(c)
                        for c in _RESERVATION) for row in batch.new_holds])
    raw.many("UPDATE tenants SET reserved = reserved + ? WHERE id = ?",
             [(a.reserved_delta, t) for t, a in batch.accounts.items() if a.reserved_delta])
