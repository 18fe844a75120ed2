"""The pure auto-recharge rules (domain/recharge.py) and the sandbox gateway's cards and faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commcredits.domain.recharge import (
    AutoRechargePolicy,
    after_failure,
    after_success,
    card_saved,
    charge_due,
    configure,
    recharge_amount,
)
from commcredits.payments.gateway import CardRejected, GatewayUnavailable
from commcredits.payments.sandbox import SandboxGateway

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
M = 1_000_000


def policy(**kw: object) -> AutoRechargePolicy:
    base: dict[str, object] = {"enabled": True, "amount": 100 * M, "trigger": 50 * M, "payment_method_id": "pm"}
    return AutoRechargePolicy(**{**base, **kw})  # type: ignore[arg-type]


def test_the_smallest_multiple_that_reaches_the_trigger() -> None:
    assert recharge_amount(45 * M, 50 * M, 100 * M) == 100 * M
    assert recharge_amount(50 * M, 50 * M, 100 * M) == 0  # equal does not fire
    assert recharge_amount(-190 * M, 50 * M, 50 * M) == 250 * M
    assert recharge_amount(-1, 0, 50 * M) == 50 * M


@given(st.integers(-10**12, 10**12), st.integers(0, 10**12), st.integers(1, 10**11))
def test_one_charge_is_enough_and_minimal(balance: int, trigger: int, amount: int) -> None:
    charge = recharge_amount(balance, trigger, amount)
    if balance >= trigger:
        assert charge == 0
    else:
        assert charge % amount == 0 and balance + charge >= trigger > balance + charge - amount


def test_soft_declines_retry_after_1h_then_6h_and_the_third_suspends() -> None:
    first = after_failure(policy(), "insufficient_funds", NOW)
    assert first.policy.status == "retrying" and first.policy.next_retry_at == NOW + timedelta(hours=1)
    assert charge_due(first.policy, 0, NOW + timedelta(minutes=59)) == 0
    assert charge_due(first.policy, 0, NOW + timedelta(hours=1)) == 100 * M
    second = after_failure(first.policy, "processing_error", NOW + timedelta(hours=1))
    assert second.policy.next_retry_at == NOW + timedelta(hours=7) and not second.suspended
    third = after_failure(second.policy, "card_declined", NOW + timedelta(hours=7))
    assert third.suspended and third.policy.status == "suspended" and third.policy.failures == 3
    assert charge_due(third.policy, -10**9, NOW + timedelta(days=9)) == 0
    assert after_success(second.policy) == policy()


@pytest.mark.parametrize("code", ["expired_card", "incorrect_number", "lost_card", "stolen_card", "incorrect_cvc"])
def test_hard_declines_suspend_at_once(code: str) -> None:
    failure = after_failure(policy(), code, NOW)
    assert failure.suspended and failure.hard and failure.policy.status == "suspended"


def test_saving_a_card_resumes_a_suspension_only() -> None:
    suspended = policy(status="suspended", failures=1)
    assert card_saved(suspended, "pm2", updated=False) == policy(payment_method_id="pm2")
    assert card_saved(suspended, "pm", updated=True) == policy()
    assert card_saved(suspended, "other", updated=True) == suspended
    retrying = policy(status="retrying", failures=1, next_retry_at=NOW)
    assert card_saved(retrying, "pm2", updated=False) == retrying


def test_configure_keeps_a_suspension_unless_another_card_is_chosen() -> None:
    suspended = policy(status="suspended", failures=3)
    assert configure(suspended, enabled=True, amount=200 * M, trigger=0, payment_method_id="pm").status == "suspended"
    assert configure(suspended, enabled=True, amount=200 * M, trigger=0, payment_method_id="pm9").status == "active"
    off = configure(suspended, enabled=False, amount=200 * M, trigger=0, payment_method_id="pm")
    assert off.status == "off" and charge_due(off, -M, NOW) == 0
    assert configure(off, enabled=True, amount=200 * M, trigger=0, payment_method_id="pm").status == "active"


def test_a_policy_checks_itself() -> None:
    with pytest.raises(ValueError):
        policy(amount=0)
    with pytest.raises(ValueError):
        policy(trigger=-1)
    with pytest.raises(ValueError):
        policy(status="retrying")  # without a retry instant
    with pytest.raises(ValueError):
        policy(enabled=False)  # but not 'off'


@pytest.mark.parametrize("number, code", [
    ("4000000000000002", "card_declined"), ("4000000000009995", "insufficient_funds"),
    ("4000000000000069", "expired_card"), ("4000000000000127", "incorrect_cvc"),
    ("4000000000000119", "processing_error"), ("4000000000000341", "card_declined"),
    ("4000000000009987", "lost_card"), ("4000000000009979", "stolen_card"),
])
def test_sandbox_test_cards_attach_and_decline(number: str, code: str) -> None:
    gw = SandboxGateway()
    card = gw.save_card(card_number=number, exp_month=1, exp_year=2031, cvc="123")
    assert card.last4 == number[-4:] and number not in card.gateway_ref
    result = gw.charge(card_ref=card.gateway_ref, amount_micros=50 * M, currency="USD", idempotency_key="k")
    assert not result.succeeded and result.error_code == code
    with pytest.raises(CardRejected):
        gw.save_card(card_number="4242424242424241", exp_month=1, exp_year=2031, cvc="123")


def test_sandbox_faults_and_idempotency() -> None:
    gw = SandboxGateway()
    ref = gw.save_card(card_number="4242424242424242", exp_month=1, exp_year=2031, cvc="123").gateway_ref
    gw.inject("timeout")
    with pytest.raises(GatewayUnavailable):
        gw.charge(card_ref=ref, amount_micros=50 * M, currency="USD", idempotency_key="a")
    assert gw.charged_total() == 0
    gw.inject("lose_reply")
    with pytest.raises(GatewayUnavailable):
        gw.charge(card_ref=ref, amount_micros=50 * M, currency="USD", idempotency_key="b")
    assert gw.charged_total() == 50 * M
    found = gw.charge(card_ref=ref, amount_micros=50 * M, currency="USD", idempotency_key="b")
    assert found.succeeded and gw.charged_total() == 50 * M
    with pytest.raises(ValueError):
        gw.charge(card_ref=ref, amount_micros=60 * M, currency="USD", idempotency_key="b")
    gw.inject("timeout", times=None)
    for key in "cd":
        with pytest.raises(GatewayUnavailable):
            gw.charge(card_ref=ref, amount_micros=50 * M, currency="USD", idempotency_key=key)
    gw.clear_faults()
    assert gw.charge(card_ref=ref, amount_micros=50 * M, currency="USD", idempotency_key="c").succeeded
