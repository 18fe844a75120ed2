"""A hypothesis state machine mixes usage, manual purchases (good and declined cards, replayed
keys), auto-recharge settings, new cards, gateway faults (timeouts, lost replies) and clock
moves, and checks after every step that money charged at the gateway equals money
credited: every successful gateway charge belongs to an attempt that either credited
exactly its amount once or is still pending (its outcome unknown to us yet); nothing is
credited that the gateway did not take; at most one recharge is in flight; and after the
faults clear and a minute passes, charged == credited exactly. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule
from sqlalchemy import func, select
from tests.payments.support import Shop
from tests.state_machines import DECLINE, EXPIRED, GOOD, DatabaseMachine, run_machine

from commcredits.db.schema import lots, payment_attempts
from commcredits.domain.money import format_micros
from commcredits.errors import PaymentFailed
from commcredits.services import jobs
from commcredits.services.ledger import audit

amounts = st.integers(min_value=50, max_value=300).map(lambda u: format_micros(u * 1_000_000, 2))
usage = st.integers(min_value=0, max_value=250_00).map(lambda c: format_micros(c * 10_000, 2))
CARDS = {"good": GOOD, "soft": DECLINE, "hard": EXPIRED}


class PaymentsMachine(DatabaseMachine):
    def __init__(self) -> None:
        super().__init__()
        self.shop = Shop(self.rt)
        self.cards = {kind: self.shop.card(number) for kind, number in CARDS.items()}
        self.keys: list[tuple[str, str, str]] = []

    @rule(amount=usage)
    def use(self, amount: str) -> None:
        self.shop.use(amount)

    @rule(amount=amounts, card=st.sampled_from(sorted(CARDS)))
    def purchase(self, amount: str, card: str) -> None:
        key = f"buy-{len(self.keys)}"
        self.keys.append((key, amount, self.cards[card]))
        try:
            status, _ = self.shop.buy(amount, pm=self.cards[card], key=key)
        except PaymentFailed as failed:  # the gateway did not answer
            assert failed.extra.get("retryable")
            return
        assert status == (201 if card == "good" else 402)

    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        if not self.keys:
            return
        key, amount, pm = data.draw(st.sampled_from(self.keys))
        try:
            self.shop.buy(amount, pm=pm, key=key)
        except PaymentFailed as failed:
            assert failed.extra.get("retryable")

    @rule(amount=amounts, trigger=st.integers(0, 200), card=st.sampled_from(sorted(CARDS)), enabled=st.booleans())
    def configure(self, amount: str, trigger: int, card: str, enabled: bool) -> None:
        self.shop.settings(amount=amount, trigger=f"{trigger}.00", pm=self.cards[card], enabled=enabled)

    @rule(card=st.sampled_from(sorted(CARDS)))
    def new_card(self, card: str) -> None:
        self.cards[card] = self.shop.card(CARDS[card])

    @rule(fault=st.sampled_from(["timeout", "lose_reply"]), times=st.integers(1, 3))
    def fault(self, fault: str, times: int) -> None:
        self.shop.gateway.inject(fault, times)

    @rule(minutes=st.sampled_from([0, 1, 2, 30, 61, 360, 420, 1440]))
    def advance(self, minutes: int) -> None:
        jobs.move_clock(self.shop.rt, self.clock.now() + timedelta(minutes=minutes))

    @rule()
    def settle(self) -> None:
        self.shop.gateway.clear_faults()
        jobs.move_clock(self.shop.rt, self.clock.now() + timedelta(minutes=2))
        assert self.pending() == {}
        assert self.shop.gateway.charged_total() == self.shop.credited()

    def pending(self) -> dict[str, int]:
        with self.shop.rt.engine.connect() as conn:
            rows = conn.execute(select(payment_attempts.c.id, payment_attempts.c.amount)
                                .where(payment_attempts.c.status == "pending")).all()
        return {i: int(a) for i, a in rows}

    @invariant()
    def money_charged_equals_money_credited(self) -> None:
        with self.shop.rt.engine.connect() as conn:
            attempts = {i: (s, int(a), t) for i, s, a, t in conn.execute(select(
                payment_attempts.c.id, payment_attempts.c.status, payment_attempts.c.amount,
                payment_attempts.c.transaction_id))}
            credited = {int(t): int(a) for t, a in conn.execute(select(lots.c.transaction_id, lots.c.amount)
                                                                .where(lots.c.source != "grant"))}
            in_flight = conn.execute(select(func.count()).where(
                payment_attempts.c.status == "pending", payment_attempts.c.kind == "auto_recharge")).scalar_one()
        assert in_flight <= 1
        taken_pending = 0
        for charge in self.shop.gateway.charges:
            if not charge.result.succeeded:
                continue
            status, amount, txn = attempts[charge.idempotency_key]
            assert amount == charge.amount_micros
            assert status in ("succeeded", "pending")
            if status == "succeeded":
                assert credited[txn] == amount
            else:
                taken_pending += amount
        succeeded = [a for a in attempts.values() if a[0] == "succeeded"]
        assert len(succeeded) == len(credited)
        assert self.shop.gateway.charged_total() == self.shop.credited() + taken_pending
        assert audit.audit(self.shop.rt)[1] == []


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_payments_state_machine(backend: str, request: pytest.FixtureRequest, sqlite_template: Path) -> None:
    run_machine(PaymentsMachine, backend, request, sqlite_template,
                examples=22 if backend == "sqlite" else 12, steps=20)
