"""Spend controls, per-user dial-out policies and per-currency purchase limits over HTTP:
who may change them, bounds on every field, and the journal of changes."""

from __future__ import annotations

import pytest


def test_defaults_change_and_journal(api) -> None:
    tid = api.tenant()
    _, billing = api.user(tid, ["billing_administrator"], email="bill@fabrikam.example")
    _, helpdesk = api.user(tid, ["helpdesk_administrator"])
    r = api.call("GET", f"/v1/tenants/{tid}/spend-controls", helpdesk)
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in ("dial_out_policy", "daily_limit", "monthly_limit", "user_daily_limit",
                                 "low_balance_threshold", "max_auto_recharges_per_day")} == {
        "dial_out_policy": "all", "daily_limit": None, "monthly_limit": None, "user_daily_limit": None,
        "low_balance_threshold": None, "max_auto_recharges_per_day": 5}
    assert body["changes"] == []
    denied = api.call("PUT", f"/v1/tenants/{tid}/spend-controls", helpdesk, json={"daily_limit": "10.00"})
    assert denied.status_code == 403 and denied.json()["code"] == "forbidden"

    r = api.call("PUT", f"/v1/tenants/{tid}/spend-controls", billing,
                 json={"dial_out_policy": "domestic_only", "daily_limit": "200.00", "low_balance_threshold": "25"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["dial_out_policy"], body["daily_limit"], body["low_balance_threshold"], body["monthly_limit"]) == \
        ("domestic_only", "200.00", "25.00", None)
    changes = {c["field"]: c for c in body["changes"]}
    assert changes["daily_limit"]["old"] is None and changes["daily_limit"]["new"] == "200.00"
    assert changes["dial_out_policy"]["old"] == "all" and changes["dial_out_policy"]["new"] == "domestic_only"
    assert "bill@fabrikam.example" in changes["daily_limit"]["changed_by"]
    assert changes["daily_limit"]["changed_at"] == "2026-01-15T10:00:00Z"

    r = api.call("PUT", f"/v1/tenants/{tid}/spend-controls", json={"daily_limit": None})  # the operator
    assert r.status_code == 200 and r.json()["daily_limit"] is None and r.json()["dial_out_policy"] == "domestic_only"
    latest = r.json()["changes"][0]
    assert (latest["field"], latest["old"], latest["new"], latest["changed_by"]) == \
        ("daily_limit", "200.00", None, "operator")
    same = api.call("PUT", f"/v1/tenants/{tid}/spend-controls", json={"daily_limit": None})
    assert len(same.json()["changes"]) == len(r.json()["changes"])  # no change, no journal row


@pytest.mark.parametrize("body", [
    {"dial_out_policy": "premium_only"}, {"dial_out_policy": None}, {"daily_limit": 10},
    {"daily_limit": "-1.00"}, {"daily_limit": "1.001"}, {"daily_limit": "1e3"}, {"monthly_limit": "9" * 41},
    {"user_daily_limit": "10000001.00"}, {"max_auto_recharges_per_day": 0}, {"max_auto_recharges_per_day": 101},
    {"max_auto_recharges_per_day": "5"}, {"max_auto_recharges_per_day": None}, {"cap": "1.00"},
])
def test_every_field_is_bounded(api, body: dict[str, object]) -> None:
    tid = api.tenant()
    r = api.call("PUT", f"/v1/tenants/{tid}/spend-controls", json=body)
    assert r.status_code == 422 and r.json()["code"] == "validation_error", r.text


def test_other_tenants_are_not_found(api) -> None:
    tid, other = api.tenant(), api.tenant(name="Contoso")
    _, billing = api.user(tid, ["billing_administrator"])
    assert api.call("GET", f"/v1/tenants/{other}/spend-controls", billing).status_code == 404
    assert api.call("PUT", f"/v1/tenants/{other}/spend-controls", billing, json={}).status_code == 404


def test_user_dial_out_policy(api) -> None:
    tid = api.tenant()
    uid, _ = api.user(tid, [])
    _, billing = api.user(tid, ["billing_administrator"])
    _, licenses = api.user(tid, ["license_administrator"])
    r = api.call("PATCH", f"/v1/tenants/{tid}/users/{uid}", billing, json={"dial_out_policy": "none"})
    assert r.status_code == 200, r.text
    assert r.json()["dial_out_policy"] == "none" and r.json()["id"] == uid
    refused = api.call("PATCH", f"/v1/tenants/{tid}/users/{uid}", licenses, json={"dial_out_policy": "all"})
    assert refused.status_code == 403
    moved = api.call("PATCH", f"/v1/tenants/{tid}/users/{uid}", licenses, json={"usage_location": "GB"})
    assert moved.status_code == 200 and moved.json()["dial_out_policy"] == "none"
    assert api.call("PATCH", f"/v1/tenants/{tid}/users/{uid}", billing,
                    json={"dial_out_policy": "sometimes"}).status_code == 422
    back = api.call("PATCH", f"/v1/tenants/{tid}/users/{uid}", billing, json={"dial_out_policy": None})
    assert back.status_code == 200 and back.json()["dial_out_policy"] is None
    journal = api.call("GET", f"/v1/tenants/{tid}/spend-controls").json()["changes"]
    assert [(c["user_id"], c["old"], c["new"]) for c in journal] == [(uid, "none", None), (uid, None, "none")]


def test_purchase_limits_per_currency(api) -> None:
    seeds = {c: api.call("GET", f"/v1/purchase-limits/{c}").json() for c in ("USD", "JPY", "KRW", "EUR", "BHD")}
    assert (seeds["USD"]["minimum"], seeds["USD"]["maximum"]) == ("50.00", "100000.00")
    assert (seeds["JPY"]["minimum"], seeds["JPY"]["maximum"]) == ("5000", "10000000")
    assert seeds["KRW"]["minimum"] == "5000" and seeds["KRW"]["source"] == "seed"
    assert seeds["BHD"]["minimum"] == "50.000"
    jp = api.tenant(name="Nippon", country="JP", currency="JPY", billing_country="JP", timezone="Asia/Tokyo")
    pm = api.card(jp)
    low = api.fund(jp, "50", pm)
    assert low.status_code == 422 and low.json()["code"] == "below_minimum" and "5,000" not in low.text
    assert "5000 JPY" in low.json()["detail"]
    assert api.fund(jp, "5000", pm).status_code == 201

    _, admin = api.user(jp, ["global_administrator"])
    assert api.call("PUT", "/v1/purchase-limits/JPY", admin, json={"minimum": "1", "maximum": "2"}).status_code == 403
    r = api.call("PUT", "/v1/purchase-limits/jpy", json={"minimum": "6000", "maximum": "9000000"})
    assert r.status_code == 200 and r.json() == {"currency": "JPY", "minimum": "6000", "maximum": "9000000",
                                                 "source": "operator"}
    assert api.fund(jp, "5000", pm).json()["code"] == "below_minimum"
    saved = api.call("PUT", f"/v1/tenants/{jp}/auto-recharge", admin,
                     json={"enabled": True, "amount": "5500", "trigger": "1000", "payment_method_id": pm})
    assert saved.status_code == 422 and saved.json()["code"] == "below_minimum"
    for bad in ({"minimum": "10", "maximum": "5"}, {"minimum": "0", "maximum": "5"}, {"minimum": "1.5", "maximum": "5"},
                {"minimum": 10, "maximum": "20"}, {"minimum": "10"}):
        assert api.call("PUT", "/v1/purchase-limits/JPY", json=bad).status_code == 422, bad
    assert api.call("GET", "/v1/purchase-limits/XYZ").status_code == 422
    assert api.call("GET", "/v1/purchase-limits/US1").status_code == 422
