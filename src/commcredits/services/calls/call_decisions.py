"""Deciding authorize and extend inside a call-desk batch (`call_batch.py` loads and writes).

Each call is described once (`domain/call_descriptor.py`); then, in this order: a free call
is allowed; the dial-out policy in force may block it (`policy_blocked`, before any money is
looked at); a call nothing rates is denied (`no_rate`); a minute pool with minutes left
holds up to 5 of them; a call that needs credits needs the license; post-paid calls are
allowed without a limit; otherwise the grant is what the balance and the spend caps leave
after everything calls in progress hold, one chunk at a time. A hold taken here is seen by
the next request of the same batch, so concurrent calls share what is available.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from ...db import reservations as res_db
from ...db import usage
from ...db.raw import Raw
from ...db.rows import new_id
from ...db.tenants import Tenant
from ...domain.call_descriptor import CallDescriptor, CallRefused, Holder, TenantTerms, describe
from ...domain.money import format_micros, minor_units
from ...domain.plans import Allowances, PoolKey, pool_sizes
from ...domain.purchases import TenantFacts, purchase_refusal
from ...domain.rating import NoRate, RatingError, RatingIndex
from ...domain.reservations import next_grant
from ...domain.spend_controls import SpendControls, day_key, effective_policy, policy_blocks
from ...errors import NotFound, ValidationError
from ...formatting import iso
from ..ledger.spend_controls import exhausted_cap, room_left
from ..notify import alerts
from ..runtime import Runtime
from .call_control import AuthorizeRequest, CallAnswer, ExtendRequest, HeldFunds, answer, stored_answer

POOL_CHUNK_MINUTES = 5


@dataclass
class Account:
    """A tenant as this batch sees it: locked, with its balance and holds kept current."""

    tenant: Tenant
    terms: TenantTerms
    available: int = 0  # balance - reserved, after this batch's settlements and holds
    reserved_delta: int = 0
    products: frozenset[str] = frozenset()
    pools: dict[str, Any] = field(default_factory=dict)  # period -> (sizes, used, held)
    controls: SpendControls = field(default_factory=SpendControls)
    room: dict[tuple[str | None, str], int | None] = field(default_factory=dict)  # (holder, day) -> cap room
    user_held: dict[str, int] = field(default_factory=dict)  # holder -> money held by their calls


@dataclass
class Batch:
    rt: Runtime
    conn: Connection
    index: RatingIndex
    now: datetime
    accounts: dict[str, Account] = field(default_factory=dict)
    people: dict[str, tuple[str, str, frozenset[str]]] = field(default_factory=dict)
    policies: dict[str, str] = field(default_factory=dict)  # user id -> own dial-out policy
    new_holds: list[dict[str, Any]] = field(default_factory=list)
    # what this batch's settlements and records changed before the decisions, per tenant:
    # credits charged (the balance went down by that) and holds released
    credits: dict[str, int] = field(default_factory=dict)
    released: dict[str, int] = field(default_factory=dict)




def describe_call(batch: Batch, account: Account, call_type: str, callee: str, holder_id: str | None,
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


def authorize(batch: Batch, req: AuthorizeRequest, rows: dict[str, dict[str, Any]],
               answered: dict[str, CallAnswer]) -> CallAnswer:
    seen = rows.get(req.call_id)
    if seen is not None:
        if seen["tenant_id"] != req.tenant_id:
            raise ValidationError(f"call id {req.call_id} belongs to another tenant", code="id_conflict")
        return stored_answer(seen["answer"])
    if req.call_id in answered:  # the same call twice in this batch
        return answered[req.call_id]
    account = batch.accounts.get(req.tenant_id)
    if account is None:
        raise NotFound(f"tenant {req.tenant_id} not found")
    started = req.started_at or batch.now
    holder = req.organizer_id if req.call_type == "conf_out" else req.user_id
    call = describe_call(batch, account, req.call_type, req.callee, holder, started)
    (body, row), hold = decide(batch, account, call, holder, req.call_id, req.reserve_full)
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


def decide(batch: Batch, account: Account, call: CallDescriptor, holder: str | None, call_id: str, full: bool
            ) -> tuple[tuple[CallAnswer, dict[str, Any]], int]:
    """(answer, reservation row) and the money held, for a new call."""
    settings, tenant, now = batch.rt.settings, account.tenant, batch.now
    row_id = new_id()
    base = {"id": row_id, "funding": None, "amount": 0, "granted_s": None, "pool_minutes": 0, "pool_period": None,
            "pool_product": None, "pool_kind": None, "pool_country": None}

    def allow(reason: str, funding: str, max_s: int | None, hold: int = 0) -> tuple[CallAnswer, dict[str, Any]]:
        expires = now + timedelta(seconds=(max_s + settings.reservation_grace_seconds) if max_s is not None
                                  else settings.reservation_ttl_seconds)
        reservation: HeldFunds = {"id": row_id, "amount": format_micros(hold, minor_units(tenant.currency)),
                                  "expires_at": iso(expires)}
        row = {**base, "decision": "allow", "reason": reason, "funding": funding, "amount": hold,
               "granted_s": max_s, "status": "active", "expires_at": expires}
        return answer(call_id, "allow", reason, max_s, funding, reservation, tenant.currency), row

    def deny(reason: str) -> tuple[tuple[CallAnswer, dict[str, Any]], int]:
        row = {**base, "decision": "deny", "reason": reason, "status": "denied", "expires_at": now}
        return (answer(call_id, "deny", reason, 0, None, None, tenant.currency), row), 0

    def done(pair: tuple[CallAnswer, dict[str, Any]], hold: int = 0
             ) -> tuple[tuple[CallAnswer, dict[str, Any]], int]:
        return pair, hold

    if call.free:
        return done(allow(call.route.reason, "free", None))
    if blocked(batch, account, call, holder):  # before any money is looked at
        return deny("policy_blocked")
    try:
        call.price(batch.index, 0)
    except NoRate:
        return deny("no_rate")
    except RatingError as exc:
        raise ValidationError(f"the call cannot be rated: {exc}", code="rating_error") from None
    pool = pool_grant(batch, account, call)
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
    spendable = under_caps(batch, account, holder, account.available, call.started_at)
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


def blocked(batch: Batch, account: Account, call: CallDescriptor, holder: str | None) -> bool:
    """Whether the dial-out policy in force (the holder's own, else the tenant's) blocks the call."""
    policy = effective_policy(account.controls.dial_out_policy, batch.policies.get(holder or ""))
    number_type = call.callee.number_type if call.callee else "emergency"
    return policy_blocks(policy, call_type=call.call_type, domestic=call.route.domestic, number_type=number_type,
                         emergency=False)


def under_caps(batch: Batch, account: Account, holder: str | None, available: int, started: datetime) -> int | None:
    """What a credit-funded call may spend: the available balance, lowered to what the spend
    caps leave after what calls in progress hold (the tenant's calls for its daily and monthly
    caps, the holder's for the per-user cap); None when a cap is used up (the admins are told
    once per period). The caps are those of the day and month the call started in, where its
    charge will count, also when it is extended after midnight."""
    controls, tenant = account.controls, account.tenant
    tenant_caps = controls.daily_limit is not None or controls.monthly_limit is not None
    user_cap = controls.user_daily_limit is not None and holder is not None
    if not tenant_caps and not user_cap:
        return available
    day = day_key(started, tenant.timezone)
    if (None, day) not in account.room and tenant_caps:  # what the caps leave before holds, once per batch
        account.room[(None, day)] = room_left(batch.conn, tenant, replace(controls, user_daily_limit=None), started,
                                              None)
    if user_cap and (holder, day) not in account.room:
        account.room[(holder, day)] = room_left(batch.conn, tenant, replace(controls, daily_limit=None,
                                                                             monthly_limit=None), started, holder)
        if holder not in account.user_held:
            account.user_held[holder or ""] = held_by(batch, tenant.id, holder or "")
    lefts = []
    if tenant_caps:
        lefts.append(int(account.room[(None, day)] or 0) - (tenant.reserved + account.reserved_delta))
    if user_cap and holder is not None:
        lefts.append(int(account.room[(holder, day)] or 0) - account.user_held.get(holder, 0))
    left = min(lefts)
    if left <= 0:
        held = tenant.reserved + account.reserved_delta
        hit = exhausted_cap(batch.conn, tenant, controls, started, holder, held=held)
        if hit is not None:
            alerts.notify_cap_reached(batch.conn, tenant, hit.period_key, cap=hit.cap, limit=hit.limit,
                                      spent=hit.spent, now=batch.now,
                                      user_id=holder if hit.cap == "user_daily_limit" else None)
        return None
    return min(available, left)


def held_by(batch: Batch, tenant_id: str, holder: str) -> int:
    rows = Raw.of(batch.conn).rows("SELECT COALESCE(SUM(amount), 0) FROM reservations WHERE tenant_id = ? "
                                "AND status = 'active' AND (user_id = ? OR organizer_id = ?)",
                                (tenant_id, holder, holder))
    return int(rows[0][0])


def pools(batch: Batch, account: Account, period: str) -> tuple[dict[PoolKey, int], dict[Any, int], dict[Any, int]]:
    """(sizes, used, held) of the tenant's pools in `period`, loaded once per batch."""
    state = account.pools.get(period)
    if state is None:
        conn, tid = batch.conn, account.tenant.id
        sizes = pool_sizes(usage.license_holders(conn, tid), usage.subscription_quantities(conn, tid),
                           Allowances(usage.allowances(conn)))
        used = {k: v for (p, k), v in usage.pool_used(conn, tid, [period]).items() if p == period}
        state = account.pools[period] = (sizes, used, dict(res_db.pool_held(conn, tid, period)))
    return state


