"""A hypothesis state machine drives the ledger through purchases, grants, usage, clock moves
past expiry, declined cards and replays of earlier idempotency keys, against a plain
reference model, and checks every invariant after every step, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule
from tests.as_json import balances, funds
from tests.state_machines import DECLINE, GOOD, DatabaseMachine, new_tenant, run_machine, save_card

from commcredits.domain.lots import expiry_for
from commcredits.domain.money import format_micros
from commcredits.errors import IdempotencyConflict
from commcredits.services import jobs
from commcredits.services.access.principal import OPERATOR
from commcredits.services.ledger import audit
from commcredits.services.usage.usage_charges import charge_usage

cents = st.integers(min_value=5_000, max_value=60_000).map(lambda c: c * 10_000)
usage_micros = st.integers(min_value=0, max_value=300_000_000)


@dataclass
class ModelLot:
    amount: int
    remaining: int
    purchased_at: datetime
    expires_at: datetime
    seq: int


@dataclass
class Model:
    lots: list[ModelLot] = field(default_factory=list)
    deficit: int = 0

    def usable(self, now: datetime) -> list[ModelLot]:
        return sorted((lot for lot in self.lots if lot.remaining and now < lot.expires_at),
                      key=lambda lot: (lot.expires_at, lot.purchased_at, lot.seq))

    def balance(self, now: datetime) -> int:
        return sum(lot.remaining for lot in self.usable(now)) - self.deficit

    def credit(self, amount: int, now: datetime, expires_at: datetime) -> None:
        pay = min(self.deficit, amount)
        self.deficit -= pay
        self.lots.append(ModelLot(amount, amount - pay, now, expires_at, len(self.lots)))

    def use(self, amount: int, now: datetime) -> None:
        for lot in self.usable(now):
            take = min(lot.remaining, amount)
            lot.remaining -= take
            amount -= take
        self.deficit += amount


class LedgerMachine(DatabaseMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tid = new_tenant(self.rt, name="T", country="GB", currency="GBP")
        # the clock moves up to 200 days a step: cards that outlive the run
        self.good = save_card(self.rt, self.tid, GOOD, exp_year=2040)
        self.bad = save_card(self.rt, self.tid, DECLINE, exp_year=2040)
        self.model = Model()
        self.keys: dict[str, tuple[str, dict[str, object]]] = {}
        self.calls: list[str] = []
        self.declines = 0

    @rule(amount=cents)
    def purchase(self, amount: int) -> None:
        key = f"k{len(self.keys)}"
        text = format_micros(amount, 2)
        status, body = funds.add_funds(self.rt, OPERATOR, self.tid, amount=text,
                                       payment_method_id=self.good, idempotency_key=key)
        assert status == 201
        now = self.clock.now()
        self.model.credit(amount, now, expiry_for(now))
        self.keys[key] = (text, body)

    @rule(amount=cents)
    def declined(self, amount: int) -> None:
        status, body = funds.add_funds(self.rt, OPERATOR, self.tid, amount=format_micros(amount, 2),
                                       payment_method_id=self.bad, idempotency_key=f"d{self.declines}")
        self.declines += 1
        assert status == 402 and body["code"] == "card_declined"

    @precondition(lambda self: self.keys)
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.keys)))
        text, first = self.keys[key]
        status, body = funds.add_funds(self.rt, OPERATOR, self.tid, amount=text,
                                       payment_method_id=self.good, idempotency_key=key)
        assert (status, body) == (201, first)
        with pytest.raises(IdempotencyConflict):
            funds.add_funds(self.rt, OPERATOR, self.tid, amount="999.00",
                            payment_method_id=self.good, idempotency_key=key)

    @rule(amount=cents, days=st.integers(min_value=1, max_value=400))
    def grant(self, amount: int, days: int) -> None:
        now = self.clock.now()
        expires = now + timedelta(days=days)
        funds.grant_credit(self.rt, OPERATOR, self.tid, amount=format_micros(amount, 2),
                           expires_at=expires, reason="goodwill")
        self.model.credit(amount, now, expires)

    @rule(amount=usage_micros)
    def usage(self, amount: int) -> None:
        ref = f"call-{len(self.calls)}"
        self.calls.append(ref)
        charge_usage(self.rt, self.tid, amount=amount, reference_id=ref)
        self.model.use(amount, self.clock.now())

    @precondition(lambda self: self.calls)
    @rule(data=st.data())
    def usage_replay(self, data: st.DataObject) -> None:
        ref = data.draw(st.sampled_from(self.calls))
        assert charge_usage(self.rt, self.tid, amount=1, reference_id=ref).duplicate

    @rule(days=st.integers(min_value=1, max_value=200), seconds=st.integers(0, 86_399))
    def advance(self, days: int, seconds: int) -> None:
        jobs.move_clock(self.rt, self.clock.now() + timedelta(days=days, seconds=seconds))

    @invariant()
    def matches_the_model_and_every_invariant_holds(self) -> None:
        now = self.clock.now()
        view = balances.balance_view(self.rt, OPERATOR, self.tid)
        assert view["balance"] == format_micros(self.model.balance(now), 2)
        _, violations = audit.audit(self.rt)
        assert violations == []


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_ledger_state_machine(backend: str, request: pytest.FixtureRequest, sqlite_template: Path) -> None:
    run_machine(LedgerMachine, backend, request, sqlite_template,
                examples=60 if backend == "sqlite" else 25, steps=25)
