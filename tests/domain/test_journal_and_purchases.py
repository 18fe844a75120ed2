from __future__ import annotations

import pytest

from commcredits.domain.journal import Entry, Posting, expiry_entry, funding_entry, usage_entry
from commcredits.domain.purchases import (
    PurchaseLimits,
    TenantFacts,
    limit_violation,
    purchase_refusal,
)

BLOCKED = frozenset({"RU", "KR", "TW"})


def test_funding_pays_the_deficit_first() -> None:
    entry = funding_entry("purchase", source="gateway", lot_id="L", amount=100, deficit=20)
    assert sum(p.amount for p in entry.postings) == 0
    assert entry.balance_change == 100
    lot_total = sum(p.amount for p in entry.postings if p.lot_id == "L")
    assert lot_total == 80


def test_usage_draws_lots_then_deficit() -> None:
    entry = usage_entry([("A", 30), ("B", 10)], 5)
    assert entry.balance_change == -45
    assert Posting("deficit", -5) in entry.postings
    assert Posting("revenue", 45) in entry.postings


def test_expiry_forfeits_to_breakage() -> None:
    entry = expiry_entry("A", 7)
    assert entry.balance_change == -7
    assert Posting("breakage", 7) in entry.postings


def test_unbalanced_entries_are_refused() -> None:
    with pytest.raises(ValueError, match="sum to zero"):
        Entry("adjustment", (Posting("adjustments", 5), Posting("deficit", -4)))
    with pytest.raises(ValueError):
        Posting("lot", 5)


def test_limits() -> None:
    limits = PurchaseLimits()
    assert limit_violation(50_000_000, "USD", limits) is None
    assert (limit_violation(49_990_000, "USD", limits) or "").startswith("below_minimum:")
    assert (limit_violation(100_000_010_000, "USD", limits) or "").startswith("above_maximum:")


def facts(**kw: object) -> TenantFacts:
    base = dict(country="US", billing_country="US", billing_mode="prepaid",
                purchase_mitigation=False, partner_funded=False)
    base.update(kw)
    return TenantFacts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({}, None),
        ({"billing_mode": "postpaid"}, "postpaid"),
        ({"billing_mode": "migrating"}, "postpaid"),
        ({"partner_funded": True}, "partner_funded"),
        ({"country": "RU", "billing_country": "RU"}, "country_blocked"),
        ({"country": "US", "billing_country": "DE"}, "region_mismatch"),
        ({"country": "US", "billing_country": "DE", "purchase_mitigation": True}, None),
        ({"country": "US", "billing_country": "CA"}, None),
        ({"country": "FR", "billing_country": "ZA"}, None),
    ],
)
def test_purchase_restrictions(kw: dict[str, object], reason: str | None) -> None:
    refusal = purchase_refusal(facts(**kw), BLOCKED)
    assert (refusal.reason if refusal else None) == reason
