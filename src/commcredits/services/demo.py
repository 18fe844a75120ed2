"""Demo data for `commcredits serve --demo`: a rate deck (invented prices), one tenant with
admins and callers, a calling-plan subscription, a card, funds, a grant and a day of calls
charged through the real charging path, so a newcomer sees a living account. Seeded once
per database.

The demo tenant and its users have fixed ids (DEMO_IDS), the same in every database, so the
sample call records in examples/ and the README's commands work on any fresh demo: each is
made by the same service as any other, then given its fixed id before anything refers to it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from importlib.resources import files
from typing import Any, TypedDict

from sqlalchemy import Table, select, update

from ..db import tenants as tenant_db
from ..db import tokens as token_db
from ..db.engine import read_tx, unit_of_work
from ..db.schema import tenants, users
from ..db.tenants import User
from .access import tenants as tenant_svc
from .access import web_auth
from .access.principal import OPERATOR
from .billing.subscriptions import set_subscription
from .ledger import funds
from .payments import payment_methods
from .rating.rating import import_deck, parse_deck, rating_index
from .runtime import Runtime
from .usage.charging import charge_records

DEMO_NAME = "Contoso Ltd (demo)"
DEMO_PASSWORD = "contoso-demo-admin"  # the demo admin's web password (admin center at /admin)
DEMO_IDS = {
    "tenant": "c0a7050d-0000-4000-8000-000000000001",
    "admin@contoso.example": "c0a7050d-0000-4000-8000-000000000002",
    "billing@contoso.example": "c0a7050d-0000-4000-8000-000000000003",
    "lee@contoso.example": "c0a7050d-0000-4000-8000-000000000004",
}
DEMO_TENANT_ID = DEMO_IDS["tenant"]


class DemoSeed(TypedDict):
    """The demo tenant, its admin's e-mail and web password, and a fresh admin API token
    (clear text, shown once)."""

    tenant_id: str
    admin_email: str
    admin_token: str
    admin_password: str


def seed_demo(rt: Runtime) -> DemoSeed | None:
    """Create the demo tenant unless it exists; return its ids and a fresh admin token."""
    with read_tx(rt.engine) as conn:
        existing = conn.execute(select(tenants.c.id).where(tenants.c.name == DEMO_NAME)).scalar()
    if existing:
        return _admin_token(rt, existing)
    if not rating_index(rt).decks:
        deck = files("commcredits.demo_data").joinpath("ratecard.csv").read_bytes()
        import_deck(rt, OPERATOR, parse_deck(format_="ratecard", files={"demo-ratecard.csv": deck}))
    made = tenant_svc.create_tenant(
        rt, OPERATOR, name=DEMO_NAME, country="US", currency="USD", billing_country="US",
        timezone="America/New_York",
    )
    tenant = replace(made, id=_fix_id(rt, tenants, made.id, DEMO_TENANT_ID))
    set_subscription(rt, OPERATOR, tenant.id, product="domestic_calling_plan", quantity=2)
    admin = _user(rt, tenant.id, email="admin@contoso.example", display_name="Megan Bowen",
                  usage_location="US", roles=["global_administrator"],
                  licenses=["domestic_calling_plan", "communications_credits"])
    _user(rt, tenant.id, email="billing@contoso.example", display_name="Alex Wilber",
          usage_location="US", roles=["billing_administrator"], licenses=[])
    caller = _user(rt, tenant.id, email="lee@contoso.example", display_name="Lee Gu",
                   usage_location="GB", roles=[], licenses=["domestic_calling_plan", "communications_credits"])
    card = payment_methods.add_payment_method(
        rt, OPERATOR, tenant.id, card_number="4242424242424242", exp_month=12,
        exp_year=rt.clock.now().year + 3, cvc="123",
    )
    funds.add_funds(rt, OPERATOR, tenant.id, amount="200.00", payment_method_id=card.id,
                    idempotency_key="demo-funds-1")
    funds.grant_credit(rt, OPERATOR, tenant.id, amount="25.00",
                       expires_at=rt.clock.now() + timedelta(days=30), reason="Welcome credit")
    charge_records(rt, _demo_calls(rt, tenant.id, admin.id, caller.id))
    return _admin_token(rt, tenant.id)


def _user(rt: Runtime, tenant_id: str, *, email: str, **fields: Any) -> User:
    made = tenant_svc.create_user(rt, OPERATOR, tenant_id, email=email, **fields)
    return replace(made, id=_fix_id(rt, users, made.id, DEMO_IDS[email]))


def _fix_id(rt: Runtime, table: Table, made: str, fixed: str) -> str:
    """Give a row just made (nothing refers to it yet) its fixed demo id."""
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            conn.execute(update(table).where(table.c.id == made).values(id=fixed))
    return fixed


def _admin_token(rt: Runtime, tenant_id: str) -> DemoSeed:
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            admin = tenant_db.user_by_email(conn, tenant_id, "admin@contoso.example")
            assert admin is not None
            _, clear = token_db.issue(conn, kind="user", now=rt.clock.now(), tenant_id=tenant_id,
                                      user_id=admin.id)
    assert admin is not None  # the loop ends only after a try that completed
    if not web_auth.has_password(rt, admin.id):  # set once, so a restart keeps the admin logged in
        web_auth.set_password(rt, OPERATOR, tenant_id, admin.id, DEMO_PASSWORD)
    return {"tenant_id": tenant_id, "admin_email": "admin@contoso.example", "admin_token": clear,
            "admin_password": DEMO_PASSWORD}


def _demo_calls(rt: Runtime, tenant_id: str, admin_id: str, caller_id: str) -> list[dict[str, Any]]:
    """A morning of calls: domestic (pool), international and premium (credits), toll-free
    inbound (credits), an inbound call and an emergency call (free)."""
    start = rt.clock.now() - timedelta(hours=6)
    calls = [
        ("user_out", admin_id, "+12025550123", 420), ("user_out", admin_id, "+442079460000", 754),
        ("user_out", caller_id, "+442079460000", 300), ("user_out", caller_id, "+4930123456", 185),
        ("user_out", admin_id, "+19005550100", 95), ("conf_in", None, "+18005550100", 1260),
        ("user_in", admin_id, "+12025550123", 600), ("user_out", admin_id, "911", 120),
        ("user_out", caller_id, "+81312345678", 240),
    ]
    return [
        {"id": f"demo-{tenant_id[:8]}-{i}", "tenant_id": tenant_id, "call_type": kind, "caller": "+12025550100",
         "callee": callee, "started_at": (start + timedelta(minutes=20 * i)).isoformat(),
         "duration_seconds": seconds, "user_id": user}
        for i, (kind, user, callee, seconds) in enumerate(calls)
    ]
