"""The ledger invariants, each a small pure function over plain figures, used by
`commcredits audit`, the services' tests and the property tests.

Every function returns a list of human-readable violations (empty = holds).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PostingFact:
    transaction_id: int
    tenant_id: str
    txn_type: str
    created_at: datetime
    account: str
    lot_id: str | None
    amount: int


@dataclass(frozen=True, slots=True)
class LotFact:
    id: str
    tenant_id: str
    amount: int
    remaining: int
    expires_at: datetime


def postings_balance(postings: Iterable[PostingFact]) -> list[str]:
    """Each transaction's postings sum to zero."""
    sums: dict[int, int] = {}
    for p in postings:
        sums[p.transaction_id] = sums.get(p.transaction_id, 0) + p.amount
    return [f"transaction {t}: postings sum to {s}, not 0" for t, s in sorted(sums.items()) if s]


def lots_within_bounds(lots: Iterable[LotFact]) -> list[str]:
    """0 <= remaining <= amount for every lot."""
    return [
        f"lot {lot.id}: remaining {lot.remaining} outside [0, {lot.amount}]"
        for lot in lots if not 0 <= lot.remaining <= lot.amount
    ]


def lots_match_postings(lots: Iterable[LotFact], postings: Iterable[PostingFact]) -> list[str]:
    """A lot's remaining equals the sum of the postings to it."""
    sums: dict[str, int] = {}
    for p in postings:
        if p.lot_id is not None:
            sums[p.lot_id] = sums.get(p.lot_id, 0) + p.amount
    return [
        f"lot {lot.id}: remaining {lot.remaining} but its postings sum to {sums.get(lot.id, 0)}"
        for lot in lots if sums.get(lot.id, 0) != lot.remaining
    ]


def deficits_match_postings(
    deficits: Mapping[str, int], postings: Iterable[PostingFact]
) -> list[str]:
    """A tenant's deficit equals minus the sum of its deficit postings, and is never negative."""
    sums: dict[str, int] = {}
    for p in postings:
        if p.account == "deficit":
            sums[p.tenant_id] = sums.get(p.tenant_id, 0) + p.amount
    out = []
    for tenant_id, deficit in sorted(deficits.items()):
        if deficit < 0:
            out.append(f"tenant {tenant_id}: negative deficit {deficit}")
        if deficit != -sums.get(tenant_id, 0):
            out.append(
                f"tenant {tenant_id}: deficit {deficit} but deficit postings sum to {sums.get(tenant_id, 0)}"
            )
    return out


def no_use_after_expiry(lots: Iterable[LotFact], postings: Iterable[PostingFact]) -> list[str]:
    """After a lot's expiry instant the only posting to it is its expiry forfeit."""
    expiry = {lot.id: lot.expires_at for lot in lots}
    return [
        f"lot {p.lot_id}: {p.txn_type} transaction {p.transaction_id} posted at "
        f"{p.created_at.isoformat()}, after its expiry"
        for p in postings
        if p.lot_id is not None and p.txn_type != "expiry" and p.created_at >= expiry[p.lot_id]
    ]
