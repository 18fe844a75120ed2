"""Charging call records: who pays, minute pools, credits, the post-paid statement.

A batch of records (one `POST /v1/cdrs`, one slice of an ingested file) is charged in ONE
database transaction, whatever tenants it touches (DESIGN.md "Hot paths batch"): the
batch's tenant rows are locked in id order, and what the decisions need is read with one
statement per table (tenants, users, subscriptions, pool usage, lots, stored records). Each
new record is routed (domain/funding.py), priced (domain/rating/__init__.py) and split
(domain/charging.py) in memory, one tenant's records in input order, tenants in order of
first appearance. Then one usage journal entry per tenant draws its credits from the lots
(first-to-expire first, the rest a deficit: usage is never dropped for lack of money), and
the entries, records, pool usage and notifications are written, one statement per table,
before the commit. A crash before the commit leaves nothing; sending the same records again
charges each exactly once (the record id is the idempotency key). After the commit the
tenants that paid credits and have auto-recharge settings get their recharge check.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from ...db import ledger, tenants, usage
from ...db.engine import run_write
from ...db.raw import Raw
from ...db.tenants import Tenant
from ...domain.call_descriptor import CallDescriptor, CallRefused, Holder, TenantTerms, describe
from ...domain.charging import Split, split_call
from ...domain.funding import LICENSE
from ...domain.journal import usage_entry
from ...domain.lots import Lot, balance, plan_draw
from ...domain.money import format_micros, minor_units
from ...domain.plans import (
    CALLING_PLANS,
    CONFERENCING,
    Allowances,
    PoolKey,
    pool_sizes,
    threshold_crossed,
)
from ...domain.rating import NoRate, RatedCall, RatingError, RatingIndex
from ...domain.spend_controls import balance_crossings as crossings
from ...domain.spend_controls import effective_policy, implausible, policy_blocks
from ...notify.outbox import Notice, enqueue_many
from ..notify import alerts
from ..rating.rating import rating_index
from ..runtime import Runtime
from .call_records import CallRecord, Rejected, parse_record

POOL_PRODUCTS = frozenset({*CALLING_PLANS, CONFERENCING})
PoolSlot = tuple[str, PoolKey]  # (period YYYY-MM in the tenant's zone, pool)
# pool usage per tenant and period, (location, licenses) of each tenant's users, plan allowances
_Pools = tuple[Mapping[str, dict[PoolSlot, int]], Mapping[str, list[tuple[str, list[str]]]],
               dict[tuple[str, str, str], int]]
_PoolsLater = tuple[Callable[[], dict[str, dict[PoolSlot, int]]],
                    Callable[[], dict[str, list[tuple[str, list[str]]]]],
                    Callable[[], dict[tuple[str, str, str], int]]]
Items = dict[str, list[tuple[int, CallRecord]]]  # tenant id -> (input position, record)
_ROW = ("id", "tenant_id", "call_id", "conference_id", "call_type", "user_id", "organizer_id", "caller",
        "callee", "destination_country", "number_type", "domestic", "started_at", "duration_s", "category",
        "funding", "capability", "pool_minutes", "charge", "credits_charge", "postpaid_charge", "connect_fee",
        "currency", "rating", "policy_blocked")
_CREDITS = _ROW.index("credits_charge")
MAX_CHARGE = 10**15  # micros (1,000,000,000.00): a single call priced above this is a deck error
assert (*_ROW, "transaction_id", "created_at") == usage.RECORD_COLUMNS, "call_records columns changed"


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


class _LocalMonth:
    """The calendar month ("YYYY-MM") of instants in one time zone. It remembers the UTC
    bounds of the last month it found, so records of the same month (nearly all of a batch)
    need no time-zone conversion; a local month only ever follows the one before it."""

    __slots__ = ("end", "label", "start", "zone")

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone, self.label = zone, ""
        self.start = self.end = datetime.max.replace(tzinfo=UTC)

    def __call__(self, instant: datetime) -> str:
        if self.start <= instant < self.end:
            return self.label
        local = instant.astimezone(self.zone)
        label = local.strftime("%Y-%m")
        year, month = divmod(local.year * 12 + local.month, 12)  # the next month, 1-based
        try:
            start = datetime(local.year, local.month, 1, tzinfo=self.zone).astimezone(UTC)
            end = datetime(year, month + 1, 1, tzinfo=self.zone).astimezone(UTC)
        except (OverflowError, ValueError):  # the last month a datetime can hold
            return label
        if start <= instant < end:
            self.start, self.end, self.label = start, end, label
        return label


@dataclass
class _Book:
    """What the batch knows and accumulates about one tenant."""

    tenant: Tenant
    period: _LocalMonth
    products: frozenset[str]
    sizes: dict[PoolKey, int]
    used_before: dict[PoolSlot, int]
    used: dict[PoolSlot, int]
    lots: list[Lot]
    spendable: int
    instant: Callable[[datetime], Any]  # an instant in the database's form (`Raw.instant`)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    credits: int = 0
    switched_to_postpaid: bool = False
    terms: TenantTerms | None = None
    low_threshold: int | None = None
    dial_out_policy: str = "all"  # the tenant's; holders' own policies are in `policies`
    policies: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = self.tenant
        self.terms = TenantTerms(t.id, t.country, t.currency, t.rating_key, t.billing_mode)

    def switch_to_postpaid(self) -> None:
        assert self.terms is not None
        self.switched_to_postpaid = True
        self.terms = dataclasses.replace(self.terms, billing_mode="postpaid")


def charge_records(
    rt: Runtime, raw_records: Iterable[Mapping[str, Any]], *, only_tenant: str | None = None
) -> list[Outcome]:
    """Charge a batch of records; the outcomes come back in input order. With `only_tenant`
    (a switch token bound to one tenant) other tenants' records are rejected."""
    return charge_parsed(rt, [parse_record(r) for r in raw_records], only_tenant=only_tenant)


