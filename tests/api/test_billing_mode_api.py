"""Moving to post-paid, and the monthly statement."""

from __future__ import annotations

from sqlalchemy import select
from tests.conftest import SHARED
from tests.services.test_charging_stories import World

from commcredits.db.schema_notify import outbox
from commcredits.services.access.principal import OPERATOR
from commcredits.services.rating import rating


def setup(rt):  # type: ignore[no-untyped-def]
    card = (SHARED / "testdata" / "sample-ratecard.csv").read_bytes()
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files={"card.csv": card}))
    world = World(rt)
    tid = world.tenant()
    ann = world.user(tid, ["communications_credits"], roles=["billing_administrator"])
    return world, tid, ann


def test_migration_spends_credits_first_then_bills_on_the_statement(api, rt) -> None:
    world, tid, ann = setup(rt)
    world.fund(tid, "50.00")
    r = api.call("POST", f"/v1/tenants/{tid}/billing-mode", json={"mode": "postpaid"})
    assert r.status_code == 200 and r.json()["billing_mode"] == "migrating"
    assert api.fund(tid, "60.00", api.card(tid)).json()["reason"] == "postpaid"
    world.call(tid, "+19005550100", 30 * 60, user=ann)  # 59.95: 50.00 from credits, 9.95 on the statement
    assert api.call("GET", f"/v1/tenants/{tid}").json()["billing_mode"] == "postpaid"
    world.call(tid, "+442079460000", 600, user=ann)  # 0.25 on the statement
    stmt = api.call("GET", f"/v1/tenants/{tid}/statements", params={"period": "2026-01"}).json()
    assert (stmt["total"], stmt["status"]) == ("10.20", "open")
    assert sum(line["calls"] for line in stmt["lines"]) == 2
    assert api.balance(tid)["balance"] == "0.00"


def test_migration_is_refused_while_auto_recharge_is_on(api, rt) -> None:
    _, tid, _ = setup(rt)
    pm = api.card(tid)
    on = api.call("PUT", f"/v1/tenants/{tid}/auto-recharge",
                  json={"enabled": True, "amount": "50.00", "trigger": "10.00", "payment_method_id": pm})
    assert on.status_code == 200, on.text
    r = api.call("POST", f"/v1/tenants/{tid}/billing-mode", json={"mode": "postpaid"})
    assert r.status_code == 409 and r.json()["code"] == "auto_recharge_on"
    bad = api.call("POST", f"/v1/tenants/{tid}/billing-mode", json={"mode": "prepaid"})
    assert bad.status_code == 422


def test_a_deficit_moves_to_the_first_statement_and_it_is_issued_after_the_month(api, rt) -> None:
    world, tid, ann = setup(rt)
    world.call(tid, "+442079460000", 600, user=ann)  # -0.25
    r = api.call("POST", f"/v1/tenants/{tid}/billing-mode", json={"mode": "postpaid"})
    assert r.json()["billing_mode"] == "postpaid"
    assert api.balance(tid)["balance"] == "0.00"
    stmt = api.call("GET", f"/v1/tenants/{tid}/statements", params={"period": "2026-01"}).json()
    assert stmt["total"] == "0.25" and stmt["items"][0]["description"].startswith("deficit")
    txns = api.call("GET", f"/v1/tenants/{tid}/transactions").json()["items"]
    assert txns[0]["type"] == "adjustment" and txns[0]["amount"] == "0.25"
    api.call("POST", "/v1/sandbox/clock", json={"now": "2026-02-01T06:00:00Z"})  # 1 Feb 01:00 in New York
    issued = api.call("GET", f"/v1/tenants/{tid}/statements", params={"period": "2026-01"}).json()
    assert issued["status"] == "issued" and issued["issued_at"] == "2026-02-01T05:00:00Z"
    with rt.engine.connect() as conn:
        events = conn.execute(select(outbox.c.event).where(outbox.c.tenant_id == tid)).scalars().all()
    assert events.count("statement_issued") == 1
    api.call("POST", "/v1/jobs/run")
    with rt.engine.connect() as conn:
        events = conn.execute(select(outbox.c.event).where(outbox.c.tenant_id == tid)).scalars().all()
    assert events.count("statement_issued") == 1
