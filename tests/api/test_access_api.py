"""Who may do what, and nobody sees another tenant."""

from __future__ import annotations


def test_roles_and_tenants(api) -> None:
    tid = api.tenant()
    other = api.tenant(name="Other")
    _, billing = api.user(tid, ["billing_administrator"])
    _, helpdesk = api.user(tid, ["helpdesk_administrator"])
    _, nobody = api.user(tid, [])
    _, license_admin = api.user(tid, ["license_administrator"])
    pm = api.card(tid, token=billing)

    # any admin role sees balance and transactions; a user without one sees nothing
    assert api.call("GET", f"/v1/tenants/{tid}/balance", helpdesk).status_code == 200
    assert api.call("GET", f"/v1/tenants/{tid}/transactions", helpdesk).status_code == 200
    assert api.call("GET", f"/v1/tenants/{tid}/balance", nobody).status_code == 403
    # only global and billing admins move money
    r = api.fund(tid, "60.00", pm, token=helpdesk)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert api.call("GET", f"/v1/tenants/{tid}/payment-methods", helpdesk).status_code == 403
    # license, user account and global admins manage users
    body = {"email": "new@example.com", "usage_location": "US"}
    assert api.call("POST", f"/v1/tenants/{tid}/users", billing, json=body).status_code == 403
    assert api.call("POST", f"/v1/tenants/{tid}/users", license_admin, json=body).status_code == 201
    # another tenant's resources are 404, never 403
    for path in ("balance", "transactions", "users", "payment-methods"):
        r = api.call("GET", f"/v1/tenants/{other}/{path}", billing)
        assert r.status_code == 404 and r.json()["code"] == "not_found", path
    assert api.call("GET", f"/v1/tenants/{other}", billing).status_code == 404
    # operator-only endpoints
    assert api.call("GET", "/v1/tenants", billing).status_code == 403
    assert api.call("POST", "/v1/tenants", billing, json={}).status_code in (403, 422)


def test_authentication(api) -> None:
    tid = api.tenant()
    r = api.client.get(f"/v1/tenants/{tid}/balance")
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    r = api.call("GET", f"/v1/tenants/{tid}/balance", "not-a-token")
    assert r.status_code == 401


def test_switch_tokens_reach_only_call_control(api) -> None:
    tid = api.tenant()
    r = api.call("POST", "/v1/tokens", json={"kind": "switch", "tenant_id": tid})
    assert r.status_code == 201
    switch = r.json()["token"]
    assert api.call("GET", f"/v1/tenants/{tid}/balance", switch).status_code == 403
    assert api.call("DELETE", f"/v1/tokens/{r.json()['id']}").status_code == 204
    assert api.call("GET", f"/v1/tenants/{tid}/balance", switch).status_code == 401


def test_tenant_and_user_validation(api) -> None:
    bad = api.call("POST", "/v1/tenants", json={"name": "X", "country": "ZZ", "currency": "USD", "billing_country": "US"})
    assert bad.status_code == 422 and "country" in bad.json()["detail"]
    bad = api.call("POST", "/v1/tenants", json={"name": "X", "country": "US", "currency": "USD", "billing_country": "US", "timezone": "Mars/Base"})
    assert bad.status_code == 422
    tid = api.tenant()
    r = api.call("POST", f"/v1/tenants/{tid}/users", json={"email": "a@b.c", "usage_location": "US", "roles": ["king"]})
    assert r.status_code == 422 and "king" in r.json()["detail"]
    uid, _ = api.user(tid, [], email="dup@example.com")
    r = api.call("POST", f"/v1/tenants/{tid}/users", json={"email": "dup@example.com", "usage_location": "US"})
    assert r.status_code == 409
    r = api.call("PATCH", f"/v1/tenants/{tid}/users/{uid}", json={"licenses": ["international_calling_plan"]})
    assert r.status_code == 409 and r.json()["code"] == "license_unavailable"  # no subscription yet
    sub = api.call("POST", f"/v1/tenants/{tid}/subscriptions", json={"product": "international_calling_plan", "quantity": 1})
    assert sub.status_code == 201, sub.text
    r = api.call("PATCH", f"/v1/tenants/{tid}/users/{uid}", json={"licenses": ["international_calling_plan"], "roles": ["billing_administrator"]})
    assert r.status_code == 200 and r.json()["licenses"] == ["international_calling_plan"]
    uid2, _ = api.user(tid, [], email="third@example.com")
    r = api.call("PATCH", f"/v1/tenants/{tid}/users/{uid2}", json={"licenses": ["international_calling_plan"]})
    assert r.status_code == 409  # the one license is taken
    r = api.call("POST", f"/v1/tenants/{tid}/subscriptions", json={"product": "international_calling_plan", "quantity": 0})
    assert r.status_code == 409  # cannot drop below what is assigned
    api.user(tid, [], email="second@example.com")
    listed = api.call("GET", f"/v1/tenants/{tid}/users?limit=1").json()
    assert len(listed["items"]) == 1 and listed["next_cursor"]
    rest = api.call("GET", f"/v1/tenants/{tid}/users?limit=1&cursor={listed['next_cursor']}").json()
    assert rest["items"][0]["id"] != listed["items"][0]["id"]
