"""The call descriptor: one decision of who pays for a call, at which rate, from which pools.

CGRateS feeds one `CallDescriptor` to both the cost and the maximum duration of a call; here
authorize, extend, settlement (`end`) and call-record charging all build theirs with
`describe`, so they cannot disagree about a call. A descriptor holds what the decision
needs and nothing else: the call type, the parsed callee, the route (domain/funding.py), the
holder's licenses, and how to rate it (rating key, subject = the tenant, currency, start).
Parsing the callee and routing depend on nothing else than the call type, the callee text,
the location, the licenses and the tenant's products, so `routed` caches them (bounded, LRU);
a property test compares it with routing afresh.

Who pays (DOMAIN.md): the holder is the user, or the meeting organizer for `conf_out`; with
no holder the tenant's country stands in for the usage location. Credit-funded calls need
the `communications_credits` license only while credits pay: a post-paid tenant's calls go
on the statement without it, and while a tenant migrates, its unlicensed users' calls go
straight to the statement (`funding_mode`).

Pure: no I/O; the rating index and every fact come in as parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from .funding import LICENSE, Route, route_for
from .numbers import InvalidNumber, PhoneNumber, is_emergency, parse_number
from .rating import RatedCall, RatingIndex, max_seconds_for, price_call

NO_LICENSES: frozenset[str] = frozenset()
ROUTE_CACHE = 32_768  # routed calls kept: (call type, callee, location, licenses, products)


class CallRefused(ValueError):
    """The call cannot be described: `code` is a stable reason (invalid_number, ...)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Holder:
    """The user a call is charged to (the organizer for conference dial-out)."""

    location: str
    licenses: frozenset[str]


@dataclass(frozen=True, slots=True)
class TenantTerms:
    """What of the tenant decides and rates its calls."""

    id: str
    country: str
    currency: str
    rating_key: str
    billing_mode: str  # prepaid | migrating | postpaid


class CallDescriptor(NamedTuple):
    """One call's decision. A named tuple rather than a frozen dataclass: charging a file makes
    one per record, and a frozen dataclass pays an `object.__setattr__` per field (as
    `RatedCall`, domain/rating/result.py)."""

    call_type: str
    callee: PhoneNumber | None  # None for an emergency short code
    route: Route
    licenses: frozenset[str]
    tenant: TenantTerms
    started_at: datetime

    @property
    def free(self) -> bool:
        return self.route.payer == "free"

    @property
    def licensed(self) -> bool:
        """Whether credits may pay for this call (always, where no license is involved)."""
        return not self.route.needs_license or LICENSE in self.licenses

    @property
    def funding_mode(self) -> str:
        """How the money part of the call is paid: the tenant's billing mode, except that a
        migrating tenant's unlicensed users go straight to the statement."""
        mode = self.tenant.billing_mode
        return "postpaid" if mode == "migrating" and not self.licensed else mode

    @property
    def license_missing(self) -> bool:
        """Credits would have to pay and the holder may not draw on them."""
        return self.funding_mode == "prepaid" and not self.licensed

    def rated(self, index: RatingIndex, seconds: int) -> RatedCall:
        """`seconds` of this call priced in full: charge, connection fee, spans (raises NoRate)."""
        return price_call(index, rating_key=self.tenant.rating_key, category=self.route.category or "",
                          subject=self.tenant.id, number=self.route.rate_number, started_at=self.started_at,
                          duration_s=seconds, currency=self.tenant.currency)

    def price(self, index: RatingIndex, seconds: int) -> int:
        """The price in micros of `seconds` of this call (raises NoRate)."""
        return self.rated(index, seconds).charge_micros

    def pricer(self, index: RatingIndex) -> Callable[[int], int]:
        return lambda seconds: self.price(index, seconds)

    def longest(self, index: RatingIndex, budget: int, *, upto: int, limit: int) -> int | None:
        """The longest duration up to `upto` seconds whose price fits in `budget`; None when
        the call is free at any length up to `limit` (nothing to hold, nothing limits it).

        Looking only up to `upto` (the next chunk) costs one price when the chunk is
        affordable; a call free within the chunk is looked at up to `limit` to tell a free
        call from a free first chunk."""
        def fit(limit_s: int) -> int | None:
            return max_seconds_for(index, rating_key=self.tenant.rating_key, category=self.route.category or "",
                                   subject=self.tenant.id, number=self.route.rate_number,
                                   started_at=self.started_at, amount_micros=budget,
                                   currency=self.tenant.currency, limit_s=limit_s)

        if upto < limit:
            found = fit(upto)
            if found is not None:
                return found
        return fit(limit)


def describe(*, call_type: str, callee: str, holder: Holder | None, tenant: TenantTerms,
             products: frozenset[str], started_at: datetime) -> CallDescriptor:
    """Route a call once (raises CallRefused with a stable code)."""
    location, licenses = (holder.location, holder.licenses) if holder else (tenant.country, NO_LICENSES)
    number, route = routed(call_type, callee, location, licenses, products)
    return _new(CallDescriptor, (call_type, number, route, licenses, tenant, started_at))


_new = tuple.__new__  # builds the named tuple without its Python-level __new__


@lru_cache(maxsize=ROUTE_CACHE)
def routed(call_type: str, callee: str, location: str, licenses: frozenset[str],
           products: frozenset[str]) -> tuple[PhoneNumber | None, Route]:
    """The parsed callee (None for an emergency code) and the route of a call: a pure
    function of its arguments, cached because call traffic repeats its numbers, users and
    tenants (a refusal is not cached; it raises again)."""
    text = callee.strip()
    emergency = is_emergency(text, location)
    try:
        number = None if emergency else parse_number(text, location)
    except InvalidNumber as exc:
        raise CallRefused("invalid_number", str(exc)) from None
    try:
        route = route_for(call_type, number, emergency, location, licenses, products)
    except ValueError as exc:
        raise CallRefused("validation_error", str(exc)) from None
    return number, route
