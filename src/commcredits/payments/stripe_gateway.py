"""The Stripe adapter, on the official `stripe` SDK (`StripeClient`, API v1).

- Saving a card creates a PaymentMethod from the card details and a Customer it is attached
  to (off-session charges need both); our `gateway_ref` is "customer id/payment method id".
- A charge is one PaymentIntent created with `confirm=true, off_session=true` and our
  attempt id as `Idempotency-Key`: asking again with the same key returns Stripe's first
  answer (success or the same decline), so a lost reply can never charge twice.
- Card errors map to our decline codes: the `decline_code` when it is one of ours
  (insufficient_funds, lost_card, stolen_card, ...), else the error `code` (expired_card,
  incorrect_cvc, incorrect_number, processing_error), else `card_declined`. A PaymentIntent
  that needs the customer back on-session (3-D Secure) is `card_declined` too.
- No answer (connection failure, timeout, 5xx, rate limit) raises GatewayUnavailable.
- Amounts: micros become Stripe's smallest unit (zero-decimal currencies as Stripe lists
  them; three-decimal ones in thousandths); an amount that does not fit exactly is refused.

`api_base` points the SDK elsewhere: the tests run it against a local HTTP stand-in.
"""

from __future__ import annotations

from typing import Any

import stripe

from .gateway import DECLINE_CODES, CardRejected, ChargeResult, GatewayUnavailable, SavedCard

STRIPE_ZERO_DECIMAL = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()
)
STRIPE_THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())


def stripe_amount(micros: int, currency: str) -> int:
    """Micros in the currency's smallest unit as Stripe counts it; exact or ValueError."""
    exponent = 0 if currency in STRIPE_ZERO_DECIMAL else 3 if currency in STRIPE_THREE_DECIMAL else 2
    unit: int = 10 ** (6 - exponent)
    if micros <= 0 or micros % unit:
        raise ValueError(f"{micros} micros of {currency} is not a whole amount Stripe can charge")
    return micros // unit


def decline_code(error: Any) -> str:
    """Our decline code for a Stripe error object (or dict)."""
    def get(key: str) -> Any:
        return error.get(key) if isinstance(error, dict) else getattr(error, key, None)

    for candidate in (get("decline_code"), get("code")):
        if candidate in DECLINE_CODES:
            return str(candidate)
    return "card_declined"


class StripeGateway:
    name = "stripe"

    def __init__(self, api_key: str, *, api_base: str | None = None, timeout: float = 30.0,
                 max_network_retries: int = 0) -> None:
        if not api_key:
            raise ValueError("the Stripe gateway needs STRIPE_API_KEY")
        http = stripe.HTTPXClient(timeout=timeout, allow_sync_methods=True)
        self._client = stripe.StripeClient(
            api_key, base_addresses={"api": api_base} if api_base else None,
            http_client=http, max_network_retries=max_network_retries,
        )

    def save_card(self, *, card_number: str, exp_month: int, exp_year: int, cvc: str) -> SavedCard:
        params: Any = {"type": "card", "card": {"number": card_number, "exp_month": exp_month,
                                                "exp_year": exp_year, "cvc": cvc}}
        pm = self._call(self._client.v1.payment_methods.create, params)
        customer = self._call(self._client.v1.customers.create, {"payment_method": pm.id})
        card = pm.card
        return SavedCard(f"{customer.id}/{pm.id}", str(card.brand), str(card.last4),
                         int(card.exp_month), int(card.exp_year))

    def update_card(self, *, card_ref: str, exp_month: int, exp_year: int) -> None:
        _, pm_id = _split(card_ref)
        params: Any = {"card": {"exp_month": exp_month, "exp_year": exp_year}}
        self._call(lambda p: self._client.v1.payment_methods.update(pm_id, p), params)

    def remove_card(self, *, card_ref: str) -> None:
        _, pm_id = _split(card_ref)
        self._call(lambda _: self._client.v1.payment_methods.detach(pm_id), None)

    def charge(
        self, *, card_ref: str, amount_micros: int, currency: str, idempotency_key: str
    ) -> ChargeResult:
        customer, pm_id = _split(card_ref)
        params: Any = {
            "amount": stripe_amount(amount_micros, currency), "currency": currency.lower(),
            "customer": customer, "payment_method": pm_id, "confirm": True, "off_session": True,
            "metadata": {"commcredits_attempt": idempotency_key},
        }
        try:
            intent = self._client.v1.payment_intents.create(params, {"idempotency_key": idempotency_key})
        except stripe.CardError as exc:
            return ChargeResult(False, error_code=decline_code(exc.error), message=exc.user_message or "")
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as exc:
            raise GatewayUnavailable(f"Stripe did not answer: {exc.user_message or exc}") from exc
        if intent.status == "succeeded":
            return ChargeResult(True, charge_ref=intent.id)
        if intent.status == "processing":
            raise GatewayUnavailable(f"Stripe is still processing {intent.id}")
        error = intent.last_payment_error
        code = decline_code(error) if error else "card_declined"
        message = (getattr(error, "message", None) if error else None) or f"payment {intent.status}"
        return ChargeResult(False, charge_ref=intent.id, error_code=code, message=message)

    @staticmethod
    def _call(fn: Any, params: Any) -> Any:
        try:
            return fn(params)
        except stripe.CardError as exc:
            raise CardRejected(decline_code(exc.error), exc.user_message or "the card was refused") from exc
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as exc:
            raise GatewayUnavailable(f"Stripe did not answer: {exc.user_message or exc}") from exc


def _split(card_ref: str) -> tuple[str, str]:
    customer, _, pm_id = card_ref.partition("/")
    if not pm_id:
        raise ValueError(f"{card_ref!r} is not a Stripe card reference (customer/payment method)")
    return customer, pm_id
