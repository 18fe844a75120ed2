"""Bad input is a clear 422 problem, never a 500: empty and absurd values, NUL characters,
over-long strings and loosely typed JSON, on SQLite and PostgreSQL alike (PostgreSQL refuses
NUL in text, so the edge must refuse it for both)."""

from __future__ import annotations

import pytest


def problem(r, status: int = 422) -> dict:  # type: ignore[no-untyped-def, type-arg]
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = dict(r.json())
    assert body["status"] == status and body["code"]
    return body


def test_reported_server_errors_are_now_422(api) -> None:
    tid = api.tenant()
    problem(api.call("POST", "/v1/tokens", json={"kind": "switch", "tenant_id": ""}))
    for field in ("name", "rating_key", "timezone"):
        body = problem(api.call("PATCH", f"/v1/tenants/{tid}", json={field: None}))
        assert field in body["detail"]
    problem(api.call("PATCH", f"/v1/tenants/{tid}", json={"name": "   "}))
    for period in ("0000-01", "9999-12", "２０２６-01", "+202-01", "2026-13"):
        problem(api.call("GET", f"/v1/tenants/{tid}/statements", params={"period": period}))
    problem(api.call("GET", f"/v1/tenants/{tid}/minute-pools", params={"period": "0000-00"}))
    for advance in ("P99999999Y", "P9999Y", "PT99999999999H"):
        problem(api.call("POST", "/v1/sandbox/clock", json={"advance": advance}))
    problem(api.call("POST", f"/v1/tenants/{tid}/grants", json={
        "amount": "9223372036854.775807", "expires_at": "2027-01-01T00:00:00Z", "reason": "goodwill"}))
    card = {"card_number": "4242424242424242", "exp_month": 12, "exp_year": 2**70, "cvc": "123"}
    problem(api.call("POST", f"/v1/tenants/{tid}/payment-methods", json=card))
    problem(api.call("POST", f"/v1/tenants/{tid}/payment-methods", json={**card, "exp_year": 2030, "exp_month": 13}))
    pm = api.card(tid)
    problem(api.call("PATCH", f"/v1/tenants/{tid}/payment-methods/{pm}", json={"exp_month": 1, "exp_year": 2**70}))
    assert api.call("GET", f"/v1/tenants/{tid}").json()["name"] == "Fabrikam"


NUL, LONG = "a\x00b", "x" * 5000


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/tenants", {"name": NUL, "country": "US", "currency": "USD", "billing_country": "US"}),
    ("/v1/tenants", {"name": LONG, "country": "US", "currency": "USD", "billing_country": "US"}),
    ("/v1/tenants", {"name": "X", "country": NUL, "currency": "USD", "billing_country": "US"}),
    ("/v1/tenants", {"name": "X", "country": "US", "currency": "USD", "billing_country": "US", "rating_key": NUL}),
    ("/v1/tenants", {"name": "X", "country": "US", "currency": "USD", "billing_country": "US", "timezone": LONG}),
    ("/v1/tenants/{tid}/users", {"email": f"a{NUL}@example.com", "usage_location": "US"}),
    ("/v1/tenants/{tid}/users", {"email": LONG + "@example.com", "usage_location": "US"}),
    ("/v1/tenants/{tid}/users", {"email": "a@example.com", "usage_location": "US", "display_name": NUL}),
    ("/v1/tenants/{tid}/users", {"email": "a@example.com", "usage_location": "US", "roles": [NUL]}),
    ("/v1/tenants/{tid}/grants", {"amount": "1.00", "expires_at": "2027-01-01T00:00:00Z", "reason": NUL}),
    ("/v1/tenants/{tid}/funds", {"amount": "50.00", "payment_method_id": NUL}),
    ("/v1/tenants/{tid}/webhooks", {"url": "https://x.example/", "events": [NUL]}),
    ("/v1/tokens", {"kind": "switch", "tenant_id": NUL}),
    ("/v1/tenants/{tid}/subscriptions", {"product": NUL, "quantity": 1}),
])
def test_nul_and_overlong_strings_are_refused(api, path: str, body: dict) -> None:  # type: ignore[type-arg]
    tid = api.tenant()
    problem(api.call("POST", path.replace("{tid}", tid), headers={"Idempotency-Key": "k1"}, json=body))


