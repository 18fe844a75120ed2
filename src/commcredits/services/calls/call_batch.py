"""One batch of call-control requests, decided and written in one transaction.

The call desk hands over the requests that were waiting; `handle_batch` reads what they
need with one statement per table (tokens, reservations, tenants locked in id order, users,
subscriptions, balances), then:

1. settles every `end` through the charging core (`charging.charge_in`, the path call
   records take, so the bulk and real-time paths charge alike) and releases its hold;
2. decides every `authorize` and `extend` in arrival order against the balances the
   settlements left (`call_decisions.py`); a hold taken by one request is seen by the next,
   so concurrent calls share what is available. Those balances are read with the charging
   core's reads (one round trip on PostgreSQL), before anything is charged, and lowered in
   memory by the credits the batch charged each tenant and freed of the holds it released:
   exactly what reading them after the settlements would give;
3. writes the new holds and the tenants' `reserved` figures, one statement per table.

A request that is refused gets its exception as its result and writes nothing; the others
go on. Nothing here commits: the desk does, once, for the whole batch.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Connection

from ...db import usage
from ...db.raw import Raw
from ...db.schema_calls import reservations
from ...db.tenants import Tenant
from ...db.tokens import hash_token
from ...domain.call_descriptor import TenantTerms
from ...domain.money import format_micros, minor_units
from ...domain.spend_controls import SpendControls
from ...errors import CommCreditsError, Conflict, Forbidden, NotFound, Unauthenticated
from ..rating.rating import rating_index
from ..runtime import Runtime
from ..usage import charging
from ..usage.call_records import CallRecord, Rejected
from .call_control import AuthorizeRequest, CallAnswer, EndRequest, RecordsRequest, Settlement, stored_settlement
from .call_decisions import Account, Batch, authorize, extend
from .call_desk import Job


def handle_batch(rt: Runtime, conn: Connection, jobs: Sequence[Job]) -> tuple[list[Any], list[str]]:
    with Raw.of(conn).deferred_writes():  # PostgreSQL: writes go with the next read, in one round trip
        return _handle(rt, conn, jobs)


def _handle(rt: Runtime, conn: Connection, jobs: Sequence[Job]) -> tuple[list[Any], list[str]]:
    now = rt.clock.now()
    batch = Batch(rt, conn, rating_index(rt), now)
    results: list[Any] = [None] * len(jobs)
    raw = Raw.of(conn)
    call_ids = [j.request.call_id for j in jobs if not isinstance(j.request, RecordsRequest)]
    every: dict[str, Tenant] | None = None
    with raw.gather():
        # PostgreSQL, one round trip: the tokens, then the tenants named or holding these calls,
        # locked in id order, then the holds, read under those locks (another process may
        # have settled one). SQLite: the write transaction holds the database already.
        who_later = _principals_later(conn, [j.bearer for j in jobs])
        if raw.pg:
            named = {j.request.tenant_id for j in jobs if isinstance(j.request, AuthorizeRequest)}
            named.update(r.tenant_id for j in jobs if isinstance(j.request, RecordsRequest)
                         for r in j.request.records if isinstance(r, CallRecord))
            every_later = usage.lock_tenants_later(conn, named, of_calls=call_ids)
        rows_later = _reservations_later(conn, call_ids)
    who, rows = who_later(), rows_later()
    if raw.pg:
        every = every_later()
    tenant_ids: set[str] = set()
    for i, job in enumerate(jobs):
        if isinstance(job.request, RecordsRequest):
            tenant_ids.update(r.tenant_id for r in job.request.records if isinstance(r, CallRecord))
            continue
        try:
            tenant_ids.add(_tenant_of(job, who.get(job.bearer or ""), rows))
        except CommCreditsError as exc:
            results[i] = exc
    locked = usage.lock_tenants(conn, tenant_ids) if every is None else \
        {t: every[t] for t in sorted(tenant_ids) if t in every}
    # the decisions' reads go with the first charging reads (one round trip on PostgreSQL);
    # they see the balances before this batch's charges, which are then taken off in memory
    reads = _AccountReads(batch, locked, jobs, rows)
    changed = _charge_records(batch, jobs, results, locked, reads)
    changed += _settle(batch, jobs, results, rows, locked, reads)
    reads.finish()  # the reads go on their own if nothing was charged
    answered: dict[str, CallAnswer] = {}
    for i, job in enumerate(jobs):
        if results[i] is not None or job.kind in ("end", "records"):
            continue
        try:
            if job.kind == "authorize":
                results[i] = authorize(batch, job.request, rows, answered)
            else:
                results[i] = extend(batch, job.request, rows)
        except CommCreditsError as exc:
            results[i] = exc
    _write_holds(batch)
    return results, changed


# ---------------------------------------------------------------- loading


def _principals_later(conn: Connection, bearers: list[str | None]
                      ) -> Callable[[], dict[str, tuple[str, str | None]]]:
    """clear token -> (kind, tenant id) for the live tokens among `bearers` (send now, read later)."""
    by_hash = {hash_token(b): b for b in bearers if b}
    if not by_hash:
        return dict
    raw = Raw.of(conn)
    cond, params = raw.among("token_hash", list(by_hash))
    fetch = raw.later(f"SELECT token_hash, kind, tenant_id FROM tokens WHERE {cond} AND revoked_at IS NULL", params)
    return lambda: {by_hash[h]: (kind, tid) for h, kind, tid in fetch()}


_RESERVATION = tuple(c.name for c in reservations.columns)
_INSTANTS = ("started_at", "expires_at", "created_at", "settled_at")


def _reservations_later(conn: Connection, call_ids: list[str]) -> Callable[[], dict[str, dict[str, Any]]]:
    raw = Raw.of(conn)
    fetches = [raw.later(f"SELECT {', '.join(_RESERVATION)} FROM reservations WHERE {cond}", params)
               for cond, params in raw.conditions("call_id", call_ids)]

    def read() -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for fetch in fetches:
            for values in fetch():
                row = dict(zip(_RESERVATION, values, strict=True))
                for name in _INSTANTS:
                    row[name] = raw.read_instant(row[name])
                out[row["call_id"]] = row
        return out
    return read


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


class _AccountReads:
    """The reads of the batch's accounts, shared by charging and the decisions: sent once,
    with whichever charging round trip comes first (`send`, charging's `also`), or alone.
    `known` gives charging its part; `finish` fills `batch.accounts`, `batch.people` and
    `batch.policies` once the batch's charges and releases are known."""

    def __init__(self, batch: Batch, locked: dict[str, Tenant], jobs: Sequence[Job],
                 rows: dict[str, dict[str, Any]]) -> None:
        self.batch, self.locked = batch, locked
        self.holders = _holders(jobs, rows)
        self.fetch: Callable[[], _Accounts] | None = None
        self.got: _Accounts | None = None

    def send(self) -> None:
        if self.fetch is None:
            self.fetch = _send_account_reads(self.batch, self.locked, self.holders)

    def read(self) -> _Accounts:
        if self.got is None:
            self.send()
            assert self.fetch is not None
            self.got = self.fetch()
        return self.got

    def known(self) -> charging.Known:
        return self.read().known

    def finish(self) -> None:
        """Each tenant's account: the balance read, lowered by the credits this batch charged
        it and freed of the holds it released."""
        got, batch = self.read(), self.batch
        for tid, t in self.locked.items():
            deficit, reserved, total = got.figures[tid]
            available = int(total) - int(deficit) - int(reserved)
            batch.accounts[tid] = Account(
                t, TenantTerms(t.id, t.country, t.currency, t.rating_key, t.billing_mode),
                available=available - batch.credits.get(tid, 0) + batch.released.get(tid, 0),
                products=frozenset(p for p, q in got.known.quantities.get(tid, {}).items() if q > 0))
            if tid in got.controls:
                batch.accounts[tid].controls = got.controls[tid]
        batch.people = dict(got.known.people)
        for own in got.known.controls[2].values():
            batch.policies.update(own)


def _holders(jobs: Sequence[Job], rows: dict[str, dict[str, Any]]) -> set[str]:
    """The users the batch's requests name: the holders of new and extended calls, and the
    users and organizers of the calls and records it charges."""
    holders: set[str] = set()
    for job in jobs:
        req = job.request
        if isinstance(req, RecordsRequest):
            holders.update(u for r in req.records if isinstance(r, CallRecord)
                           for u in (r.user_id, r.organizer_id) if u)
            continue
        if isinstance(req, AuthorizeRequest):
            holders.update(u for u in (req.user_id, req.organizer_id) if u)
            continue
        row = rows.get(req.call_id)
        if row is not None:
            holders.update(u for u in (row["user_id"], row["organizer_id"]) if u)
    return holders


@dataclass
class _Accounts:
    """The account reads of a batch: (deficit, reserved, usable lots) per tenant, the spend
    controls of those that have them, and charging's `Known`."""

    figures: dict[str, tuple[int, int, int]]
    controls: dict[str, SpendControls]
    known: charging.Known


def _send_account_reads(batch: Batch, locked: dict[str, Tenant], holders: set[str]) -> Callable[[], _Accounts]:
    """Send the reads of the batch's tenants (balances before this batch, spend controls,
    auto-recharge settings, subscriptions) and of the users it names (with their own
    dial-out policies); the function returned reads them. Every figure is the state before
    this batch's charges."""
    conn, raw = batch.conn, Raw.of(batch.conn)
    wanted = sorted(locked)
    with raw.gather():  # one round trip on PostgreSQL, with the settlements' writes before it
        figures_later = [raw.later(
            "SELECT t.id, t.deficit, t.reserved, (SELECT COALESCE(SUM(l.remaining), 0) FROM lots l "
            "WHERE l.tenant_id = t.id AND l.remaining > 0 AND l.expires_at > ?), "
            "(SELECT 1 FROM auto_recharge a WHERE a.tenant_id = t.id), s.tenant_id, "
            f"{', '.join('s.' + n for n in _CONTROLS)} FROM tenants t "
            f"LEFT JOIN spend_controls s ON s.tenant_id = t.id WHERE {cond}", [raw.instant(batch.now), *params])
            for cond, params in raw.conditions("t.id", wanted)]
        products_later = usage.subscriptions_of_tenants_later(conn, wanted)
        people_later = [raw.later(
            "SELECT u.id, u.tenant_id, u.usage_location, u.licenses, p.user_id, p.dial_out_policy FROM users u "
            f"LEFT JOIN user_dial_out_policies p ON p.user_id = u.id WHERE {cond}", params)
            for cond, params in raw.conditions("u.id", holders)]

    def read() -> _Accounts:
        figures: dict[str, tuple[int, int, int]] = {}
        controls: dict[str, SpendControls] = {}
        recharging: set[str] = set()
        thresholds: dict[str, int | None] = {}
        tenant_policies: dict[str, str] = {}
        for fetch in figures_later:
            for tid, deficit, reserved, total, recharges, has_controls, *values in fetch():
                figures[tid] = (deficit, reserved, total)
                if recharges is not None:
                    recharging.add(tid)
                if has_controls is not None:
                    kept = controls[tid] = SpendControls(**dict(zip(_CONTROLS, values, strict=True)))
                    threshold = kept.low_balance_threshold
                    thresholds[tid] = None if threshold is None else int(threshold)
                    tenant_policies[tid] = kept.dial_out_policy
        people: dict[str, tuple[str, str, frozenset[str]]] = {}
        own: dict[str, dict[str, str]] = defaultdict(dict)
        parsed: dict[str, frozenset[str]] = {}  # few distinct license sets: parse each once
        for fetch in people_later:
            for uid, tid, location, licenses, has_policy, policy in fetch():
                held = parsed.get(licenses)
                if held is None:
                    held = parsed[licenses] = frozenset(json.loads(licenses))
                people[uid] = (tid, location, held)
                if has_policy is not None:
                    own[tid][uid] = policy
        known = charging.Known(people, products_later(), (thresholds, tenant_policies, own), frozenset(recharging))
        return _Accounts(figures, controls, known)
    return read


_CONTROLS = ("dial_out_policy", "daily_limit", "monthly_limit", "user_daily_limit", "low_balance_threshold",
             "max_auto_recharges_per_day")


# ---------------------------------------------------------------- call records and settlement (end)


def _charge_records(batch: Batch, jobs: Sequence[Job], results: list[Any], locked: dict[str, Tenant],
                    reads: _AccountReads) -> list[str]:
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
    recharge = charging.charge_in(batch.conn, batch.index, by_tenant, outcomes, batch.now,
                                  locked=locked, also=reads.send, known=reads.known, credits=batch.credits) \
        if by_tenant else []
    for i, start, end in spans:
        results[i] = outcomes[start:end]
    return recharge



def _settle(batch: Batch, jobs: Sequence[Job], results: list[Any], rows: dict[str, dict[str, Any]],
            locked: dict[str, Tenant], reads: _AccountReads) -> list[str]:
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
        recharge = charging.charge_in(batch.conn, batch.index, by_tenant, outcomes, batch.now, settlements=True,
                                      locked=locked, also=reads.send, known=reads.known,
                                      credits=batch.credits)
        for (i, _), body in zip(records, _release(batch, records, outcomes, rows, locked), strict=True):
            results[i] = body
    for i, job in enumerate(jobs):  # repeated ends, in this batch or after an earlier one
        if job.kind == "end" and results[i] is None:
            results[i] = _ended(job.request, rows[job.request.call_id], results, first)
    return recharge


def _release(batch: Batch, records: list[tuple[int, CallRecord]], outcomes: list[charging.Outcome],
             rows: dict[str, dict[str, Any]], locked: dict[str, Tenant]) -> list[Settlement]:
    """Store each settlement on its reservation and release the holds; return the answers."""
    released: dict[str, int] = defaultdict(int)
    bodies = []
    updates = []
    for (_, rec), outcome in zip(records, outcomes, strict=True):
        row = rows[rec.id]
        held = row["amount"] if row["status"] == "active" else 0
        currency = locked[row["tenant_id"]].currency
        body = cast(Settlement, {"call_id": rec.id, "duration_seconds": rec.duration_s,
                                 **{k: v for k, v in outcome.as_json().items() if k != "id"},
                                 "released": format_micros(held, minor_units(currency))})
        bodies.append(body)
        row["outcome"] = json.dumps(body)
        status = "settled" if row["status"] == "active" else row["status"]
        updates.append({"cid": rec.id, "status": status, "outcome": row["outcome"], "now": batch.now})
        released[row["tenant_id"]] += held
        row["status"], row["amount"] = status, 0
    raw = Raw.of(batch.conn)
    raw.many("UPDATE reservations SET status = ?, amount = 0, pool_minutes = 0, settled_at = ?, outcome = ? "
             "WHERE call_id = ?", [(u["status"], raw.instant(u["now"]), u["outcome"], u["cid"]) for u in updates])
    raw.many("UPDATE tenants SET reserved = reserved - ? WHERE id = ?", [(v, t) for t, v in released.items() if v])
    for tenant_id, amount in released.items():
        batch.released[tenant_id] = batch.released.get(tenant_id, 0) + amount
    return bodies


def _ended(req: EndRequest, row: dict[str, Any], results: list[Any], first: dict[str, int]) -> Any:
    """The answer to an end: the stored settlement when the duration agrees, else 409."""
    if row["outcome"] is None:  # the first end's charge failed as a whole
        return results[first[req.call_id]] if req.call_id in first else NotFound("call not settled")
    settled = stored_settlement(row["outcome"])
    if settled["duration_seconds"] != req.duration_seconds:
        return Conflict(f"call {req.call_id} was already ended with {settled['duration_seconds']} s; "
                        f"an end with {req.duration_seconds} s cannot change it", code="end_conflict")
    if settled.get("status") == "charged":
        settled["status"] = "duplicate"  # charged once, by the first end
    return settled


# ---------------------------------------------------------------- writing


def _write_holds(batch: Batch) -> None:
    raw = Raw.of(batch.conn)
    if batch.new_holds:
        raw.many(f"INSERT INTO reservations ({', '.join(_RESERVATION)}) VALUES ({', '.join('?' * len(_RESERVATION))})",
                 [tuple(raw.instant(row[c]) if c in _INSTANTS and row.get(c) is not None else row.get(c)
                        for c in _RESERVATION) for row in batch.new_holds])
    raw.many("UPDATE tenants SET reserved = reserved + ? WHERE id = ?",
             [(a.reserved_delta, t) for t, a in batch.accounts.items() if a.reserved_delta])