def charge_parsed(
    rt: Runtime, parsed: Sequence[CallRecord | Rejected], *, only_tenant: str | None = None
) -> list[Outcome]:
    """`charge_records` for records already checked by `call_records.parse_record`."""
    from ..ledger.balance_events import balance_changed

    outcomes: list[Outcome] = [NOT_YET] * len(parsed)
    by_tenant: Items = defaultdict(list)
    for i, rec in enumerate(parsed):
        if isinstance(rec, Rejected):
            outcomes[i] = _reject(rec.id, rec.code, rec.detail)
        elif only_tenant and rec.tenant_id != only_tenant:
            outcomes[i] = _reject(rec.id, "forbidden", "this switch token may only post its own tenant's records")
        else:
            by_tenant[rec.tenant_id].append((i, rec))
    if by_tenant:
        index = rating_index(rt)
        recharge = run_write(rt.engine, charge_in, index, by_tenant, outcomes, rt.clock.now())
        for tenant_id in recharge:
            balance_changed(rt, tenant_id)
    return outcomes


NOT_YET = Outcome("", "rejected", error={"code": "internal", "detail": "not charged"})


def rejected(record_id: str, code: str, detail: str) -> Outcome:
    """The outcome of a record that is not charged."""
    return Outcome(record_id, "rejected", error={"code": code, "detail": detail})


def _reject(record_id: str, code: str, detail: str) -> Outcome:
    return Outcome(record_id, "rejected", error={"code": code, "detail": detail})


@dataclass(frozen=True)
class Known:
    """What a caller has read already about the batch's tenants, so that charging does not
    read it again (the call desk reads its tenants' accounts once, for its settlements, its
    call records and its decisions): the users among the records' holders (id -> tenant id,
    usage location, licenses), each tenant's subscriptions, its spend settings, and which of
    the tenants have auto-recharge settings."""

    people: Mapping[str, tuple[str, str, frozenset[str]]]
    quantities: Mapping[str, dict[str, int]]
    controls: usage.SpendSettings
    recharging: frozenset[str]


