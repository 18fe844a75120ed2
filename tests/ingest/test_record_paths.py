"""The per-record work of charging gives exactly what the plain way gives: routing (a named
tuple, the facts given one by one, plan pools shared) against `route_call` as it was, `split_call`
(a shared split for free calls, no payer list for calls without pools, a named tuple)
against the split as it was written before, and `_charge_one` (a shared `Holder` per
location and licenses, `all` never blocking, pool minutes counted once) against the
record-by-record code as it was, on generated batches: same outcomes, same rows, same
pool use, credits and billing mode."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from commcredits.db.tenants import Tenant
from commcredits.domain.call_descriptor import CallDescriptor, CallRefused, Holder, describe
from commcredits.domain.charging import CREDITS, PoolDraw, Split, draw_pools, split_call
from commcredits.domain.funding import (
    CALL_TYPES,
    LICENSE,
    OUTBOUND,
    TOLL_FREE_INBOUND,
    CallFacts,
    Route,
    route_call,
    route_for,
)
from commcredits.domain.numbers import PhoneNumber, parse_number
from commcredits.domain.plans import CALLING_PLANS, CONFERENCING, DIAL_OUT, ZONE_A, PoolKey
from commcredits.domain.rating import NoRate, RatingError, RatingIndex
from commcredits.domain.spend_controls import effective_policy, implausible, policy_blocks
from commcredits.rating_import import load_ratecard
from commcredits.services.usage import charging
from commcredits.services.usage.call_records import CallRecord
from commcredits.services.usage.charging import MAX_CHARGE, Outcome, _Book, _LocalMonth
from commcredits.services.usage.ingest import fewer_collections

TESTDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata"
SAMPLE = RatingIndex.build([load_ratecard((TESTDATA / "sample-ratecard.csv").read_text(), filename="s.csv")])

# --- split_call ------------------------------------------------------------------------


def reference_split(route: Route, duration_s: int, left: Mapping[PoolKey, int], price: Callable[[int], int],
                    *, billing_mode: str, spendable: int) -> tuple[object, ...]:
    """`split_call` as it was written before (a frozen dataclass, the payer list every time)."""
    if route.payer == "free":
        return ("free", "free", (), 0, 0, 0, 0)
    draws, covered = draw_pools(route, duration_s, left)
    charge = 0 if covered >= duration_s else price(duration_s) - (price(covered) if covered else 0)
    if billing_mode == "postpaid":
        credits, postpaid = 0, charge
    elif billing_mode == "migrating":
        credits = min(charge, max(spendable, 0))
        postpaid = charge - credits
    else:
        credits, postpaid = charge, 0
    payers = [d.key.product for d in draws]
    if credits or (charge == 0 and not draws):
        payers.append(CREDITS)
    if postpaid:
        payers.append("postpaid")
    payers = list(dict.fromkeys(payers))
    if len(payers) > 1:
        funding = "mixed"
    elif draws:
        funding = "pool"
    else:
        funding = "postpaid" if postpaid else "credits"
    return (funding, ", ".join(payers), draws, covered, charge, credits, postpaid)


POOLS = [PoolKey("domestic_calling_plan", "domestic", "US"), PoolKey("international_calling_plan", "domestic", "US"),
         PoolKey("audio_conferencing", "dial_out", "*")]


@st.composite
def prices(draw: st.DrawFn) -> Callable[[int], int]:
    fee, per_unit = draw(st.integers(0, 500_000)), draw(st.integers(-10, 3_000_000))
    unit = draw(st.sampled_from([1, 6, 60]))
    return lambda seconds: fee + per_unit * (-(-seconds // unit))


@settings(max_examples=3_000, deadline=None)
@given(st.sampled_from(["free", "charged"]), st.lists(st.sampled_from(POOLS), unique=True, max_size=3),
       st.dictionaries(st.sampled_from(POOLS), st.integers(-5, 200)), st.integers(0, 10_000), prices(),
       st.sampled_from(["prepaid", "migrating", "postpaid"]), st.integers(-10**7, 10**7))
def test_split_matches_the_plain_split(payer: str, pools: list[PoolKey], left: dict[PoolKey, int], duration: int,
                                       price: Callable[[int], int], mode: str, spendable: int) -> None:
    route = Route(payer, "why", "outbound", "+12025550123", tuple(pools), True, True)
    split = split_call(route, duration, left, price, billing_mode=mode, spendable=spendable)
    assert isinstance(split, Split)
    assert tuple(split) == reference_split(route, duration, left, price, billing_mode=mode, spendable=spendable)
    assert split.pool_minutes == sum(d.minutes for d in split.draws)


# --- _charge_one ------------------------------------------------------------------------

def reference_charge_one(index: RatingIndex, book: _Book, rec: CallRecord, stored: dict[str, dict[str, Any]],
                         seen: dict[str, tuple[str, Outcome]], people: dict[str, tuple[str, str, frozenset[str]]],
                         now: datetime | None) -> Outcome:
    """`charging._charge_one` (with `_blocked` and `_apply`) as it was written before."""
    reject = charging._reject
    tenant = book.tenant
    if rec.id in stored:
        row = stored[rec.id]
        return charging._duplicate(rec.id, row["tenant_id"], tenant, Outcome(
            rec.id, "duplicate", row["charge"], row["funding"], row["capability"], row["pool_minutes"],
            row["currency"]))
    if rec.id in seen:
        owner, first = seen[rec.id]
        return charging._duplicate(rec.id, owner, tenant, first)
    if now is not None and (code := implausible(rec.started_at, rec.duration_s, now)):
        return reject(rec.id, code, "the call starts more than 5 minutes after the service's clock"
                      if code == "invalid_time" else "the call lasts more than 24 hours")
    holder_id = rec.organizer_id if rec.call_type == "conf_out" else rec.user_id
    holder = None
    if holder_id:
        person = people.get(holder_id)
        if person is None or person[0] != tenant.id:
            return reject(rec.id, "unknown_user", f"user {holder_id} is not a user of this tenant")
        holder = Holder(person[1], person[2])
    assert book.terms is not None
    try:
        call = describe(call_type=rec.call_type, callee=rec.callee, holder=holder, tenant=book.terms,
                        products=book.products, started_at=rec.started_at)
        period = book.period(rec.started_at)
        left = {k: book.sizes.get(k, 0) - book.used.get((period, k), 0) for k in call.route.pools}
        pricer = charging._Pricer(index, call, rec.duration_s)
        split = Split(*reference_split(call.route, rec.duration_s, left, pricer, billing_mode=call.funding_mode,
                                       spendable=book.spendable))  # type: ignore[arg-type]
        fee = pricer.rated().connect_fee_micros if split.charge and not split.covered_s else 0
    except CallRefused as exc:
        return reject(rec.id, exc.code, exc.detail)
    except NoRate as exc:
        return reject(rec.id, "no_rate", str(exc))
    except (RatingError, ArithmeticError, ValueError) as exc:
        return reject(rec.id, "rating_error", f"the call cannot be rated: {exc}")
    if split.charge > MAX_CHARGE:
        return reject(rec.id, "implausible_charge", f"the call would cost {split.charge} micros: check the deck")
    if split.credits and call.license_missing:
        who = "the meeting organizer" if rec.call_type == "conf_out" else "the user"
        return reject(rec.id, "license_required", f"{who} holds no {LICENSE} license for a call beyond the plans")
    policy = effective_policy(book.dial_out_policy, book.policies.get(holder_id or ""))
    callee = call.callee
    blocked = policy_blocks(policy, call_type=call.call_type, domestic=call.route.domestic,
                            number_type=callee.number_type if callee else "emergency", emergency=callee is None)
    _reference_apply(book, rec, call, split, period, fee, blocked)
    outcome = Outcome(rec.id, "charged", split.charge, split.funding, split.capability, split.pool_minutes,
                      tenant.currency)
    seen[rec.id] = (tenant.id, outcome)
    return outcome


def _reference_apply(book: _Book, rec: CallRecord, call: CallDescriptor, split: Split, period: str, fee: int,
                     blocked: bool) -> None:
    for d in split.draws:
        slot = (period, d.key)
        book.used[slot] = book.used.get(slot, 0) + d.minutes
    book.credits += split.credits
    book.spendable -= split.credits
    if split.postpaid and call.funding_mode == "migrating":
        book.switch_to_postpaid()
    callee, route = call.callee, call.route
    book.rows.append((
        rec.id, book.tenant.id, rec.call_id, rec.conference_id, rec.call_type, rec.user_id, rec.organizer_id,
        rec.caller, callee.e164 if callee else rec.callee, callee.country if callee else None,
        callee.number_type if callee else "emergency", int(route.domestic), rec.started_at, rec.duration_s,
        route.category, split.funding, split.capability, split.pool_minutes, split.charge, split.credits,
        split.postpaid, fee, book.tenant.currency, None, blocked))


CALLEES = ["+12025550123", "+18005550100", "+19005550100", "+442079460000", "+447400123456", "+4915123456789",
           "+81312345678", "+2348021234567", "+33142685300", "911", "112", "999", "+1202555012", "12345"]
LICENSES = [frozenset(), frozenset({LICENSE}), frozenset({"domestic_calling_plan", LICENSE}),
            frozenset({"international_calling_plan"}), frozenset({"audio_conferencing", LICENSE})]
PRODUCTS = [frozenset(), frozenset({"audio_conferencing"}), frozenset({"domestic_calling_plan", LICENSE}),
            frozenset({"audio_conferencing_pay_per_minute", "international_calling_plan"})]
POLICIES = ["all", "no_premium", "domestic_only", "none"]
USERS = ["u1", "u2", "u3", "stranger", ""]
START = datetime(2026, 3, 31, 20, tzinfo=UTC)  # a month's end in the tenant's zone falls inside the range


@st.composite
def batches(draw: st.DrawFn) -> tuple[_Book, dict[str, tuple[str, str, frozenset[str]]], list[CallRecord], datetime]:
    mode = draw(st.sampled_from(["prepaid", "migrating", "postpaid"]))
    tenant = Tenant("t1", "T", draw(st.sampled_from(["US", "GB", "DE"])), "USD", "US",
                    draw(st.sampled_from(["UTC", "America/New_York", "Asia/Tokyo"])), mode, "USD", False, False,
                    0, 0, START - timedelta(days=90))
    people = {u: ("t1" if u != "stranger" else "t2", draw(st.sampled_from(["US", "GB", "DE"])),
                  draw(st.sampled_from(LICENSES))) for u in USERS if u}
    sizes = {k: draw(st.integers(0, 30)) for k in draw(st.lists(st.sampled_from(
        POOLS + [PoolKey(plan, kind, c) for plan, kind in (("domestic_calling_plan", "domestic"),
                                                           ("international_calling_plan", "domestic"),
                                                           ("international_calling_plan", "international"))
                 for c in ("US", "GB", "DE")]), unique=True, min_size=2))}
    used = {("2026-03", k): draw(st.integers(0, 10)) for k in sizes}
    book = _Book(tenant, _LocalMonth(ZoneInfo(tenant.timezone)), draw(st.sampled_from(PRODUCTS)), sizes, dict(used),
                 dict(used), [], draw(st.integers(-10**6, 3 * 10**6)), instant=lambda at: at,
                 dial_out_policy=draw(st.sampled_from(POLICIES)),
                 policies={u: draw(st.sampled_from(POLICIES)) for u in draw(st.sets(st.sampled_from(USERS[:3])))})
    ids = [f"r{n}" for n in range(draw(st.integers(1, 60)))]
    records = [CallRecord(
        draw(st.sampled_from(ids)), "t1", draw(st.sampled_from(CALL_TYPES)), "+12025550100",
        draw(st.sampled_from(CALLEES)), START + timedelta(seconds=draw(st.integers(0, 4 * 3600))),
        draw(st.sampled_from([0, 1, 59, 60, 61, 125, 3_600, 90_000])), draw(st.sampled_from(USERS)) or None,
        draw(st.sampled_from(USERS)) or None, "c", None) for _ in range(draw(st.integers(1, 25)))]
    return book, people, records, START + timedelta(hours=draw(st.sampled_from([1, 5])))


@settings(max_examples=1_500, deadline=None)
@given(batches(), st.booleans())
def test_charge_one_matches_the_plain_way(example: tuple[_Book, dict[str, tuple[str, str, frozenset[str]]],
                                                         list[CallRecord], datetime], settlements: bool) -> None:
    book, people, records, now = example
    stored = {"r5": {"tenant_id": "t1", "charge": 7, "funding": "credits", "capability": CREDITS,
                     "pool_minutes": 0, "currency": "USD"}}
    fast_book, slow_book = copy.deepcopy(book), copy.deepcopy(book)
    fast_seen: dict[str, tuple[str, Outcome]] = {}
    slow_seen: dict[str, tuple[str, Outcome]] = {}
    at = None if settlements else now
    for rec in records:
        fast = charging._charge_one(SAMPLE, fast_book, rec, stored, fast_seen, people, at)
        slow = reference_charge_one(SAMPLE, slow_book, rec, stored, slow_seen, people, at)
        assert fast == slow
    assert (fast_book.rows, fast_book.used, fast_book.credits, fast_book.spendable, fast_book.switched_to_postpaid,
            fast_book.terms) == (slow_book.rows, slow_book.used, slow_book.credits, slow_book.spendable,
                                 slow_book.switched_to_postpaid, slow_book.terms)


def test_pool_draws_and_calls_are_plain_values() -> None:
    key = POOLS[0]
    assert PoolDraw(key, 3) == PoolDraw(key, 3) and PoolDraw(key, 3).minutes == 3
    assert split_call(Route("free", "inbound"), 60, {}, lambda s: 1, billing_mode="prepaid", spendable=0) == \
        Split("free", "free", (), 0, 0, 0, 0)


# --- routing ------------------------------------------------------------------------------

def reference_route(facts: CallFacts) -> Route:
    """`route_call` as it was written before (a frozen dataclass, pools made per call)."""
    if facts.call_type not in CALL_TYPES:
        raise ValueError(f"unknown call type {facts.call_type!r}")
    if facts.emergency:
        return Route("free", "emergency")
    callee = facts.callee
    if callee is None:
        raise ValueError("a call that is not an emergency call needs a callee number")
    domestic = callee.country is not None and callee.country == facts.location
    if facts.call_type not in OUTBOUND:
        if facts.call_type in TOLL_FREE_INBOUND and callee.number_type == "toll_free":
            return Route("charged", "toll_free_inbound", "toll_free_inbound", callee.e164, domestic=domestic)
        if facts.call_type == "conf_in" and "audio_conferencing_pay_per_minute" in facts.tenant_products:
            return Route("charged", "conference_dial_in", "conference_dial_in", callee.e164, domestic=domestic)
        return Route("free", "inbound", domestic=domestic)
    premium = callee.number_type == "premium_rate"
    if facts.call_type == "conf_out":
        pools: tuple[PoolKey, ...] = ()
        if CONFERENCING in facts.tenant_products and not premium and callee.country in ZONE_A:
            pools = (PoolKey(CONFERENCING, DIAL_OUT, "*"),)
        return Route("charged", "conference_dial_out", "conference_dial_out", callee.e164, pools, True, domestic)
    kind = "domestic" if domestic else "international"
    pools = () if premium else tuple(PoolKey(plan, kind, facts.location) for plan, kinds in CALLING_PLANS.items()
                                     if plan in facts.licenses and kind in kinds)
    return Route("charged", "outbound", "outbound", callee.e164, pools, True, domestic)


def _routed(fn: Callable[[CallFacts], Route], facts: CallFacts) -> object:
    try:
        return tuple(fn(facts))
    except ValueError as exc:
        return ("refused", str(exc))


NUMBERS = [parse_number(n) for n in ("+12025550123", "+18005550100", "+19005550100", "+442079460000",
                                     "+447400123456", "+4915123456789", "+81312345678", "+2348021234567",
                                     "+33142685300")]


@settings(max_examples=2_000, deadline=None)
@given(st.sampled_from([*CALL_TYPES, "bogus"]), st.sampled_from([None, *NUMBERS]), st.booleans(),
       st.sampled_from(["US", "GB", "DE", "NG"]), st.sampled_from([*LICENSES, frozenset(CALLING_PLANS)]),
       st.sampled_from(PRODUCTS))
def test_route_matches_the_plain_route(call_type: str, callee: PhoneNumber | None, emergency: bool, location: str,
                                       licenses: frozenset[str], products: frozenset[str]) -> None:
    facts = CallFacts(call_type, callee, emergency, location, licenses, products)
    assert _routed(route_call, facts) == _routed(reference_route, facts)
    assert _routed(route_call, facts) == _routed(lambda f: route_for(call_type, callee, emergency, location, licenses, products), facts)


def test_fewer_collections_restores_the_thresholds() -> None:
    import gc

    before = gc.get_threshold()
    try:
        with fewer_collections(50_000):
            assert gc.get_threshold() == (max(before[0], 50_000), *before[1:])
            raise KeyError("boom")
    except KeyError:
        pass
    assert gc.get_threshold() == before