def pool_grant(batch: Batch, account: Account, call: CallDescriptor) -> tuple[PoolKey, int, str] | None:
    """The first of the route's pools with minutes left (after other calls' holds)."""
    if not call.route.pools:
        return None
    period = call.started_at.astimezone(ZoneInfo(account.tenant.timezone)).strftime("%Y-%m")
    sizes, used, held = pools(batch, account, period)
    for key in call.route.pools:
        slot = (key.product, key.kind, key.country)
        left = sizes.get(key, 0) - used.get(key, 0) - held.get(slot, 0)
        if left > 0:
            minutes = min(left, POOL_CHUNK_MINUTES)
            held[slot] = held.get(slot, 0) + minutes
            return key, minutes, period
    return None


def extend(batch: Batch, req: ExtendRequest, rows: dict[str, dict[str, Any]]) -> CallAnswer:
    row = rows[req.call_id]
    account = batch.accounts[row["tenant_id"]]
    currency = account.tenant.currency
    if row["status"] != "active":
        return answer(req.call_id, "deny", "not_active" if row["status"] == "denied" else row["status"], 0,
                      row["funding"], None, currency)
    if row["granted_s"] is None:  # nothing limits it
        return answer(req.call_id, "allow", row["reason"], None, row["funding"], None, currency)
    if row["funding"] == "pool":
        return extend_pool(batch, account, row)
    settings = batch.rt.settings
    holder = row["organizer_id"] if row["call_type"] == "conf_out" else row["user_id"]
    call = describe_call(batch, account, row["call_type"], row["callee"], holder, row["started_at"])
    spendable = under_caps(batch, account, holder, account.available, call.started_at)
    grant = next_grant(granted_s=row["granted_s"], held=row["amount"], available=spendable or 0,
                       chunk_s=settings.call_chunk_seconds, full=req.reserve_full, limit_s=settings.call_max_seconds,
                       longest=lambda budget, upto: call.longest(batch.index, budget, upto=upto,
                                                                 limit=settings.call_max_seconds),
                       price=call.pricer(batch.index))
    granted, hold = (row["granted_s"], row["amount"]) if grant is None else (grant.seconds, grant.hold)
    expires = max(row["started_at"] + timedelta(seconds=granted + settings.reservation_grace_seconds),
                  batch.now + timedelta(seconds=settings.reservation_grace_seconds))
    delta = hold - row["amount"]
    raw = Raw.of(batch.conn)
    raw.many("UPDATE reservations SET amount = ?, granted_s = ?, expires_at = ? WHERE call_id = ?",
             [(hold, granted, raw.instant(expires), req.call_id)])
    account.available -= delta
    account.reserved_delta += delta
    if holder and delta:
        account.user_held[holder] = account.user_held.get(holder, 0) + delta
    row.update(granted_s=granted, amount=hold, expires_at=expires)
    return answer(req.call_id, "allow", "credits" if grant else "limit_reached", granted, row["funding"],
                  {"id": row["id"], "amount": format_micros(hold, minor_units(currency)), "expires_at": iso(expires)},
                  currency)


def extend_pool(batch: Batch, account: Account, row: dict[str, Any]) -> CallAnswer:
    key = PoolKey(row["pool_product"], row["pool_kind"], row["pool_country"])
    sizes, used, held = pools(batch, account, row["pool_period"])
    slot = (key.product, key.kind, key.country)
    more = min(max(sizes.get(key, 0) - used.get(key, 0) - held.get(slot, 0), 0), POOL_CHUNK_MINUTES)
    held[slot] = held.get(slot, 0) + more
    granted = row["granted_s"] + more * 60
    expires = batch.now + timedelta(seconds=batch.rt.settings.reservation_grace_seconds + more * 60)
    raw = Raw.of(batch.conn)
    raw.many("UPDATE reservations SET granted_s = ?, pool_minutes = ?, expires_at = ? WHERE call_id = ?",
             [(granted, row["pool_minutes"] + more, raw.instant(expires), row["call_id"])])
    row.update(granted_s=granted, pool_minutes=row["pool_minutes"] + more, expires_at=expires)
    return answer(row["call_id"], "allow", "pool" if more else "limit_reached", granted, "pool",
                  {"id": row["id"], "amount": "0", "expires_at": iso(expires)}, account.tenant.currency)