def charge_in(conn: Connection, index: RatingIndex, by_tenant: Items, outcomes: list[Outcome],
              now: datetime, *, settlements: bool = False, locked: Mapping[str, Tenant] | None = None,
              also: Callable[[], None] | None = None, credits: dict[str, int] | None = None,
              known: Callable[[], Known] | None = None) -> list[str]:
    """Decide and write the whole batch inside the caller's transaction (call records, or the
    call desk's settlements); fill `outcomes`; return the tenants due an auto-recharge check.

    `settlements` are ends of calls authorized before: their start and length were accepted
    then, so they are not refused as implausible (a call is never dropped). `locked`: the
    tenants the caller has locked in this transaction already (the call desk). `also` sends
    the caller's own reads with these (one round trip on PostgreSQL); they see the state
    before this charge. `credits` gets, per tenant, the credits charged here: what the
    tenant's balance went down by (its usage entry draws exactly that from lots or deficit).
    `known` gives what the caller read already (`Known`), called once `also` has been sent;
    it must cover every tenant of `by_tenant` and every user the records name."""
    found = {t: locked[t] for t in by_tenant if t in locked} if locked is not None else \
        usage.lock_tenants(conn, by_tenant)
    records = [r for items in by_tenant.values() for _, r in items]
    ids = [tid for tid in by_tenant if tid in found]
    raw = Raw.of(conn)
    months = {tid: _LocalMonth(ZoneInfo(found[tid].timezone)) for tid in ids}
    pools_later: _PoolsLater | None = None
    with raw.gather():  # one round trip on PostgreSQL for everything the decisions read
        if raw.pg:  # pool state of every tenant of the batch, not only those that may draw: no trip of its own
            periods = {months[tid](r.started_at) for tid in ids for _, r in by_tenant[tid]}
            pools_later = (usage.pool_used_of_tenants_later(conn, ids, periods),
                           usage.license_holders_of_tenants_later(conn, ids), usage.allowances_later(conn))
        read = _known_later(conn, records, ids) if known is None else known
        lots_later = ledger.usable_lots_of_tenants_later(conn, ids)
        stored_later = usage.existing_records_later(conn, [r.id for r in records])
        txn_ids_later = ledger.transaction_ids_later(conn, len(ids))  # one per tenant at most
        if also is not None:
            also()
    have = read()
    people = have.people
    pools: _Pools | None = None
    if pools_later is not None:
        pools = (pools_later[0](), pools_later[1](), pools_later[2]())
    books = _load(conn, found, by_tenant, now, people, ids, have.quantities, lots_later(), have.controls,
                  months, pools)
    stored = stored_later()
    seen: dict[str, tuple[str, Outcome]] = {}
    for tenant_id, items in by_tenant.items():
        book = books.get(tenant_id)
        for i, rec in items:
            outcomes[i] = (_charge_one(index, book, rec, stored, seen, people, None if settlements else now)
                           if book is not None else
                           _reject(rec.id, "unknown_tenant", f"tenant {tenant_id} not found"))
    _write(conn, list(books.values()), now, txn_ids_later())
    if credits is not None:
        for book in books.values():
            credits[book.tenant.id] = credits.get(book.tenant.id, 0) + book.credits
    return [b.tenant.id for b in books.values() if b.credits > 0 and b.tenant.id in have.recharging]


def _known_later(conn: Connection, records: list[CallRecord], ids: list[str]) -> Callable[[], Known]:
    """Read what `Known` holds for these records and tenants (send now, read later)."""
    holders = [h for r in records if (h := r.organizer_id if r.call_type == "conf_out" else r.user_id)]
    people = usage.users_by_id_later(conn, {u for r in records for u in (r.user_id, r.organizer_id) if u})
    quantities = usage.subscriptions_of_tenants_later(conn, ids)
    controls = usage.spend_settings_later(conn, ids, holders)
    recharging = usage.tenants_with_auto_recharge_later(conn, ids)
    return lambda: Known(people(), quantities(), controls(), frozenset(recharging()))


