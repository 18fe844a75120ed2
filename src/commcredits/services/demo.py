"""Demo data for `commcredits serve --demo`: one tenant with admins, a card, funds, a grant
and some usage, so a newcomer sees a living account. Seeded once per database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from ..db import tenants as tenant_db
from ..db import tokens as token_db
from ..db.engine import read_tx, write_tx
from ..db.schema import tenants
from . import funds, payment_methods
from . import tenants as tenant_svc
from .principal import OPERATOR
from .runtime import Runtime
from .usage_charges import charge_usage

DEMO_NAME = "Contoso Ltd (demo)"


def seed_demo(rt: Runtime) -> dict[str, Any] | None:
    """Create the demo tenant unless it exists; return its ids and a fresh admin token."""
    with read_tx(rt.engine) as conn:
        existing = conn.execute(select(tenants.c.id).where(tenants.c.name == DEMO_NAME)).scalar()
    if existing:
        return _admin_token(rt, existing)
    tenant = tenant_svc.create_tenant(
        rt, OPERATOR, name=DEMO_NAME, country="US", currency="USD", billing_country="US",
        timezone="America/New_York",
    )
    tenant_svc.create_user(
        rt, OPERATOR, tenant.id, email="admin@contoso.example", display_name="Megan Bowen",
        usage_location="US", roles=["global_administrator"], licenses=["communications_credits"],
    )
    tenant_svc.create_user(
        rt, OPERATOR, tenant.id, email="billing@contoso.example", display_name="Alex Wilber",
        usage_location="US", roles=["billing_administrator"], licenses=[],
    )
    card = payment_methods.add_payment_method(
        rt, OPERATOR, tenant.id, card_number="4242424242424242", exp_month=12,
        exp_year=rt.clock.now().year + 3, cvc="123",
    )
    funds.add_funds(rt, OPERATOR, tenant.id, amount="200.00", payment_method_id=card.id,
                    idempotency_key="demo-funds-1")
    funds.grant_credit(rt, OPERATOR, tenant.id, amount="25.00",
                       expires_at=rt.clock.now() + timedelta(days=30), reason="Welcome credit")
    for i, micros in enumerate((1_250_000, 380_000, 12_600_000)):
        charge_usage(rt, tenant.id, amount=micros, reference_id=f"demo-call-{i + 1}")
    return _admin_token(rt, tenant.id)


def _admin_token(rt: Runtime, tenant_id: str) -> dict[str, Any]:
    with write_tx(rt.engine) as conn:
        admin = tenant_db.user_by_email(conn, tenant_id, "admin@contoso.example")
        assert admin is not None
        _, clear = token_db.issue(conn, kind="user", now=rt.clock.now(), tenant_id=tenant_id,
                                  user_id=admin.id)
    return {"tenant_id": tenant_id, "admin_email": "admin@contoso.example", "admin_token": clear}
