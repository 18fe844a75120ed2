"""Helpers for the payments tests: a tenant with cards, money and auto-recharge settings,
and direct reads of what the gateway took and the ledger credited."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import func, select
from tests.as_json import funds, recharge_settings
from tests.as_json.balances import balance_view
from tests.state_machines import DECLINE as DECLINE
from tests.state_machines import EXPIRED as EXPIRED
from tests.state_machines import GOOD, new_tenant, save_card

from commcredits.db.schema import lots, payment_attempts
from commcredits.db.schema_notify import outbox
from commcredits.domain.money import MICROS
from commcredits.payments.sandbox import SandboxGateway
from commcredits.services.access.principal import OPERATOR
from commcredits.services.ledger.balance_events import balance_changed
from commcredits.services.runtime import Runtime
from commcredits.services.usage.usage_charges import charge_usage


class Shop:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        assert isinstance(rt.gateway, SandboxGateway)
        self.gateway: SandboxGateway = rt.gateway
        self.tid = new_tenant(rt, name="Fabrikam", country="US", currency="USD")

    def card(self, number: str = GOOD) -> str:
        """A saved card with this number: a new one, or the one saved before (duplicates are refused)."""
        return save_card(self.rt, self.tid, number, exp_year=2035)

    def buy(self, amount: str, pm: str | None = None, key: str | None = None) -> tuple[int, dict[str, Any]]:
        return funds.add_funds(self.rt, OPERATOR, self.tid, amount=amount, payment_method_id=pm or self.card(),
                               idempotency_key=key or uuid.uuid4().hex)

    def settings(self, *, amount: str = "100.00", trigger: str = "50.00", pm: str | None = None,
                 enabled: bool = True) -> dict[str, Any]:
        return recharge_settings.save_settings(self.rt, OPERATOR, self.tid, enabled=enabled, amount=amount,
                                               trigger=trigger, payment_method_id=pm)

    def use(self, amount: str, ref: str | None = None) -> None:
        charge_usage(self.rt, self.tid, amount=usd(amount), reference_id=ref or uuid.uuid4().hex)
        balance_changed(self.rt, self.tid)

    def balance(self) -> str:
        return str(balance_view(self.rt, OPERATOR, self.tid)["balance"])

    def recharge(self) -> dict[str, Any]:
        return recharge_settings.settings_view(self.rt, OPERATOR, self.tid)

    def attempts(self, kind: str = "auto_recharge") -> list[tuple[int, str, str | None]]:
        with self.rt.engine.connect() as conn:
            rows = conn.execute(
                select(payment_attempts.c.amount, payment_attempts.c.status, payment_attempts.c.error_code)
                .where(payment_attempts.c.tenant_id == self.tid, payment_attempts.c.kind == kind)
                .order_by(payment_attempts.c.created_at, payment_attempts.c.id)
            ).all()
        return [(int(a), s, e) for a, s, e in rows]

    def lots_of(self, source: str) -> list[int]:
        with self.rt.engine.connect() as conn:
            rows = conn.execute(select(lots.c.amount).where(lots.c.tenant_id == self.tid, lots.c.source == source)
                                .order_by(lots.c.purchased_at)).scalars().all()
        return [int(a) for a in rows]

    def credited(self) -> int:
        with self.rt.engine.connect() as conn:
            total = conn.execute(select(func.coalesce(func.sum(lots.c.amount), 0)).where(
                lots.c.source.in_(("purchase", "auto_recharge")))).scalar_one()
        return int(total)

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        with self.rt.engine.connect() as conn:
            rows = conn.execute(select(outbox.c.event, outbox.c.payload).where(outbox.c.tenant_id == self.tid)
                                .where(outbox.c.event.like("auto_recharge%"))
                                .order_by(outbox.c.created_at, outbox.c.id)).all()
        return [(e, json.loads(p)) for e, p in rows]

    def auto_charges(self) -> list[int]:
        """Amounts the gateway took for auto-recharge attempts (keys = attempt ids)."""
        with self.rt.engine.connect() as conn:
            ids = set(conn.execute(select(payment_attempts.c.id).where(
                payment_attempts.c.kind == "auto_recharge")).scalars())
        return [c.amount_micros for c in self.gateway.charges if c.result.succeeded and c.idempotency_key in ids]


def usd(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * MICROS + int((frac + "000000")[:6])
