"""Rules for buying credit: limits and restrictions (DOMAIN.md "Money", "Purchase
restrictions"). Pure: the service passes in the facts and acts on the answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .money import MICROS, Money
from .regions import same_region

DEFAULT_MINIMUM = 50 * MICROS
DEFAULT_MAXIMUM = 100_000 * MICROS


LIMIT_CEILING = 10**12 * MICROS  # no per-purchase maximum above a trillion units
SEEDS: dict[str, tuple[int, int]] = {  # DOMAIN.md "Purchase limits per currency"
    "JPY": (5_000 * MICROS, 10_000_000 * MICROS),
    "KRW": (5_000 * MICROS, 10_000_000 * MICROS),
}


@dataclass(frozen=True, slots=True)
class PurchaseLimits:
    minimum: int = DEFAULT_MINIMUM
    maximum: int = DEFAULT_MAXIMUM

    def __post_init__(self) -> None:
        if not 0 < self.minimum <= self.maximum <= LIMIT_CEILING:
            raise ValueError("the minimum must be positive and at most the maximum")


def seed_limits(currency: str) -> PurchaseLimits:
    """The seeded limits of a currency: 5,000 / 10,000,000 for JPY and KRW, else 50 / 100,000
    in the currency's major unit (operators override them per currency)."""
    minimum, maximum = SEEDS.get(currency.upper(), (DEFAULT_MINIMUM, DEFAULT_MAXIMUM))
    return PurchaseLimits(minimum, maximum)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a tenant may not buy credit, and the way out."""

    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class LimitBreach:
    """An amount outside the purchase limits: which side (`code`, the API's) and the words."""

    code: Literal["below_minimum", "above_maximum"]
    detail: str


def limit_breach(amount: int, currency: str, limits: PurchaseLimits) -> LimitBreach | None:
    """The side of the purchase limits `amount` falls outside, or None when it is fine."""
    if amount < limits.minimum:
        return LimitBreach("below_minimum", f"the minimum purchase is {Money(limits.minimum, currency)} {currency}")
    if amount > limits.maximum:
        return LimitBreach("above_maximum", f"the maximum purchase is {Money(limits.maximum, currency)} {currency}")
    return None


def limit_violation(amount: int, currency: str, limits: PurchaseLimits) -> str | None:
    """`limit_breach` as one 'code:detail' line (for logs and older callers)."""
    breach = limit_breach(amount, currency, limits)
    return None if breach is None else f"{breach.code}:{breach.detail}"


@dataclass(frozen=True, slots=True)
class TenantFacts:
    country: str
    billing_country: str
    billing_mode: str
    purchase_mitigation: bool
    partner_funded: bool


def purchase_refusal(facts: TenantFacts, blocked_countries: frozenset[str]) -> Refusal | None:
    """The first restriction that stops a purchase, or None."""
    if facts.billing_mode != "prepaid":
        return Refusal(
            "postpaid",
            f"the tenant is {facts.billing_mode}: usage is billed on the monthly statement, "
            "so no credits are needed",
        )
    if facts.partner_funded:
        return Refusal(
            "partner_funded",
            "the tenant's plans are resold by a partner who funds them: ask the partner to add funds",
        )
    if facts.country in blocked_countries:
        return Refusal(
            "country_blocked",
            f"Communications Credits cannot be bought for tenants in {facts.country}",
        )
    if not facts.purchase_mitigation and not same_region(facts.country, facts.billing_country):
        return Refusal(
            "region_mismatch",
            f"the tenant's country ({facts.country}) and billing address ({facts.billing_country}) "
            "are in different regions: open a support incident so the provider can record a "
            "mitigation and lift this restriction",
        )
    return None
