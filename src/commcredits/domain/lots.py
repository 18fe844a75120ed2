"""Credit lots: what a tenant's balance is made of.

A lot is one purchase, auto-recharge, grant or re-rating refund. It expires 12 calendar months after purchase
(the same instant of day; a day that does not exist in the target month falls back to that
month's last day: 29 Feb -> 28 Feb). Usage draws first-to-expire first, ties broken by the
older purchase, then the lot id so the order is total. A lot is unusable from the instant it
expires, sweep or no sweep. Everything here is pure: `now` is always a parameter.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

SOURCES = ("purchase", "auto_recharge", "grant", "refund")


def add_months(instant: datetime, months: int) -> datetime:
    """The same instant `months` calendar months later, clamped to the month's last day."""
    index = instant.month - 1 + months
    year, month = instant.year + index // 12, index % 12 + 1
    day = min(instant.day, calendar.monthrange(year, month)[1])
    return instant.replace(year=year, month=month, day=day)


def expiry_for(purchased_at: datetime) -> datetime:
    """When a purchased lot expires: 12 calendar months after purchase."""
    return add_months(purchased_at, 12)


@dataclass(frozen=True, slots=True)
class Lot:
    id: str
    source: str
    amount: int
    remaining: int
    purchased_at: datetime
    expires_at: datetime

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown lot source {self.source!r}")
        if self.amount <= 0:
            raise ValueError("a lot's amount must be positive")
        if not 0 <= self.remaining <= self.amount:
            raise ValueError("a lot's remaining must lie between 0 and its amount")
        if self.expires_at <= self.purchased_at:
            raise ValueError("a lot must expire after it was bought")

    def usable_at(self, now: datetime) -> bool:
        return self.remaining > 0 and now < self.expires_at


def draw_order(lots: Iterable[Lot]) -> list[Lot]:
    """Lots in the order usage draws them: first to expire, then oldest, then id."""
    return sorted(lots, key=lambda lot: (lot.expires_at, lot.purchased_at, lot.id))


def usable_total(lots: Iterable[Lot], now: datetime) -> int:
    """What remains in the lots still usable at `now`."""
    return sum(lot.remaining for lot in lots if lot.usable_at(now))


def plan_draw(lots: Iterable[Lot], amount: int, now: datetime) -> tuple[list[tuple[str, int]], int]:
    """Split a charge of `amount` micros over the usable lots, first-to-expire first.

    Returns the (lot id, micros taken) pairs and the shortfall no lot could cover (which
    becomes a deficit: usage is never dropped because money is short).
    """
    if amount < 0:
        raise ValueError("cannot draw a negative amount")
    takes: list[tuple[str, int]] = []
    left = amount
    for lot in draw_order(lot for lot in lots if lot.usable_at(now)):
        if left == 0:
            break
        take = min(lot.remaining, left)
        takes.append((lot.id, take))
        left -= take
    return takes, left


def balance(lots: Iterable[Lot], deficit: int, now: datetime) -> int:
    """Balance = what remains in unexpired lots minus any deficit."""
    if deficit < 0:
        raise ValueError("a deficit is never negative")
    return usable_total(lots, now) - deficit
