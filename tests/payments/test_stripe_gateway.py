"""The Stripe adapter against a local HTTP stand-in of Stripe's endpoints: requests carry our
attempt id as Idempotency-Key, declines map to our codes, outages raise GatewayUnavailable,
and the whole purchase and auto-recharge flow runs through it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from tests.payments.stripe_standin import StripeStandIn
from tests.payments.support import Shop, usd

from commcredits.config import Settings
from commcredits.payments.gateway import CardRejected, GatewayUnavailable
from commcredits.payments.stripe_gateway import StripeGateway, stripe_amount
from commcredits.services.clock import FixedClock
from commcredits.services.runtime import Runtime

# the SDK hands httpx its form body as raw bytes, which httpx 0.28 merely warns about
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


@pytest.fixture
def standin() -> Iterator[StripeStandIn]:
    server = StripeStandIn()
    yield server
    server.stop()


@pytest.fixture
def gateway(standin: StripeStandIn) -> StripeGateway:
    return StripeGateway("sk_test_standin", api_base=standin.url, timeout=5)


def test_a_saved_card_is_charged_once_per_idempotency_key(gateway: StripeGateway, standin: StripeStandIn) -> None:
    card = gateway.save_card(card_number="4242424242424242", exp_month=12, exp_year=2031, cvc="123")
    assert card.brand == "visa" and card.last4 == "4242" and (card.exp_month, card.exp_year) == (12, 2031)
    customer, pm = card.gateway_ref.split("/")
    assert customer.startswith("cus_") and pm.startswith("pm_")
    first = gateway.charge(card_ref=card.gateway_ref, amount_micros=usd("100.00"), currency="USD",
                           idempotency_key="attempt-1")
    again = gateway.charge(card_ref=card.gateway_ref, amount_micros=usd("100.00"), currency="USD",
                           idempotency_key="attempt-1")
    assert first.succeeded and first == again
    intents = [r for r in standin.requests if r.path == "/v1/payment_intents"]
    assert [r.headers["Idempotency-Key"] for r in intents] == ["attempt-1", "attempt-1"]
    assert intents[0].form["amount"] == "10000" and intents[0].form["currency"] == "usd"
    assert intents[0].form["off_session"] == "true" and intents[0].form["confirm"] == "true"
    assert intents[0].headers["Authorization"] == "Bearer sk_test_standin"
    assert standin.succeeded_total() == 10000  # one charge, not two


@pytest.mark.parametrize("number, code", [
    ("4000000000000002", "card_declined"), ("4000000000009995", "insufficient_funds"),
    ("4000000000009987", "lost_card"), ("4000000000009979", "stolen_card"),
    ("4000000000000069", "expired_card"), ("4000000000000127", "incorrect_cvc"),
    ("4000000000000119", "processing_error"), ("4000000000000001", "card_declined"),
])
def test_declines_map_to_our_codes(gateway: StripeGateway, number: str, code: str) -> None:
    card = gateway.save_card(card_number=number, exp_month=12, exp_year=2031, cvc="123")
    result = gateway.charge(card_ref=card.gateway_ref, amount_micros=usd("50.00"), currency="USD",
                            idempotency_key=f"k-{number}")
    assert not result.succeeded and result.error_code == code and result.charge_ref is None


def test_an_incorrect_number_is_refused_when_saving(gateway: StripeGateway) -> None:
    with pytest.raises(CardRejected) as refused:
        gateway.save_card(card_number="4242424242424241", exp_month=12, exp_year=2031, cvc="123")
    assert refused.value.code == "incorrect_number"


def test_an_outage_is_unknown_outcome_and_the_retry_finds_one_charge(gateway: StripeGateway,
                                                                     standin: StripeStandIn) -> None:
    card = gateway.save_card(card_number="4242424242424242", exp_month=12, exp_year=2031, cvc="123")
    standin.fail_with_500 = 1
    with pytest.raises(GatewayUnavailable):
        gateway.charge(card_ref=card.gateway_ref, amount_micros=usd("60.00"), currency="USD", idempotency_key="a")
    assert gateway.charge(card_ref=card.gateway_ref, amount_micros=usd("60.00"), currency="USD",
                          idempotency_key="a").succeeded
    unreachable = StripeGateway("sk_test_x", api_base="http://127.0.0.1:9", timeout=2)
    with pytest.raises(GatewayUnavailable):
        unreachable.charge(card_ref=card.gateway_ref, amount_micros=usd("60.00"), currency="USD", idempotency_key="b")


def test_update_and_remove_reach_the_payment_method(gateway: StripeGateway, standin: StripeStandIn) -> None:
    card = gateway.save_card(card_number="4242424242424242", exp_month=12, exp_year=2031, cvc="123")
    pm = card.gateway_ref.split("/")[1]
    gateway.update_card(card_ref=card.gateway_ref, exp_month=3, exp_year=2033)
    assert standin.payment_methods[pm]["card"]["exp_year"] == 2033
    gateway.remove_card(card_ref=card.gateway_ref)
    assert standin.requests[-1].path == f"/v1/payment_methods/{pm}/detach"


def test_amounts_in_stripe_units() -> None:
    assert stripe_amount(usd("12.34"), "USD") == 1234
    assert stripe_amount(5000 * 1_000_000, "JPY") == 5000
    assert stripe_amount(1_234_000, "KWD") == 1234
    with pytest.raises(ValueError):
        stripe_amount(1_234_500, "USD")


def test_the_service_runs_on_stripe(engine: Engine, clock: FixedClock, standin: StripeStandIn) -> None:
    settings = Settings(database_url=str(engine.url), sandbox=True, payment_gateway="stripe",
                        stripe_api_key="sk_test_standin", stripe_api_base=standin.url)
    rt = Runtime.from_settings(settings, engine=engine)
    rt.clock = clock
    assert isinstance(rt.gateway, StripeGateway)
    shop = Shop.__new__(Shop)  # a Shop without the sandbox-only parts
    shop.rt = rt
    from commcredits.services.access import tenants as tenant_svc
    from commcredits.services.access.principal import OPERATOR

    shop.tid = tenant_svc.create_tenant(rt, OPERATOR, name="T", country="US", currency="USD",
                                        billing_country="US").id
    status, body = shop.buy("60.00", pm=shop.card())
    assert status == 201 and body["receipt_id"]
    shop.settings(amount="100.00", trigger="50.00", pm=shop.card())
    shop.use("15.00")
    assert shop.attempts() == [(usd("100.00"), "succeeded", None)]
    assert standin.succeeded_total() == 16000
    keys = [r.headers["Idempotency-Key"] for r in standin.requests if r.path == "/v1/payment_intents"]
    with rt.engine.connect() as conn:
        attempt_id = conn.exec_driver_sql("SELECT id FROM payment_attempts WHERE kind = 'auto_recharge'").scalar_one()
    assert keys[1] == attempt_id
    declined = shop.card("4000000000009995")
    status, body = shop.buy("60.00", pm=declined)
    assert status == 402 and body["code"] == "insufficient_funds"