def _load(conn: Connection, found: Mapping[str, Tenant], by_tenant: Items, now: datetime,
          people: Mapping[str, tuple[str, str, frozenset[str]]], ids: list[str],
          quantities: Mapping[str, dict[str, int]], lots: Mapping[str, list[Lot]], controls: usage.SpendSettings,
          months: dict[str, _LocalMonth],
          pools: _Pools | None) -> dict[str, _Book]:
    """Each tenant's book. Pool state counts only for the tenants whose records may draw on
    a pool (`_may_draw_pools`): read here for them alone, or filtered from `pools`, read
    ahead for every tenant of the batch (PostgreSQL)."""
    pooled = [tid for tid in ids if _may_draw_pools(quantities.get(tid, {}), by_tenant[tid], people)]
    if pools is None:
        periods = {months[tid](r.started_at) for tid in pooled for _, r in by_tenant[tid]}
        used = usage.pool_used_of_tenants(conn, pooled, periods)
        holders = usage.license_holders_of_tenants(conn, pooled)
        allowances = Allowances(usage.allowances(conn) if pooled else {})
    else:
        used = {tid: pools[0][tid] for tid in pooled if tid in pools[0]}
        holders = {tid: pools[1][tid] for tid in pooled if tid in pools[1]}
        allowances = Allowances(pools[2] if pooled else {})
    thresholds, tenant_policies, own_policies = controls
    to_db = Raw.of(conn).instant
    books: dict[str, _Book] = {}
    for tid in ids:
        tenant, owned = found[tid], quantities.get(tid, {})
        before = dict(used.get(tid, {}))
        books[tid] = _Book(tenant, months[tid], frozenset(p for p, q in owned.items() if q > 0),
                           pool_sizes(holders.get(tid, []), owned, allowances), before, dict(before),
                           lots[tid], balance(lots[tid], tenant.deficit, now), low_threshold=thresholds.get(tid),
                           dial_out_policy=tenant_policies.get(tid, "all"), policies=own_policies.get(tid, {}),
                           instant=to_db)
    return books


def _may_draw_pools(owned: Mapping[str, int], items: list[tuple[int, CallRecord]],
                    people: Mapping[str, tuple[str, str, frozenset[str]]]) -> bool:
    """Whether any of the tenant's records can route to a minute pool: the tenant subscribes
    to a product with a pool, or a record's user (organizer) holds a calling-plan license
    (domain/funding.py). Tenants without either skip reading pool state."""
    if any(q > 0 and p in POOL_PRODUCTS for p, q in owned.items()):
        return True
    for _, rec in items:
        holder = rec.organizer_id if rec.call_type == "conf_out" else rec.user_id
        if holder and holder in people and people[holder][2] & POOL_PRODUCTS:
            return True
    return False


