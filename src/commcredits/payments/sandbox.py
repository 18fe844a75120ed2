"""The sandbox gateway: Stripe's public test card numbers and their outcomes, no network.

The saved card's reference encodes only the behaviour of the test card, never its number.
Charges are remembered by idempotency key, so a repeated key returns the first result, as a
real gateway does.
"""

from __future__ import annotations

import secrets
import threading

from .gateway import CardRejected, ChargeResult, SavedCard

# card number -> (behaviour when saving, behaviour when charging)
TEST_CARDS: dict[str, tuple[str | None, str | None]] = {
    "4242424242424242": (None, None),
    "5555555555554444": (None, None),
    "4000000000000002": (None, "card_declined"),
    "4000000000009995": (None, "insufficient_funds"),
    "4000000000000069": (None, "expired_card"),
    "4000000000000127": (None, "incorrect_cvc"),
    "4000000000000119": (None, "processing_error"),
    "4000000000000341": (None, "card_declined"),
}


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number]
    odd, even = digits[-1::-2], digits[-2::-2]
    return (sum(odd) + sum(sum(divmod(2 * d, 10)) for d in even)) % 10 == 0


def brand_of(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    return "unknown"


class SandboxGateway:
    name = "sandbox"

    def __init__(self) -> None:
        self._charges: dict[str, ChargeResult] = {}
        self._lock = threading.Lock()

    def save_card(self, *, card_number: str, exp_month: int, exp_year: int, cvc: str) -> SavedCard:
        number = card_number.replace(" ", "").replace("-", "")
        if not number.isdigit() or not 12 <= len(number) <= 19 or not luhn_ok(number):
            raise CardRejected("incorrect_number", "the card number is not valid")
        if not (cvc.isdigit() and len(cvc) in (3, 4)):
            raise CardRejected("incorrect_cvc", "the card's security code is not valid")
        behaviour = TEST_CARDS.get(number, (None, None))[1] or "ok"
        ref = f"pm_sandbox_{behaviour}_{secrets.token_hex(6)}"
        return SavedCard(ref, brand_of(number), number[-4:], exp_month, exp_year)

    def charge(
        self, *, card_ref: str, amount_micros: int, currency: str, idempotency_key: str
    ) -> ChargeResult:
        with self._lock:
            if idempotency_key in self._charges:
                return self._charges[idempotency_key]
            behaviour = card_ref.removeprefix("pm_sandbox_").rsplit("_", 1)[0]
            if behaviour == "ok":
                result = ChargeResult(True, charge_ref=f"ch_sandbox_{secrets.token_hex(8)}")
            else:
                result = ChargeResult(False, error_code=behaviour, message=_MESSAGES[behaviour])
            self._charges[idempotency_key] = result
            return result


_MESSAGES = {
    "card_declined": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "processing_error": "An error occurred while processing your card. Try again later.",
}
