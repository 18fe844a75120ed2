"""How a routed call's cost is split between minute pools, credits and the post-paid
statement. Pure: the service supplies what is left in each pool, a price function and the
tenant's billing mode and balance.

Pools count whole minutes (each call rounds up). A call longer than what is left draws the
pool(s) to zero; the credits then pay what the call costs beyond the covered time:
price(duration) - price(covered seconds), so the tail is billed by the deck's own
increments and the connect fee is not charged twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from .funding import Route
from .plans import PoolKey, whole_minutes

CREDITS = "communications_credits"
_CREDITS_AND_POSTPAID = f"{CREDITS}, postpaid"


class PoolDraw(NamedTuple):
    key: PoolKey
    minutes: int


class Split(NamedTuple):
    """The cost of one call: minutes drawn from pools, money to credits and to the statement.

    A named tuple rather than a frozen dataclass: one is made per charged record, and a frozen
    dataclass pays an `object.__setattr__` per field (as `RatedCall`, domain/rating/result.py)."""

    funding: str  # pool | credits | free | postpaid | mixed
    capability: str
    draws: tuple[PoolDraw, ...]
    covered_s: int
    charge: int
    credits: int
    postpaid: int

    @property
    def pool_minutes(self) -> int:
        return sum(d.minutes for d in self.draws) if self.draws else 0


FREE = Split("free", "free", (), 0, 0, 0, 0)
_new = tuple.__new__  # builds a named tuple without its Python-level __new__


def draw_pools(route: Route, duration_s: int, left: Mapping[PoolKey, int]) -> tuple[tuple[PoolDraw, ...], int]:
    """Minutes to draw from the route's pools, in order, and the seconds they cover."""
    needed = whole_minutes(duration_s)
    draws: list[PoolDraw] = []
    covered_minutes = 0
    for key in route.pools:
        if needed == 0:
            break
        take = min(needed, max(left.get(key, 0), 0))
        if take:
            draws.append(_new(PoolDraw, (key, take)))
            needed -= take
            covered_minutes += take
    return tuple(draws), min(duration_s, covered_minutes * 60)


def split_call(
    route: Route, duration_s: int, left: Mapping[PoolKey, int], price: Callable[[int], int],
    *, billing_mode: str, spendable: int,
) -> Split:
    """Split a charged call. `spendable` is what the tenant's lots still hold (used only for a
    tenant migrating to post-paid: credits first, the rest to the statement)."""
    if route.payer == "free":
        return FREE
    if route.pools:
        draws, covered = draw_pools(route, duration_s, left)
    else:  # what draw_pools finds for a route without pools
        draws, covered = (), min(duration_s, 0)
    charge = 0 if covered >= duration_s else price(duration_s) - (price(covered) if covered else 0)
    if billing_mode == "postpaid":
        credits, postpaid = 0, charge
    elif billing_mode == "migrating":
        credits = min(charge, max(spendable, 0))
        postpaid = charge - credits
    else:
        credits, postpaid = charge, 0
    if not draws:  # the payers below without the list: credits and/or the statement
        if credits or charge == 0:
            funding, capability = ("mixed", _CREDITS_AND_POSTPAID) if postpaid else ("credits", CREDITS)
        else:
            funding, capability = ("postpaid", "postpaid") if postpaid else ("credits", "")
        return _new(Split, (funding, capability, (), covered, charge, credits, postpaid))
    payers = [d.key.product for d in draws]
    if credits:
        payers.append(CREDITS)
    if postpaid:
        payers.append("postpaid")
    payers = list(dict.fromkeys(payers))
    funding = "mixed" if len(payers) > 1 else "pool"
    return _new(Split, (funding, ", ".join(payers), draws, covered, charge, credits, postpaid))