def _charge_one(index: RatingIndex, book: _Book, rec: CallRecord, stored: dict[str, dict[str, Any]],
                seen: dict[str, tuple[str, Outcome]], people: Mapping[str, tuple[str, str, frozenset[str]]],
                now: datetime | None) -> Outcome:
    tenant = book.tenant
    record_id = rec.id
    if record_id in stored:
        row = stored[record_id]
        return _duplicate(record_id, row["tenant_id"], tenant, Outcome(
            record_id, "duplicate", row["charge"], row["funding"], row["capability"], row["pool_minutes"],
            row["currency"]))
    if record_id in seen:  # repeated within this batch
        owner, first = seen[record_id]
        return _duplicate(record_id, owner, tenant, first)
    started, duration = rec.started_at, rec.duration_s
    if now is not None and (code := implausible(started, duration, now)):
        return _reject(record_id, code, "the call starts more than 5 minutes after the service's clock"
                       if code == "invalid_time" else "the call lasts more than 24 hours")
    holder_id = rec.organizer_id if rec.call_type == "conf_out" else rec.user_id
    holder = None
    if holder_id:
        person = people.get(holder_id)
        if person is None or person[0] != tenant.id:
            return _reject(record_id, "unknown_user", f"user {holder_id} is not a user of this tenant")
        holder = _holder(person[1], person[2])
    assert book.terms is not None
    try:
        call = describe(call_type=rec.call_type, callee=rec.callee, holder=holder, tenant=book.terms,
                        products=book.products, started_at=started)
        period = book.period(started)
        route = call.route
        if route.pools:
            sizes, used = book.sizes, book.used
            left: Mapping[PoolKey, int] = {k: sizes.get(k, 0) - used.get((period, k), 0) for k in route.pools}
        else:
            left = _NO_POOLS
        pricer = _Pricer(index, call, duration)
        split = split_call(route, duration, left, pricer, billing_mode=call.funding_mode, spendable=book.spendable)
        # the connection fee is part of the charge when the call was charged from its first second
        fee = pricer.rated().connect_fee_micros if split.charge and not split.covered_s else 0
    except CallRefused as exc:
        return _reject(record_id, exc.code, exc.detail)
    except NoRate as exc:
        return _reject(record_id, "no_rate", str(exc))
    except (RatingError, ArithmeticError, ValueError) as exc:  # a deck that cannot price this call
        return _reject(record_id, "rating_error", f"the call cannot be rated: {exc}")
    if split.charge > MAX_CHARGE:
        return _reject(record_id, "implausible_charge", f"the call would cost {split.charge} micros: check the deck")
    if split.credits and call.license_missing:
        who = "the meeting organizer" if rec.call_type == "conf_out" else "the user"
        return _reject(record_id, "license_required", f"{who} holds no {LICENSE} license for a call beyond the plans")
    pool_minutes = _apply(book, rec, call, split, period, fee, _blocked(book, call, holder_id))
    outcome = Outcome(record_id, "charged", split.charge, split.funding, split.capability, pool_minutes,
                      tenant.currency)
    seen[record_id] = (tenant.id, outcome)
    return outcome


_NO_POOLS: Mapping[PoolKey, int] = MappingProxyType({})


@lru_cache(maxsize=4_096)
def _holder(location: str, licenses: frozenset[str]) -> Holder:
    """The `Holder` of a user's (usage location, licenses): one value per distinct pair, not
    one per record (a frozen dataclass costs about 0.5 µs to make)."""
    return Holder(location, licenses)


class _Pricer:
    """`call.price` for one record, keeping the whole call's `RatedCall` (the split prices
    the full duration; its connection fee is read from the same quote, not priced again)."""

    __slots__ = ("call", "duration", "full", "index")

    def __init__(self, index: RatingIndex, call: CallDescriptor, duration: int) -> None:
        self.index, self.call, self.duration = index, call, duration
        self.full: RatedCall | None = None

    def __call__(self, seconds: int) -> int:
        rated = self.call.rated(self.index, seconds)
        if seconds == self.duration:
            self.full = rated
        return rated.charge_micros

    def rated(self) -> RatedCall:
        """The whole call priced (once)."""
        if self.full is None:
            self.full = self.call.rated(self.index, self.duration)
        return self.full


def _duplicate(record_id: str, owner: str, tenant: Tenant, first: Outcome) -> Outcome:
    if owner != tenant.id:
        return _reject(record_id, "id_conflict", "this record id was already used by another tenant")
    return Outcome(record_id, "duplicate", first.charge, first.funding, first.capability, first.pool_minutes,
                   first.currency)


def _blocked(book: _Book, call: CallDescriptor, holder_id: str | None) -> bool:
    """Whether the dial-out policy in force now (the holder's own, else the tenant's) forbids
    the call, by authorize's rule: a call it blocked that happened anyway is charged and flagged."""
    own = book.policies.get(holder_id or "")
    if (own if own is not None else book.dial_out_policy) == "all":  # `all` never blocks
        return False
    policy = effective_policy(book.dial_out_policy, own)
    callee = call.callee
    return policy_blocks(policy, call_type=call.call_type, domestic=call.route.domestic,
                         number_type=callee.number_type if callee else "emergency", emergency=callee is None)


