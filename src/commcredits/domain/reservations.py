"""How much time a call in progress may have, and how much money that holds.

Time is granted in chunks (default 5 minutes, or what is left, whichever is less) that the
switch extends; a switch that cannot extend asks for everything affordable at once. The
money held for a grant is the price of the whole granted time, so concurrent calls share
the tenant's available balance: available = balance - everything held. Settlement charges
the real duration and releases the hold; a call can overshoot its last grant by at most the
time between the switch's cut-off and the end of the billing increment in progress.
Pure: the service supplies the price function and `max_seconds_for`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Grant:
    seconds: int  # total seconds granted from the call's start
    hold: int  # micros held for them


def next_grant(
    *, granted_s: int, held: int, available: int, chunk_s: int, full: bool, limit_s: int,
    longest: Callable[[int, int], int | None], price: Callable[[int], int],
) -> Grant | None:
    """The grant after one more request: None when not one more second is affordable.

    `longest(budget, upto)` is the longest duration up to `upto` whose price fits in
    `budget` (None when the call costs nothing at any length); the budget is what this call
    already holds plus the tenant's available balance. A chunked grant looks only as far
    as the next chunk; `full` looks as far as `limit_s`.
    """
    budget = held + max(available, 0)
    upto = limit_s if full else min(granted_s + chunk_s, limit_s)
    found = longest(budget, upto)
    if found is None:
        return Grant(0, 0)  # free at any length: nothing to hold, nothing limits it
    target = min(found, upto)
    if target <= granted_s:
        return None
    return Grant(target, price(target))