def test_nul_in_a_url_is_refused_before_any_route(api) -> None:
    tid = api.tenant()
    problem(api.call("GET", "/v1/tenants/a%00b/balance"))
    problem(api.call("GET", f"/v1/tenants/{tid}/usage?user_id=a%00b"))
    problem(api.call("PATCH", f"/v1/tenants/{tid}", json={"name": NUL}))
    problem(api.call("PATCH", f"/v1/tenants/{tid}", json={"rating_key": LONG}))


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PUT", "/v1/tenants/{tid}/auto-recharge", {"enabled": 0}),
    ("PUT", "/v1/tenants/{tid}/auto-recharge", {"enabled": "false"}),
    ("PATCH", "/v1/tenants/{tid}", {"partner_funded": 1}),
    ("PATCH", "/v1/tenants/{tid}", {"purchase_mitigation": "true"}),
    ("POST", "/v1/tenants", {"name": "X", "country": "US", "currency": "USD", "billing_country": "US",
                             "partner_funded": "yes"}),
    ("POST", "/v1/tenants/{tid}/subscriptions", {"product": "audio_conferencing", "quantity": "5"}),
    ("POST", "/v1/tenants/{tid}/subscriptions", {"product": "audio_conferencing", "quantity": 5.0}),
    ("PUT", "/v1/minute-allowances", {"product": "domestic_calling_plan", "kind": "domestic", "country": "US",
                                      "minutes": "3000"}),
    ("POST", "/v1/tenants/{tid}/payment-methods", {"card_number": "4242424242424242", "exp_month": "12",
                                                   "exp_year": 2030, "cvc": "123"}),
    ("POST", "/v1/tenants/{tid}/payment-methods", {"card_number": "4242424242424242", "exp_month": 12,
                                                   "exp_year": True, "cvc": "123"}),
    ("POST", "/v1/tokens", {"kind": "switch", "tenant_id": {"a": 1}}),
    ("POST", "/v1/tenants/{tid}/funds", {"amount": "50.00", "payment_method_id": 12345}),
])
def test_loose_types_are_refused(api, method: str, path: str, body: dict) -> None:  # type: ignore[type-arg]
    tid = api.tenant()
    problem(api.call(method, path.replace("{tid}", tid), headers={"Idempotency-Key": "k2"}, json=body))


def test_strict_models_still_read_json_times_and_booleans(api) -> None:
    tid = api.tenant()
    r = api.call("POST", f"/v1/tenants/{tid}/grants", headers={"Idempotency-Key": "g1"},
                 json={"amount": "5.00", "expires_at": "2027-01-01T00:00:00Z", "reason": "goodwill"})
    assert r.status_code == 201, r.text
    r = api.call("PATCH", f"/v1/tenants/{tid}", json={"partner_funded": True, "name": "  Renamed  "})
    assert r.status_code == 200 and r.json()["partner_funded"] is True and r.json()["name"] == "Renamed"
    assert api.call("PUT", f"/v1/tenants/{tid}/auto-recharge", json={"enabled": False}).status_code == 200
    r = api.call("POST", "/v1/sandbox/clock", json={"advance": "PT1H"})
    assert r.status_code == 200, r.text


def test_a_card_number_is_stored_nowhere(api, rt) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from commcredits.db.registry import metadata

    tid = api.tenant()
    number = "4000056655665556"  # a sandbox test card
    pm = api.card(tid, number)
    assert api.fund(tid, "50.00", pm).status_code == 201
    with rt.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                assert number not in repr(tuple(row)) and number[-8:] not in repr(tuple(row)), table.name