def _apply(book: _Book, rec: CallRecord, call: CallDescriptor, split: Split, period: str, fee: int,
           blocked: bool) -> int:
    """Count the call in the tenant's book and keep its row; answer its pool minutes."""
    pool_minutes = 0
    if split.draws:
        used = book.used
        for draw in split.draws:
            slot = (period, draw.key)
            used[slot] = used.get(slot, 0) + draw.minutes
            pool_minutes += draw.minutes
    credits = split.credits
    book.credits += credits
    book.spendable -= credits
    if split.postpaid and call.funding_mode == "migrating":
        book.switch_to_postpaid()  # the first usage the credits cannot cover
    callee, route, tenant = call.callee, call.route, book.tenant
    book.rows.append((  # in _ROW order, instants in the database's form
        rec.id, tenant.id, rec.call_id, rec.conference_id, rec.call_type, rec.user_id, rec.organizer_id,
        rec.caller, callee.e164 if callee else rec.callee, callee.country if callee else None,
        callee.number_type if callee else "emergency", int(route.domestic), book.instant(rec.started_at),
        rec.duration_s,
        route.category, split.funding, split.capability, pool_minutes, split.charge, credits,
        split.postpaid, fee, tenant.currency, None, blocked))
    return pool_minutes


def _write(conn: Connection, books: list[_Book], now: datetime, ahead: list[int]) -> None:
    entries: list[ledger.BatchEntry] = []
    for book in books:
        if book.credits:
            entries.append(_usage_entry(conn, book, now))
    txn_ids = dict(zip([e.tenant_id for e in entries], ledger.post_many(conn, entries, now=now, ids=ahead),
                       strict=True))
    now_db = Raw.of(conn).instant(now)
    rows: list[tuple[Any, ...]] = []
    for b in books:  # each stored row was built once, in the database's form: add its last two columns
        paid, unpaid = (txn_ids.get(b.tenant.id), now_db), (None, now_db)
        rows.extend([row + (paid if row[_CREDITS] else unpaid) for row in b.rows])
    usage.insert_stored_record_rows(conn, rows)
    updates: list[tuple[str, str, PoolKey, int]] = []
    inserts: list[tuple[str, str, PoolKey, int]] = []
    notices: list[Notice] = []
    for book in books:
        changed = {slot: n for slot, n in book.used.items() if n != book.used_before.get(slot)}
        for (period, key), after_used in changed.items():
            target = updates if (period, key) in book.used_before else inserts
            target.append((book.tenant.id, period, key, after_used))
            notices.extend(_pool_notices(book, period, key, after_used))
        if book.switched_to_postpaid:
            tenants.set_fields(conn, book.tenant.id, billing_mode="postpaid")
    usage.save_pool_used_many(conn, updates, inserts)
    enqueue_many(conn, notices, now=now)


def _usage_entry(conn: Connection, book: _Book, now: datetime) -> ledger.BatchEntry:
    """The tenant's one usage entry for the batch (and the notice when it empties the balance)."""
    tenant, first = book.tenant, book.rows[0][0]
    before = balance(book.lots, tenant.deficit, now)
    takes, shortfall = plan_draw(book.lots, book.credits, now)
    entry = usage_entry(takes, shortfall, reference=f"usage: {len(book.rows)} call(s) from record {first}")
    after = before + entry.balance_change
    if crossings(before, after, book.low_threshold):  # balance_low, balance_depleted: once per crossing
        alerts.balance_crossings(conn, tenant, before, after, now, cause="usage")
    return ledger.BatchEntry(tenant.id, entry, after, f"cdr-batch:{first}")


def _pool_notices(book: _Book, period: str, key: PoolKey, after_used: int) -> list[Notice]:
    """The `pool_threshold` notifications a pool's new usage crosses (enqueued with the batch's others)."""
    tenant, size = book.tenant, book.sizes.get(key, 0)
    return [Notice(tenant.id, "pool_threshold", dedupe_key=f"pool:{period}:{key}:{percent}",
                   payload={"tenant_name": tenant.name, "period": period, "pool": str(key),
                            "product": key.product, "kind": key.kind, "country": key.country,
                            "percent": percent, "total_minutes": size, "used_minutes": after_used})
            for percent in threshold_crossed(size, book.used_before.get((period, key), 0), after_used)]
