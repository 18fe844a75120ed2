"""Who pays for a call (DOMAIN.md "Calls and what pays for them"), decided in this order:

1. emergency numbers: free, always allowed;
2. inbound calls (to a user's own number, to toll numbers, unassigned numbers): free;
3. toll-free inbound (`conf_in`, `ucap_in`, `user_in` to a toll-free number): the tenant's
   credits, category `toll_free_inbound`, no user license involved;
   conference dial-in on a pay-per-minute conferencing tenant: credits, category
   `conference_dial_in`, no user license involved;
4. outbound calls a minute pool covers (calling plans for the user's usage location,
   conferencing dial-out to non-premium Zone A numbers): the pool first;
5. everything else outbound: credits, category `outbound` (`conference_dial_out` for
   `conf_out`), which needs the `communications_credits` license on the user (on the
   meeting organizer for `conf_out`).

`route_call` returns a `Route`; the service prices it, draws pools and decides between
credits and the post-paid statement. Pure: every fact comes in as a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from .numbers import PhoneNumber
from .plans import CALLING_PLANS, CONFERENCING, DIAL_OUT, ZONE_A, PoolKey

CALL_TYPES = (
    "user_out", "user_in", "user_out_conf", "user_out_transfer", "user_out_forwarding",
    "conf_in", "conf_out", "ucap_in", "ucap_out", "unassigned_in",
)
OUTBOUND = frozenset({"user_out", "user_out_conf", "user_out_transfer", "user_out_forwarding",
                      "ucap_out", "conf_out"})
TOLL_FREE_INBOUND = frozenset({"conf_in", "ucap_in", "user_in"})
LICENSE = "communications_credits"


@dataclass(frozen=True, slots=True)
class CallFacts:
    call_type: str
    callee: PhoneNumber | None  # None only for an emergency short code (911, 112, ...)
    emergency: bool
    location: str  # usage location of the user (organizer for conferences), or the tenant's country
    licenses: frozenset[str]  # of the user (the organizer for conf_out)
    tenant_products: frozenset[str]  # products the tenant subscribes to


class Route(NamedTuple):
    """`payer` is "free" or "charged"; a charged call is rated in `category` on
    `rate_number`, drawn from `pools` (in order) first, and needs the license when
    `needs_license`. A named tuple rather than a frozen dataclass: a file of call records
    routes a new (number, caller) pair for about every other record, and a frozen dataclass
    pays an `object.__setattr__` per field (as `RatedCall`, domain/rating/result.py)."""

    payer: str
    reason: str
    category: str | None = None
    rate_number: str = ""
    pools: tuple[PoolKey, ...] = ()
    needs_license: bool = False
    domestic: bool = False


FREE_EMERGENCY = Route("free", "emergency")


def route_call(facts: CallFacts) -> Route:
    return route_for(facts.call_type, facts.callee, facts.emergency, facts.location, facts.licenses,
                     facts.tenant_products)


def route_for(call_type: str, callee: PhoneNumber | None, emergency: bool, location: str,
              licenses: frozenset[str], tenant_products: frozenset[str]) -> Route:
    """`route_call` for the facts given one by one (routing a call record's new number makes no
    `CallFacts`)."""
    if call_type not in CALL_TYPES:
        raise ValueError(f"unknown call type {call_type!r}")
    if emergency:
        return FREE_EMERGENCY
    if callee is None:
        raise ValueError("a call that is not an emergency call needs a callee number")
    domestic = callee.country is not None and callee.country == location
    if call_type not in OUTBOUND:
        return _inbound(call_type, tenant_products, callee, domestic)
    premium = callee.number_type == "premium_rate"
    if call_type == "conf_out":
        pools: tuple[PoolKey, ...] = ()
        if CONFERENCING in tenant_products and not premium and callee.country in ZONE_A:
            pools = _DIAL_OUT_POOLS
        return Route("charged", "conference_dial_out", "conference_dial_out", callee.e164,
                     pools, True, domestic)
    pools = () if premium else _plan_pools("domestic" if domestic else "international", location, licenses)
    return Route("charged", "outbound", "outbound", callee.e164, pools, True, domestic)


_DIAL_OUT_POOLS = (PoolKey(CONFERENCING, DIAL_OUT, "*"),)


@lru_cache(maxsize=4_096)
def _plan_pools(kind: str, location: str, licenses: frozenset[str]) -> tuple[PoolKey, ...]:
    """The calling-plan pools of an outbound call, in plan order (one tuple per distinct
    kind, location and licenses, not one per routed number)."""
    return tuple(PoolKey(plan, kind, location) for plan, kinds in CALLING_PLANS.items()
                 if plan in licenses and kind in kinds)


def _inbound(call_type: str, tenant_products: frozenset[str], callee: PhoneNumber, domestic: bool) -> Route:
    if call_type in TOLL_FREE_INBOUND and callee.number_type == "toll_free":
        return Route("charged", "toll_free_inbound", "toll_free_inbound", callee.e164,
                     domestic=domestic)
    if call_type == "conf_in" and "audio_conferencing_pay_per_minute" in tenant_products:
        return Route("charged", "conference_dial_in", "conference_dial_in", callee.e164,
                     domestic=domestic)
    return Route("free", "inbound", domestic=domestic)
