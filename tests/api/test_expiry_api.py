"""Expiry: unusable from the instant, forfeited by the sweep, walked through by the clock."""

from __future__ import annotations

from datetime import timedelta

from commcredits.services.usage.usage_charges import charge_usage


def test_clock_advance_expires_lots_on_the_way(api, clock) -> None:
    tid = api.tenant()
    pm = api.card(tid)
    api.fund(tid, "100.00", pm)
    api.call("POST", "/v1/sandbox/clock", json={"advance": "P6M"})
    api.fund(tid, "60.00", pm)
    r = api.call("POST", "/v1/sandbox/clock", json={"advance": "P7M"})
    assert r.status_code == 200 and r.json()["expired_lots"] == 1, r.text
    bal = api.balance(tid)
    assert bal["balance"] == "60.00"
    txns = api.call("GET", f"/v1/tenants/{tid}/transactions").json()["items"]
    expiry = [t for t in txns if t["type"] == "expiry"]
    assert len(expiry) == 1 and expiry[0]["amount"] == "-100.00"
    # the expiry was written at the lot's expiry instant, not when the clock stopped
    assert expiry[0]["created_at"] == "2027-01-15T10:00:00Z"
    r = api.call("POST", "/v1/sandbox/clock", json={"advance": "P13M"})
    assert r.json()["expired_lots"] == 1
    assert api.balance(tid)["balance"] == "0.00"


def test_expired_lot_is_unusable_before_the_sweep(api, rt, clock) -> None:
    tid = api.tenant()
    api.fund(tid, "50.00", api.card(tid))
    clock.set(clock.now() + timedelta(days=366))  # no sweep has run
    assert api.balance(tid)["balance"] == "0.00"
    charge_usage(rt, tid, amount=1_000_000, reference_id="late")
    assert api.balance(tid)["balance"] == "-1.00"
    assert api.call("POST", "/v1/jobs/run").json()["expired_lots"] == 1
    assert api.call("POST", "/v1/jobs/run").json()["expired_lots"] == 0
    assert api.balance(tid)["balance"] == "-1.00"


def test_clock_rules(api) -> None:
    assert api.call("POST", "/v1/sandbox/clock", json={"advance": "13 months"}).status_code == 422
    assert api.call("POST", "/v1/sandbox/clock", json={}).status_code == 422
    r = api.call("POST", "/v1/sandbox/clock", json={"now": "2020-01-01T00:00:00Z"})
    assert r.status_code == 422 and "forward" in r.json()["detail"]
    r = api.call("POST", "/v1/sandbox/clock", json={"now": "2026-02-01T00:00:00Z"})
    assert r.status_code == 200 and r.json()["now"].startswith("2026-02-01")
