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


@dataclass(frozen=True, slots=True)
class Route:
    """`payer` is "free" or "charged"; a charged call is rated in `category` on
    `rate_number`, drawn from `pools` (in order) first, and needs the license when
    `needs_license`."""

    payer: str
    reason: str
    category: str | None = None
    rate_number: str = ""
    pools: tuple[PoolKey, ...] = ()
    needs_license: bool = False
    domestic: bool = False


FREE_EMERGENCY = Route("free", "emergency")


def route_call(facts: CallFacts) -> Route:
    if facts.call_type not in CALL_TYPES:
        raise ValueError(f"unknown call type {facts.call_type!r}")
    if facts.emergency:
        return FREE_EMERGENCY
    callee = facts.callee
    if callee is None:
        raise ValueError("a call that is not an emergency call needs a callee number")
    domestic = callee.country is not None and callee.country == facts.location
    if facts.call_type not in OUTBOUND:
        return _inbound(facts, callee, domestic)
    premium = callee.number_type == "premium_rate"
    if facts.call_type == "conf_out":
        pools: tuple[PoolKey, ...] = ()
        if CONFERENCING in facts.tenant_products and not premium and callee.country in ZONE_A:
            pools = (PoolKey(CONFERENCING, DIAL_OUT, "*"),)
        return Route("charged", "conference_dial_out", "conference_dial_out", callee.e164,
                     pools, True, domestic)
    kind = "domestic" if domestic else "international"
    pools = () if premium else tuple(
        PoolKey(plan, kind, facts.location)
        for plan, kinds in CALLING_PLANS.items() if plan in facts.licenses and kind in kinds
    )
    return Route("charged", "outbound", "outbound", callee.e164, pools, True, domestic)


def _inbound(facts: CallFacts, callee: PhoneNumber, domestic: bool) -> Route:
    if facts.call_type in TOLL_FREE_INBOUND and callee.number_type == "toll_free":
        return Route("charged", "toll_free_inbound", "toll_free_inbound", callee.e164,
                     domestic=domestic)
    if facts.call_type == "conf_in" and "audio_conferencing_pay_per_minute" in facts.tenant_products:
        return Route("charged", "conference_dial_in", "conference_dial_in", callee.e164,
                     domestic=domestic)
    return Route("free", "inbound", domestic=domestic)
