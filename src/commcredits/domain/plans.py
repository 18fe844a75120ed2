"""Subscriptions, licenses and minute pools (DOMAIN.md "Subscriptions and minute pools").

A calling-plan pool is per tenant, month, country (the usage location of the users holding
the plan's license), product and kind (`domestic`, `international`); its size is the number
of those users times the plan's minutes for that country. The conferencing dial-out pool is
tenant-wide: subscription quantity x minutes. Minutes are operator data (`Allowances`,
stored in the database); the defaults below only seed it. Pools count whole minutes: each
call rounds up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

PRODUCTS: tuple[str, ...] = (
    "communications_credits", "domestic_calling_plan", "international_calling_plan",
    "pay_as_you_go_calling_plan", "audio_conferencing", "audio_conferencing_pay_per_minute",
)
UNLIMITED_LICENSES = frozenset({"communications_credits"})
CALLING_PLANS: dict[str, tuple[str, ...]] = {
    "domestic_calling_plan": ("domestic",),
    "international_calling_plan": ("domestic", "international"),
}
CONFERENCING = "audio_conferencing"
DIAL_OUT = "dial_out"
ANY_COUNTRY = "*"

ZONE_A = frozenset(
    "AU AT BE BR BG CA CN HR CZ DK EE FI FR DE GR HK HU IN IE IT JP LU MY MX NL NZ NO PL PT "
    "PR RO RU SG SK SI ZA KR ES SE CH TW TH GB US".split()
)

# (product, kind, country) -> minutes per license per month; "*" = every other country
DEFAULT_ALLOWANCES: dict[tuple[str, str, str], int] = {
    **{(plan, "domestic", c): 3000 for plan in CALLING_PLANS for c in ("US", "PR", "CA", "GB")},
    **{(plan, "domestic", ANY_COUNTRY): 1200 for plan in CALLING_PLANS},
    ("international_calling_plan", "international", ANY_COUNTRY): 600,
    (CONFERENCING, DIAL_OUT, ANY_COUNTRY): 60,
}


class PoolKey(NamedTuple):
    """A minute pool. A named tuple rather than a frozen dataclass: charging a record looks
    its pools up in several dicts, and a frozen dataclass hashes and compares in Python
    (generated `__hash__`/`__eq__`), a tuple in C."""

    product: str
    kind: str
    country: str  # "*" for the tenant-wide conferencing pool

    def __str__(self) -> str:
        return f"{self.product}/{self.kind}/{self.country}"


class Allowances:
    """Minutes per license per month, with a per-product '*' fallback country."""

    def __init__(self, table: Mapping[tuple[str, str, str], int]) -> None:
        self._table = dict(table)

    def minutes(self, product: str, kind: str, country: str) -> int:
        exact = self._table.get((product, kind, country))
        return exact if exact is not None else self._table.get((product, kind, ANY_COUNTRY), 0)


def pool_sizes(
    holders: Iterable[tuple[str, Iterable[str]]], subscriptions: Mapping[str, int],
    allowances: Allowances,
) -> dict[PoolKey, int]:
    """Pool sizes in minutes from (usage location, licenses) of each user and the
    tenant's subscription quantities."""
    sizes: dict[PoolKey, int] = {}
    for location, licenses in holders:
        for product in licenses:
            for kind in CALLING_PLANS.get(product, ()):
                key = PoolKey(product, kind, location)
                sizes[key] = sizes.get(key, 0) + allowances.minutes(product, kind, location)
    quantity = subscriptions.get(CONFERENCING, 0)
    if quantity:
        key = PoolKey(CONFERENCING, DIAL_OUT, ANY_COUNTRY)
        sizes[key] = quantity * allowances.minutes(CONFERENCING, DIAL_OUT, ANY_COUNTRY)
    return sizes


def whole_minutes(seconds: int) -> int:
    """Pool usage of a call: its duration in minutes, rounded up."""
    return -(-seconds // 60)


def license_overflow(product: str, assigned: int, quantity: int) -> bool:
    """Whether `assigned` licenses of `product` exceed what the tenant subscribed to."""
    return product not in UNLIMITED_LICENSES and assigned > quantity


def threshold_crossed(size: int, before: int, after: int) -> tuple[int, ...]:
    """Which of the 80% and 100% marks a pool passed when its use went from before to after."""
    if size <= 0:
        return ()
    return tuple(p for p in (80, 100) if before * 100 < p * size <= after * 100)
