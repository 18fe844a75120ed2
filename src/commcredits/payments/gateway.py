"""The payment gateway port: save a card, charge a saved card.

Two methods, both idempotent at the gateway: `charge` takes our payment attempt id as its
idempotency key, so asking again after a lost reply finds the first charge instead of making
a second. Implementations: `SandboxGateway` (Stripe's public test cards, no network) and,
with the payments work, a Stripe adapter.

Decline codes (API.md): `card_declined`, `insufficient_funds`, `expired_card`,
`incorrect_cvc`, `processing_error`. `HARD_DECLINES` suspend auto-recharge at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

DECLINE_CODES = ("card_declined", "insufficient_funds", "expired_card", "incorrect_cvc",
                 "processing_error", "incorrect_number", "lost_card", "stolen_card")
HARD_DECLINES = frozenset({"expired_card", "incorrect_number", "lost_card", "stolen_card"})


@dataclass(frozen=True, slots=True)
class SavedCard:
    gateway_ref: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True, slots=True)
class ChargeResult:
    succeeded: bool
    charge_ref: str | None = None
    error_code: str | None = None
    message: str = ""


class CardRejected(Exception):
    """The gateway refused to save a card; `code` is a decline code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class PaymentGateway(Protocol):
    name: str

    def save_card(self, *, card_number: str, exp_month: int, exp_year: int, cvc: str) -> SavedCard:
        """Hand the card to the gateway; raise CardRejected if it will not keep it."""
        ...

    def charge(
        self, *, card_ref: str, amount_micros: int, currency: str, idempotency_key: str
    ) -> ChargeResult:
        """Charge a saved card once per idempotency key."""
        ...
