"""What the hypothesis state machines share: each example starts on an empty database of its
backend, with a runtime on a fixed sandbox clock at START, a tenant and saved cards.

On SQLite every example gets its own copy of the migrated template (a file per machine,
disposed of in `teardown`); on PostgreSQL the session's test database is emptied when the
machine starts. `run_machine` runs a machine class on one backend with the run settings the
machines use (no deadline, health checks off: each step is a few real transactions).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test
from sqlalchemy import Engine

from commcredits.config import Settings
from commcredits.db.engine import make_engine
from commcredits.errors import DuplicateCard
from commcredits.services.access import tenants
from commcredits.services.access.principal import OPERATOR
from commcredits.services.clock import FixedClock
from commcredits.services.payments import payment_methods
from commcredits.services.runtime import Runtime
from tests.conftest import START, _truncate

# the sandbox gateway's outcomes (Stripe's public test cards)
GOOD = "4242424242424242"  # charged
DECLINE = "4000000000000002"  # declined: card_declined
EXPIRED = "4000000000000069"  # declined: expired_card


class DatabaseMachine(RuleBasedStateMachine):
    """A state machine on an empty database of `engine` (set by `run_machine`), with `rt`
    on the sandbox clock `clock`, which starts at START."""

    engine: ClassVar[Engine]

    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock(START)
        self.rt = Runtime.from_settings(Settings(sandbox=True), engine=self.engine)
        self.rt.clock = self.clock
        if self.engine.dialect.name != "sqlite":
            _truncate(self.engine)


def new_tenant(rt: Runtime, *, name: str, country: str, currency: str) -> str:
    """A tenant billed in its own country; its id."""
    return tenants.create_tenant(rt, OPERATOR, name=name, country=country, currency=currency,
                                 billing_country=country).id


def save_card(rt: Runtime, tenant_id: str, number: str, *, exp_year: int) -> str:
    """The id of the tenant's saved card with this number: a new one, or the one saved before
    (the service refuses a duplicate and names it)."""
    try:
        return payment_methods.add_payment_method(rt, OPERATOR, tenant_id, card_number=number, exp_month=12,
                                                  exp_year=exp_year, cvc="123").id
    except DuplicateCard as exc:
        return str(exc.extra["payment_method_id"])


def run_machine(machine: type[DatabaseMachine], backend: str, request: pytest.FixtureRequest,
                sqlite_template: Path, *, examples: int, steps: int) -> None:
    """Run `machine` for `examples` examples of up to `steps` steps each on `backend`
    ("sqlite": a fresh copy of `sqlite_template` per example; "postgres": the session's test
    database, emptied per example)."""
    run_settings = settings(max_examples=examples, stateful_step_count=steps, deadline=None,
                            suppress_health_check=list(HealthCheck))
    if backend == "postgres":
        pg: Engine = request.getfixturevalue("pg_engine")

        class OnPostgres(machine):
            engine = pg

        run_state_machine_as_test(OnPostgres, settings=run_settings)
        return
    with tempfile.TemporaryDirectory() as tmp:
        class OnSqlite(machine):
            def __init__(self) -> None:
                path = Path(tmp) / f"db{id(self)}.db"
                shutil.copy(sqlite_template, path)
                type(self).engine = make_engine(f"sqlite:///{path}")
                super().__init__()

            def teardown(self) -> None:
                self.engine.dispose()

        run_state_machine_as_test(OnSqlite, settings=run_settings)
