"""The double-entry journal: every change of money is a transaction whose postings sum to zero.

Accounts, from the ledger's point of view:

- ``lot`` (one per lot, `lot_id` set): what the tenant still holds in that lot. Its postings
  sum to the lot's `remaining`.
- ``deficit``: the tenant's shortfall, zero or negative; its postings sum to -deficit.
- ``gateway``: money received from card charges (purchase, auto_recharge).
- ``grants``: credit the operator gives away (goodwill, promotions).
- ``revenue``: usage charged to the tenant.
- ``breakage``: credit forfeited at expiry.
- ``adjustments``: manual corrections and refunds.

The tenant's balance is the sum over its ``lot`` and ``deficit`` accounts, so a transaction's
effect on the balance (`Entry.balance_change`) is the sum of its tenant-side postings. The
journal is append-only: a correction is a new transaction, never an edit.
"""

from __future__ import annotations

from dataclasses import dataclass

TRANSACTION_TYPES = ("purchase", "auto_recharge", "grant", "usage", "expiry", "refund", "adjustment")
TENANT_ACCOUNTS = frozenset({"lot", "deficit"})
ACCOUNTS = TENANT_ACCOUNTS | {"gateway", "grants", "revenue", "breakage", "adjustments"}


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    amount: int
    lot_id: str | None = None

    def __post_init__(self) -> None:
        if self.account not in ACCOUNTS:
            raise ValueError(f"unknown account {self.account!r}")
        if (self.account == "lot") != (self.lot_id is not None):
            raise ValueError("exactly the lot account names a lot")


@dataclass(frozen=True, slots=True)
class Entry:
    """A journal transaction before it is stored."""

    type: str
    postings: tuple[Posting, ...]
    reference: str = ""

    def __post_init__(self) -> None:
        if self.type not in TRANSACTION_TYPES:
            raise ValueError(f"unknown transaction type {self.type!r}")
        if not is_balanced(self.postings):
            raise ValueError(f"{self.type} postings do not sum to zero")

    @property
    def balance_change(self) -> int:
        return sum(p.amount for p in self.postings if p.account in TENANT_ACCOUNTS)


def is_balanced(postings: tuple[Posting, ...] | list[Posting]) -> bool:
    """The first ledger invariant: a transaction's postings sum to zero."""
    return sum(p.amount for p in postings) == 0


def funding_entry(
    type_: str, *, source: str, lot_id: str, amount: int, deficit: int, reference: str = ""
) -> Entry:
    """Credit a new lot with `amount` from `source`; pay off the deficit from it first."""
    pay_off = min(deficit, amount)
    postings = [Posting(source, -amount), Posting("lot", amount, lot_id)]
    if pay_off:
        postings += [Posting("lot", -pay_off, lot_id), Posting("deficit", pay_off)]
    return Entry(type_, tuple(postings), reference)


def usage_entry(takes: list[tuple[str, int]], shortfall: int, *, reference: str = "") -> Entry:
    """Charge usage: draw the planned lots, put what they could not cover into the deficit."""
    total = sum(t for _, t in takes) + shortfall
    postings = [Posting("lot", -take, lot_id) for lot_id, take in takes if take]
    if shortfall:
        postings.append(Posting("deficit", -shortfall))
    postings.append(Posting("revenue", total))
    return Entry("usage", tuple(postings), reference)


def expiry_entry(lot_id: str, remaining: int, *, reference: str = "") -> Entry:
    """Forfeit what an expired lot still held."""
    return Entry(
        "expiry", (Posting("lot", -remaining, lot_id), Posting("breakage", remaining)), reference
    )
