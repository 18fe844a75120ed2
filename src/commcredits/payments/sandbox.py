"""The sandbox gateway: Stripe's public test card numbers and their outcomes, no network.

The saved card's reference encodes only the behaviour of the test card, never its number.
Charges are remembered by idempotency key, so a repeated key returns the first result, as a
real gateway does (and, like Stripe, the same key with another amount is refused).

Fault injection, for tests of what a real network does to us (`inject`):
- `timeout`: the call raises GatewayUnavailable and nothing is charged;
- `lose_reply`: the charge is made and remembered, then GatewayUnavailable is raised, as if
  the reply were lost on the way back.
Faults apply to the next `times` charges (None: until `clear_faults`). `charged_total` and
`charges` tell tests what the gateway actually took.

A stored card is good through the last day of its expiry month: from the first instant of
the next month (UTC) on the service's clock (`now`, handed in by the runtime), a charge is
declined `expired_card`, a hard decline, as a real gateway does. The expiry travels in the
card's reference; `update_card` records a new one (kept in memory: the sandbox forgets it
on restart, the card then declines as expired until it is updated again).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from .gateway import CardRejected, ChargeResult, GatewayUnavailable, SavedCard

# card number -> (behaviour when saving, behaviour when charging)
TEST_CARDS: dict[str, tuple[str | None, str | None]] = {
    "4242424242424242": (None, None),
    "5555555555554444": (None, None),
    "4000000000000002": (None, "card_declined"),
    "4000000000009995": (None, "insufficient_funds"),
    "4000000000000069": (None, "expired_card"),
    "4000000000000127": (None, "incorrect_cvc"),
    "4000000000000119": (None, "processing_error"),
    "4000000000009987": (None, "lost_card"),
    "4000000000009979": (None, "stolen_card"),
    "4000000000000341": (None, "card_declined"),  # attaches, but every charge fails
}
FAULTS = ("timeout", "lose_reply")


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


@dataclass(frozen=True, slots=True)
class SandboxCharge:
    idempotency_key: str
    card_ref: str
    amount_micros: int
    currency: str
    result: ChargeResult


class SandboxGateway:
    name = "sandbox"

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self._expiry: dict[str, tuple[int, int]] = {}  # card ref -> (year, month) after update_card
        self._charges: dict[str, SandboxCharge] = {}
        self._lock = threading.Lock()
        self._fault: str | None = None
        self._fault_times: int | None = None
        self.calls = 0

    # -- fault injection -------------------------------------------------------------------

    def inject(self, fault: str, times: int | None = 1) -> None:
        """Make the next `times` charge calls fail with `fault` (None: until cleared)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; use one of {', '.join(FAULTS)}")
        with self._lock:
            self._fault, self._fault_times = fault, times

    def clear_faults(self) -> None:
        with self._lock:
            self._fault, self._fault_times = None, None

    def _take_fault(self) -> str | None:
        fault = self._fault
        if fault is not None and self._fault_times is not None:
            self._fault_times -= 1
            if self._fault_times <= 0:
                self._fault, self._fault_times = None, None
        return fault

    # -- what tests read -------------------------------------------------------------------

    @property
    def charges(self) -> list[SandboxCharge]:
        with self._lock:
            return list(self._charges.values())

    def charged_total(self) -> int:
        """Micros actually taken from cards (successful charges)."""
        return sum(c.amount_micros for c in self.charges if c.result.succeeded)

    # -- the port --------------------------------------------------------------------------

    def save_card(self, *, card_number: str, exp_month: int, exp_year: int, cvc: str) -> SavedCard:
        number = card_number.replace(" ", "").replace("-", "")
        if not number.isdigit() or not 12 <= len(number) <= 19 or not luhn_ok(number):
            raise CardRejected("incorrect_number", "the card number is not valid")
        if not (cvc.isdigit() and len(cvc) in (3, 4)):
            raise CardRejected("incorrect_cvc", "the card's security code is not valid")
        behaviour = TEST_CARDS.get(number, (None, None))[1] or "ok"
        ref = f"pm_sandbox_{behaviour}_{exp_year:04d}{exp_month:02d}_{secrets.token_hex(6)}"
        return SavedCard(ref, brand_of(number), number[-4:], exp_month, exp_year)

    def update_card(self, *, card_ref: str, exp_month: int, exp_year: int) -> None:
        if not card_ref.startswith("pm_sandbox_"):
            raise CardRejected("incorrect_number", "the sandbox does not know this card")
        with self._lock:
            self._expiry[card_ref] = (exp_year, exp_month)

    def remove_card(self, *, card_ref: str) -> None:
        return None

    def charge(
        self, *, card_ref: str, amount_micros: int, currency: str, idempotency_key: str
    ) -> ChargeResult:
        with self._lock:
            self.calls += 1
            seen = self._charges.get(idempotency_key)
            if seen is not None:
                if (seen.amount_micros, seen.currency, seen.card_ref) != (amount_micros, currency, card_ref):
                    raise ValueError(f"idempotency key {idempotency_key} reused with other parameters")
                return seen.result
            fault = self._take_fault()
            if fault == "timeout":
                raise GatewayUnavailable("the sandbox gateway timed out (injected fault)")
            behaviour = _behaviour(card_ref)
            if self._expired(card_ref):
                behaviour = "expired_card"
            if behaviour == "ok":
                result = ChargeResult(True, charge_ref=f"ch_sandbox_{secrets.token_hex(8)}")
            else:
                result = ChargeResult(False, error_code=behaviour, message=_MESSAGES[behaviour])
            self._charges[idempotency_key] = SandboxCharge(idempotency_key, card_ref, amount_micros,
                                                           currency, result)
            if fault == "lose_reply":
                raise GatewayUnavailable("the sandbox gateway's reply was lost (injected fault)")
            return result


    def _expired(self, card_ref: str) -> bool:
        expiry = self._expiry.get(card_ref) or _ref_expiry(card_ref)
        if expiry is None:
            return False
        year, month = expiry
        first_invalid = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        return self.now() >= first_invalid


def _behaviour(card_ref: str) -> str:
    """'pm_sandbox_<behaviour>[_<yyyymm>]_<hex>' -> behaviour (references saved before the
    expiry was encoded have no yyyymm part)."""
    parts = card_ref.removeprefix("pm_sandbox_").rsplit("_", 2)
    if len(parts) == 3 and len(parts[1]) == 6 and parts[1].isdigit():
        return parts[0]
    return card_ref.removeprefix("pm_sandbox_").rsplit("_", 1)[0]


def _ref_expiry(card_ref: str) -> tuple[int, int] | None:
    parts = card_ref.removeprefix("pm_sandbox_").rsplit("_", 2)
    if len(parts) == 3 and len(parts[1]) == 6 and parts[1].isdigit():
        year, month = int(parts[1][:4]), int(parts[1][4:])
        return (year, month) if 1 <= month <= 12 else None
    return None


_MESSAGES = {
    "card_declined": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "processing_error": "An error occurred while processing your card. Try again later.",
    "lost_card": "Your card was declined (reported lost).",
    "stolen_card": "Your card was declined (reported stolen).",
}
