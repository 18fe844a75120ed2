"""Acceptance stories for usage charging, one per row of DOMAIN.md's who-pays list and more.

Prices come from ../shared/testdata/sample-ratecard.csv (USD, half_up to 2 decimals).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from tests.as_json import balances, funds, subscriptions
from tests.conftest import SHARED

from commcredits.db.schema_notify import outbox
from commcredits.services.access import tenants
from commcredits.services.access.principal import OPERATOR
from commcredits.services.payments import payment_methods
from commcredits.services.rating import rating
from commcredits.services.usage.charging import charge_records

CALL_AT = "2026-01-14T15:00:00Z"


@pytest.fixture
def world(rt):
    card = (SHARED / "testdata" / "sample-ratecard.csv").read_bytes()
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files={"card.csv": card}))
    return World(rt)


class World:
    def __init__(self, rt) -> None:
        self.rt = rt
        self.n = 0

    def tenant(self, *, tz: str = "America/New_York", mode: str = "prepaid", products: dict[str, int] | None = None) -> str:
        tid = tenants.create_tenant(self.rt, OPERATOR, name="Contoso", country="US", currency="USD",
                                    billing_country="US", timezone=tz, billing_mode=mode).id
        for product, qty in (products or {}).items():
            subscriptions.set_subscription(self.rt, OPERATOR, tid, product=product, quantity=qty)
        return tid

    def user(self, tid: str, licenses: list[str], location: str = "US", roles: list[str] | None = None) -> str:
        self.n += 1
        return tenants.create_user(self.rt, OPERATOR, tid, email=f"u{self.n}@contoso.example", display_name="U",
                                   usage_location=location, roles=roles or [], licenses=licenses).id

    def fund(self, tid: str, amount: str = "50.00") -> None:
        pm = payment_methods.add_payment_method(self.rt, OPERATOR, tid, card_number="4242424242424242",
                                                exp_month=12, exp_year=2031, cvc="123")
        status, _ = funds.add_funds(self.rt, OPERATOR, tid, amount=amount, payment_method_id=pm.id,
                                    idempotency_key=f"fund-{tid}-{amount}")
        assert status == 201

    def call(self, tid: str, callee: str, seconds: int, *, call_type: str = "user_out", user: str | None = None,
             organizer: str | None = None, at: str = CALL_AT, record_id: str | None = None) -> dict:
        self.n += 1
        rec = {"id": record_id or f"rec-{self.n}", "tenant_id": tid, "call_type": call_type,
               "caller": "+12025550100", "callee": callee, "started_at": at, "duration_seconds": seconds,
               "user_id": user, "organizer_id": organizer}
        return charge_records(self.rt, [rec])[0].as_json()

    def balance(self, tid: str) -> str:
        return balances.balance_view(self.rt, OPERATOR, tid)["balance"]

    def pools(self, tid: str, period: str | None = None) -> list[dict]:
        return subscriptions.minute_pools(self.rt, OPERATOR, tid, period=period)["items"]


def test_international_call_on_a_domestic_plan_pays_from_credits(world) -> None:
    # a US tenant with 2 domestic plan licenses; Ann holds one and Communications Credits
    tid = world.tenant(products={"domestic_calling_plan": 2})
    ann = world.user(tid, ["domestic_calling_plan", "communications_credits"])
    world.fund(tid)
    r = world.call(tid, "+442079460000", 61, user=ann)  # 60/1 at 0.025/min: 0.0254 -> 0.03
    assert (r["status"], r["charge"], r["funding"], r["capability"]) == ("charged", "0.03", "credits", "communications_credits")
    assert world.balance(tid) == "49.97"


def test_domestic_call_is_drawn_from_the_pool_in_whole_minutes(world) -> None:
    tid = world.tenant(products={"domestic_calling_plan": 2})
    ann = world.user(tid, ["domestic_calling_plan"])
    world.user(tid, ["domestic_calling_plan"], location="GB")
    r = world.call(tid, "+12025550123", 61, user=ann)
    assert (r["charge"], r["funding"], r["capability"], r["pool_minutes"]) == ("0.00", "pool", "domestic_calling_plan", 2)
    pools = {(p["country"], p["kind"]): p for p in world.pools(tid, "2026-01")}
    assert pools[("US", "domestic")]["total_minutes"] == 3000 and pools[("US", "domestic")]["used_minutes"] == 2
    assert pools[("GB", "domestic")] == {"country": "GB", "product": "domestic_calling_plan", "kind": "domestic",
                                         "total_minutes": 3000, "used_minutes": 0, "available_minutes": 3000}


def test_a_call_longer_than_the_pool_draws_it_to_zero_and_charges_the_rest(world, rt) -> None:
    subscriptions.set_allowance(rt, OPERATOR, product="domestic_calling_plan", kind="domestic", country="US", minutes=3)
    tid = world.tenant(products={"domestic_calling_plan": 1})
    ann = world.user(tid, ["domestic_calling_plan", "communications_credits"])
    world.fund(tid)
    assert world.call(tid, "+12025550123", 61, user=ann)["pool_minutes"] == 2
    r = world.call(tid, "+12025550123", 150, user=ann)  # 1 minute left: covers 60 s; 90 s at 60/60 x 0.015
    assert (r["pool_minutes"], r["funding"], r["charge"]) == (1, "mixed", "0.03")
    assert r["capability"] == "domestic_calling_plan, communications_credits"
    assert world.pools(tid)[0]["available_minutes"] == 0
    r = world.call(tid, "+12025550123", 30, user=ann)
    assert (r["funding"], r["charge"], r["pool_minutes"]) == ("credits", "0.02", 0)
    assert world.balance(tid) == "49.95"


def test_emergency_calls_are_free_whatever_the_balance_or_license(world) -> None:
    tid = world.tenant()
    nobody = world.user(tid, [])
    r = world.call(tid, "911", 300, user=nobody)
    assert (r["status"], r["charge"], r["funding"]) == ("charged", "0.00", "free")
    assert world.balance(tid) == "0.00"


def test_inbound_calls_are_free(world) -> None:
    tid = world.tenant()
    ann = world.user(tid, [])
    r = world.call(tid, "+12025550123", 600, call_type="user_in", user=ann)
    assert (r["charge"], r["funding"], r["capability"]) == ("0.00", "free", "free")


def test_toll_free_inbound_is_charged_to_the_tenant_without_a_license(world) -> None:
    tid = world.tenant()
    world.fund(tid)
    r = world.call(tid, "+18005550100", 59, call_type="conf_in")  # 0.035/min 60/60 -> 0.04
    assert (r["charge"], r["funding"]) == ("0.04", "credits")
    assert world.balance(tid) == "49.96"


def test_outbound_beyond_the_plans_needs_the_license(world) -> None:
    tid = world.tenant(products={"domestic_calling_plan": 1})
    bob = world.user(tid, ["domestic_calling_plan"])
    world.fund(tid)
    r = world.call(tid, "+442079460000", 61, user=bob)
    assert r["status"] == "rejected" and r["error"]["code"] == "license_required"
    assert world.balance(tid) == "50.00"


def test_premium_numbers_never_use_the_pool(world) -> None:
    tid = world.tenant(products={"domestic_calling_plan": 1})
    ann = world.user(tid, ["domestic_calling_plan", "communications_credits"])
    world.fund(tid)
    r = world.call(tid, "+19005550100", 60, user=ann)  # 1.99/min + 0.25 connect
    assert (r["charge"], r["funding"], r["pool_minutes"]) == ("2.24", "credits", 0)


def test_pay_as_you_go_charges_every_outbound_call(world) -> None:
    tid = world.tenant(products={"pay_as_you_go_calling_plan": 1})
    ann = world.user(tid, ["pay_as_you_go_calling_plan", "communications_credits"])
    world.fund(tid)
    r = world.call(tid, "+12025550123", 120, user=ann)  # 2 min x 0.015 = 0.03
    assert (r["charge"], r["funding"]) == ("0.03", "credits")


def test_conference_dial_out_uses_the_zone_a_pool_then_credits(world) -> None:
    tid = world.tenant(products={"audio_conferencing": 1})
    org = world.user(tid, ["audio_conferencing", "communications_credits"])
    world.fund(tid)
    r = world.call(tid, "+442079460000", 120, call_type="conf_out", organizer=org)
    assert (r["funding"], r["pool_minutes"], r["capability"]) == ("pool", 2, "audio_conferencing")
    r = world.call(tid, "+2348012345678", 120, call_type="conf_out", organizer=org)  # NG is outside Zone A
    assert (r["funding"], r["charge"]) == ("credits", "0.84")
    pools = world.pools(tid)
    assert pools == [{"country": None, "product": "audio_conferencing", "kind": "dial_out",
                      "total_minutes": 60, "used_minutes": 2, "available_minutes": 58}]


def test_records_are_charged_even_when_the_balance_is_short(world) -> None:
    tid = world.tenant()
    ann = world.user(tid, ["communications_credits"])
    r = world.call(tid, "+442079460000", 600, user=ann)  # 10 min x 0.025 = 0.25
    assert r["charge"] == "0.25"
    assert world.balance(tid) == "-0.25"


def test_postpaid_charges_go_to_the_statement_not_the_balance(world) -> None:
    tid = world.tenant(mode="postpaid")
    ann = world.user(tid, ["communications_credits"])
    r = world.call(tid, "+442079460000", 600, user=ann)
    assert (r["charge"], r["funding"], r["capability"]) == ("0.25", "postpaid", "postpaid")
    assert world.balance(tid) == "0.00"


def test_month_rollover_in_the_tenants_time_zone(world, rt) -> None:
    subscriptions.set_allowance(rt, OPERATOR, product="domestic_calling_plan", kind="domestic", country="US", minutes=3)
    tid = world.tenant(tz="America/Los_Angeles", products={"domestic_calling_plan": 1})
    ann = world.user(tid, ["domestic_calling_plan", "communications_credits"])
    world.fund(tid)
    rt.clock.set(datetime(2026, 3, 2, tzinfo=UTC))  # the calls below happened: none is in the future
    # 23:30 on 28 Feb in Los Angeles is already March in UTC; the pool is February's
    assert world.call(tid, "+12025550123", 180, user=ann, at="2026-03-01T07:30:00Z")["funding"] == "pool"
    assert world.call(tid, "+12025550123", 60, user=ann, at="2026-03-01T07:45:00Z")["funding"] == "credits"
    # 00:30 on 1 March in Los Angeles: a fresh pool, no rollover
    assert world.call(tid, "+12025550123", 180, user=ann, at="2026-03-01T08:30:00Z")["funding"] == "pool"
    assert [p["used_minutes"] for p in world.pools(tid, "2026-02")] == [3]
    assert [p["used_minutes"] for p in world.pools(tid, "2026-03")] == [3]


def test_duplicates_across_requests_are_charged_once(world, api) -> None:
    tid = world.tenant()
    ann = world.user(tid, ["communications_credits"])
    world.fund(tid)
    rec = {"id": "7c8a0f5e-1", "tenant_id": tid, "call_type": "user_out", "caller": "+12025550100",
           "callee": "+442079460000", "started_at": CALL_AT, "duration_seconds": 61, "user_id": ann}
    first = api.call("POST", "/v1/cdrs", json={"records": [rec]}).json()
    second = api.call("POST", "/v1/cdrs", json={"records": [rec, {**rec}]}).json()
    assert first["results"][0]["status"] == "charged"
    assert [r["status"] for r in second["results"]] == ["duplicate", "duplicate"]
    assert second["results"][0]["charge"] == first["results"][0]["charge"] == "0.03"
    assert world.balance(tid) == "49.97"


def test_rejections_name_their_reason_and_keep_the_rest(world) -> None:
    tid = world.tenant()
    ann = world.user(tid, ["communications_credits"])
    base = {"tenant_id": tid, "call_type": "user_out", "caller": "+12025550100", "started_at": CALL_AT,
            "user_id": ann, "callee": "+442079460000", "duration_seconds": 60}
    records = [
        {**base, "id": "ok-1"},
        {**base, "id": "bad-tenant", "tenant_id": "nope"},
        {**base, "id": "bad-number", "callee": "+999"},
        {**base, "id": "negative", "duration_seconds": -5},
        {**base, "id": "no-rate", "call_type": "conf_out", "organizer_id": ann, "callee": "+33142685300"},
        {**base, "id": "bad-type", "call_type": "fax"},
        {**base, "id": "bad-time", "started_at": "yesterday"},
        {**base, "id": "stranger", "user_id": "someone-else"},
        {**base, "id": "ok-2"},
    ]
    results = {r.id: r.as_json() for r in charge_records(world.rt, records)}
    codes = {k: (v["error"] or {}).get("code") if v["status"] == "rejected" else v["status"] for k, v in results.items()}
    assert codes == {"ok-1": "charged", "bad-tenant": "unknown_tenant", "bad-number": "invalid_number",
                     "negative": "negative_duration", "no-rate": "no_rate", "bad-type": "invalid_call_type",
                     "bad-time": "invalid_time", "stranger": "unknown_user", "ok-2": "charged"}
    assert world.balance(tid) == "-0.06"  # two calls of 0.025 -> 0.03 each


def test_pool_thresholds_notify_at_80_and_100_percent_once(world, rt) -> None:
    subscriptions.set_allowance(rt, OPERATOR, product="domestic_calling_plan", kind="domestic", country="US", minutes=5)
    tid = world.tenant(products={"domestic_calling_plan": 1})
    ann = world.user(tid, ["domestic_calling_plan", "communications_credits"], roles=["global_administrator"])
    for seconds in (180, 60, 30, 60, 60):
        world.call(tid, "+12025550123", seconds, user=ann)
    with rt.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.event, outbox.c.payload).where(outbox.c.tenant_id == tid)).all()
    marks = sorted(json.loads(p)["percent"] for e, p in rows if e == "pool_threshold")
    assert marks == [80, 100]


def test_balance_depleted_is_told_once_per_crossing(world, rt) -> None:
    tid = world.tenant()
    ann = world.user(tid, ["communications_credits"], roles=["billing_administrator"])
    world.fund(tid, "50.00")
    world.call(tid, "+442079460000", 1_200, user=ann)  # 0.50
    world.call(tid, "+19005550100", 25 * 60, user=ann)  # 25 x 1.99 + 0.25 = 50.00 -> balance -0.50
    world.call(tid, "+442079460000", 60, user=ann)
    with rt.engine.connect() as conn:
        events = conn.execute(select(outbox.c.event).where(outbox.c.tenant_id == tid)).scalars().all()
    assert events.count("balance_depleted") == 1


def test_migrating_tenant_spends_credits_then_switches_to_postpaid(world, rt) -> None:
    from commcredits.db import tenants as tenant_db

    tid = world.tenant()
    ann = world.user(tid, ["communications_credits"])
    world.fund(tid, "50.00")
    with rt.engine.begin() as conn:
        tenant_db.set_fields(conn, tid, billing_mode="migrating")
    r = world.call(tid, "+19005550100", 30 * 60, user=ann)  # 30 x 1.99 + 0.25 = 59.95
    assert (r["charge"], r["funding"], r["capability"]) == ("59.95", "mixed", "communications_credits, postpaid")
    assert world.balance(tid) == "0.00"
    assert tenants.get_tenant(rt, OPERATOR, tid).billing_mode == "postpaid"
    r = world.call(tid, "+442079460000", 60, user=ann)
    assert (r["funding"], world.balance(tid)) == ("postpaid", "0.00")


def test_started_at_must_carry_a_zone(world) -> None:
    tid = world.tenant()
    out = charge_records(world.rt, [{"id": "x", "tenant_id": tid, "call_type": "user_in", "callee": "+12025550123",
                                     "started_at": datetime(2026, 1, 1).isoformat(), "duration_seconds": 5}])
    assert out[0].as_json()["error"]["code"] == "invalid_time"
    _ = UTC
