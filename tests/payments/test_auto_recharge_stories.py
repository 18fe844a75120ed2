"""The auto-recharge stories of issue 6, each a test, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from tests.as_json import funds
from tests.payments.support import DECLINE, EXPIRED, GOOD, Shop, usd

from commcredits.db.payments import Attempt
from commcredits.db.schema import payment_attempts
from commcredits.errors import PaymentFailed
from commcredits.services import jobs
from commcredits.services.access.principal import OPERATOR
from commcredits.services.ledger import audit
from commcredits.services.ledger.balance_events import balance_changed
from commcredits.services.usage.usage_charges import charge_usage


def test_a_call_below_the_trigger_charges_the_amount_once(shop: Shop) -> None:
    shop.buy("60.00")
    shop.settings(amount="100.00", trigger="50.00", pm=shop.card())
    assert shop.attempts() == []
    shop.use("15.00")
    assert shop.attempts() == [(usd("100.00"), "succeeded", None)]
    assert shop.lots_of("auto_recharge") == [usd("100.00")]
    assert shop.balance() == "145.00"
    assert shop.auto_charges() == [usd("100.00")]
    view = shop.recharge()
    assert view["status"] == "active" and view["last_attempt"]["status"] == "succeeded"
    [(event, payload)] = shop.events()
    assert event == "auto_recharge_succeeded"
    assert payload["amount"] == "100.00" and payload["balance"] == "145.00" and payload["receipt_id"]
    assert audit.audit(shop.rt)[1] == []


def test_a_balance_exactly_at_the_trigger_does_not_fire(shop: Shop) -> None:
    shop.buy("60.00")
    shop.settings(amount="100.00", trigger="50.00", pm=shop.card())
    shop.use("10.00")
    assert shop.balance() == "50.00"
    assert shop.attempts() == [] and shop.events() == []


def test_a_deficit_is_covered_by_one_charge_of_a_multiple(shop: Shop) -> None:
    charge_usage(shop.rt, shop.tid, amount=usd("190.00"), reference_id="long-call")
    assert shop.balance() == "-190.00"
    shop.settings(amount="50.00", trigger="50.00", pm=shop.card())  # saving the settings fires
    assert shop.attempts() == [(usd("250.00"), "succeeded", None)]
    assert shop.balance() == "60.00"
    assert shop.lots_of("auto_recharge") == [usd("250.00")]


def test_concurrent_settlements_crossing_the_trigger_charge_once(shop: Shop) -> None:
    shop.buy("60.00")
    shop.settings(amount="100.00", trigger="50.00", pm=shop.card())

    def settle(i: int) -> None:
        charge_usage(shop.rt, shop.tid, amount=usd("1.00"), reference_id=f"call-{i}")
        balance_changed(shop.rt, shop.tid)

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(settle, range(20)))
    assert shop.attempts() == [(usd("100.00"), "succeeded", None)]
    assert shop.auto_charges() == [usd("100.00")]
    assert shop.balance() == "140.00"
    assert audit.audit(shop.rt)[1] == []


def test_a_declined_card_is_retried_after_1h_and_6h_then_suspended(shop: Shop, clock) -> None:
    shop.buy("60.00", pm=shop.card(GOOD))
    shop.settings(amount="100.00", trigger="50.00", pm=shop.card(DECLINE))
    start = clock.now()
    shop.use("15.00")
    assert shop.attempts() == [(usd("100.00"), "failed", "card_declined")]
    assert shop.balance() == "45.00" and shop.lots_of("auto_recharge") == []
    view = shop.recharge()
    assert view["status"] == "retrying" and view["next_retry_at"] == funds.iso(start + timedelta(hours=1))
    shop.use("1.00")  # usage before the retry instant does not charge again
    jobs.move_clock(shop.rt, start + timedelta(minutes=59))
    assert len(shop.attempts()) == 1
    jobs.move_clock(shop.rt, start + timedelta(hours=1))
    assert [a[1] for a in shop.attempts()] == ["failed", "failed"]
    assert shop.recharge()["next_retry_at"] == funds.iso(start + timedelta(hours=7))
    jobs.move_clock(shop.rt, start + timedelta(hours=6, minutes=59))
    assert len(shop.attempts()) == 2
    jobs.move_clock(shop.rt, start + timedelta(days=2))
    assert [a[1] for a in shop.attempts()] == ["failed"] * 3
    view = shop.recharge()
    assert view["status"] == "suspended" and view["failures"] == 3 and view["next_retry_at"] is None
    assert shop.balance() == "44.00" and shop.lots_of("auto_recharge") == []
    events = sorted(e for e, _ in shop.events())
    assert events == ["auto_recharge_failed"] * 3 + ["auto_recharge_suspended"]
    payloads = [p for e, p in shop.events() if e == "auto_recharge_failed"]
    assert payloads[0]["next_retry_at"] == funds.iso(start + timedelta(hours=1))
    assert payloads[2]["next_retry_at"] is None and payloads[2]["suspended"] is True
    shop.use("1.00")
    assert len(shop.attempts()) == 3  # suspended: nothing more


def test_an_expired_card_suspends_at_once_and_a_new_card_resumes(shop: Shop) -> None:
    shop.buy("60.00")
    shop.settings(amount="100.00", trigger="50.00", pm=shop.card(EXPIRED))
    shop.use("15.00")
    assert shop.attempts() == [(usd("100.00"), "failed", "expired_card")]
    assert shop.recharge()["status"] == "suspended"
    assert sorted(e for e, _ in shop.events()) == ["auto_recharge_failed", "auto_recharge_suspended"]
    new_card = shop.card("5555555555554444")  # saving another card resumes, with that card, and fires at once
    view = shop.recharge()
    assert view["status"] == "active" and view["payment_method_id"] == new_card
    assert sorted(shop.attempts(), key=str) == [(usd("100.00"), "failed", "expired_card"),
                                                (usd("100.00"), "succeeded", None)]
    assert shop.balance() == "145.00"


@pytest.mark.parametrize("number, code", [("4000000000009987", "lost_card"), ("4000000000009979", "stolen_card"),
                                          ("4000000000000127", "incorrect_cvc")])
def test_other_hard_declines_suspend_at_once(shop: Shop, number: str, code: str) -> None:
    shop.buy("60.00")
    shop.settings(pm=shop.card(number))
    shop.use("15.00")
    assert shop.attempts() == [(usd("100.00"), "failed", code)]
    assert shop.recharge()["status"] == "suspended"


def test_a_lost_reply_is_found_by_the_retry_with_the_same_key(shop: Shop, clock) -> None:
    shop.buy("60.00")
    shop.settings(pm=shop.card())
    shop.gateway.inject("lose_reply")
    shop.use("15.00")
    assert shop.attempts() == [(usd("100.00"), "pending", None)]
    assert shop.auto_charges() == [usd("100.00")]  # the gateway did charge
    assert shop.balance() == "45.00" and shop.recharge()["in_flight"] is True
    shop.use("1.00")  # in flight: no second charge
    assert len(shop.attempts()) == 1
    jobs.move_clock(shop.rt, clock.now() + timedelta(seconds=30))
    assert shop.attempts()[0][1] == "pending"  # not stale yet
    jobs.move_clock(shop.rt, clock.now() + timedelta(minutes=5))
    assert shop.attempts() == [(usd("100.00"), "succeeded", None)]
    assert shop.auto_charges() == [usd("100.00")]  # the same charge, found by its key
    assert shop.lots_of("auto_recharge") == [usd("100.00")]
    assert shop.balance() == "144.00"
    assert shop.recharge()["in_flight"] is False
    assert audit.audit(shop.rt)[1] == []


def test_a_timeout_before_charging_is_charged_by_the_recovery(shop: Shop, clock) -> None:
    shop.buy("60.00")
    shop.settings(pm=shop.card())
    shop.gateway.inject("timeout")
    shop.use("15.00")
    assert shop.auto_charges() == [] and shop.attempts()[0][1] == "pending"
    jobs.move_clock(shop.rt, clock.now() + timedelta(minutes=2))
    assert shop.auto_charges() == [usd("100.00")]
    assert shop.lots_of("auto_recharge") == [usd("100.00")]


def test_a_manual_purchase_with_a_lost_reply_is_credited_once(shop: Shop, clock) -> None:
    pm = shop.card()
    shop.gateway.inject("lose_reply")
    with pytest.raises(PaymentFailed) as failed:
        shop.buy("80.00", pm=pm, key="buy-1")
    assert failed.value.code == "processing_error" and failed.value.extra["retryable"] is True
    assert shop.balance() == "0.00"
    status, body = shop.buy("80.00", pm=pm, key="buy-1")  # the client repeats the request
    assert status == 201 and body["balance"] == "80.00" and body["receipt_id"]
    assert shop.gateway.charged_total() == usd("80.00") and shop.lots_of("purchase") == [usd("80.00")]
    shop.gateway.inject("lose_reply")
    with pytest.raises(PaymentFailed):
        shop.buy("70.00", pm=pm, key="buy-2")
    jobs.move_clock(shop.rt, clock.now() + timedelta(minutes=2))  # recovered without the client
    assert shop.lots_of("purchase") == [usd("80.00"), usd("70.00")]
    status, body = shop.buy("70.00", pm=pm, key="buy-2")
    assert status == 201 and body["amount"] == "70.00" and body["balance"] == "150.00"
    assert shop.buy("70.00", pm=pm, key="buy-2") == (status, body)
    assert shop.gateway.charged_total() == usd("150.00") == shop.credited()


def test_expiry_below_the_trigger_recharges(shop: Shop, clock) -> None:
    funds.grant_credit(shop.rt, OPERATOR, shop.tid, amount="60.00", expires_at=clock.now() + timedelta(days=10),
                       reason="promo")
    shop.settings(pm=shop.card())
    assert shop.attempts() == []
    jobs.move_clock(shop.rt, clock.now() + timedelta(days=11))
    assert shop.attempts() == [(usd("100.00"), "succeeded", None)]
    assert shop.balance() == "100.00"


def test_a_retry_that_is_no_longer_needed_reactivates(shop: Shop, clock) -> None:
    shop.buy("60.00")
    shop.settings(pm=shop.card(DECLINE))
    shop.use("15.00")
    assert shop.recharge()["status"] == "retrying"
    shop.buy("50.00")
    jobs.move_clock(shop.rt, clock.now() + timedelta(hours=2))
    view = shop.recharge()
    assert view["status"] == "active" and view["failures"] == 0
    assert len(shop.attempts()) == 1


def test_turning_off_stops_the_engine_and_a_disabled_tenant_is_never_charged(shop: Shop) -> None:
    shop.buy("60.00")
    pm = shop.card()
    shop.settings(pm=pm)
    off = shop.settings(pm=pm, enabled=False)
    assert off["status"] == "off" and off["enabled"] is False
    shop.use("30.00")
    assert shop.attempts() == []


def test_the_database_refuses_a_second_pending_recharge(shop: Shop, clock) -> None:
    pm = shop.card()

    def attempt(i: int) -> Attempt:
        return Attempt(id=f"00000000-0000-0000-0000-00000000000{i}", tenant_id=shop.tid, kind="auto_recharge",
                       amount=usd("50.00"), payment_method_id=pm, status="pending", error_code=None,
                       gateway_ref=None, transaction_id=None, idempotency_key=f"k{i}", created_at=clock.now(),
                       completed_at=None)

    from commcredits.db import payments

    with shop.rt.engine.begin() as conn:
        payments.insert_attempt(conn, attempt(1))
    with pytest.raises(IntegrityError), shop.rt.engine.begin() as conn:
        payments.insert_attempt(conn, attempt(2))
    with shop.rt.engine.connect() as conn:
        assert len(conn.execute(select(payment_attempts.c.id)).all()) == 1
