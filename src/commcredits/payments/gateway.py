"""The payment gateway port: save, update and remove a card; charge a saved card.

`charge` takes our payment attempt id as its idempotency key, so asking again after a lost
reply finds the first charge instead of making a second. Implementations: `SandboxGateway`
(Stripe's public test cards, no network, fault injection for tests) and `StripeGateway`
(the official SDK, PaymentIntents confirmed off-session).

A decline is a `ChargeResult` with a code; an answer that never came (timeout, connection
lost, gateway 5xx) is `GatewayUnavailable`: the charge may or may not have happened, so the
attempt stays pending and is asked again later with the same key.

Decline codes (API.md): `card_declined`, `insufficient_funds`, `expired_card`,
`incorrect_cvc`, `processing_error`, `incorrect_number`, `lost_card`, `stolen_card`.
Which of them suspend auto-recharge at once is decided in `domain/recharge.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..domain.recharge import HARD_DECLINES as _HARD_DECLINES

DECLINE_CODES = ("card_declined", "insufficient_funds", "expired_card", "incorrect_cvc",
                 "processing_error", "incorrect_number", "lost_card", "stolen_card")
HARD_DECLINES = _HARD_DECLINES


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


class GatewayUnavailable(Exception):
    """No answer from the gateway (timeout, lost connection, server error): the outcome is
    unknown, so the caller keeps its attempt pending and asks again with the same key."""


class PaymentGateway(Protocol):
    name: str

    def save_card(self, *, card_number: str, exp_month: int, exp_year: int, cvc: str) -> SavedCard:
        """Hand the card to the gateway; raise CardRejected if it will not keep it."""
        ...

    def charge(
        self, *, card_ref: str, amount_micros: int, currency: str, idempotency_key: str
    ) -> ChargeResult:
        """Charge a saved card once per idempotency key; raise GatewayUnavailable when no
        answer came."""
        ...

    def update_card(self, *, card_ref: str, exp_month: int, exp_year: int) -> None:
        """Record a new expiry for a saved card; raise CardRejected if refused."""
        ...

    def remove_card(self, *, card_ref: str) -> None:
        """Forget a saved card at the gateway."""
        ...
