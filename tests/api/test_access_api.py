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


def test_only_a_global_administrator_changes_admin_roles(api) -> None:
    tid = api.tenant()
    gid, glob = api.user(tid, ["global_administrator"])
    lid, license_admin = api.user(tid, ["license_administrator"])
    uaid, user_admin = api.user(tid, ["user_account_administrator"])
    plain, _ = api.user(tid, [])
    escalate = {"roles": ["global_administrator"]}
    for token, target, body in ((license_admin, lid, escalate), (user_admin, uaid, escalate),
                                (license_admin, plain, escalate), (user_admin, gid, {"roles": []})):
        r = api.call("PATCH", f"/v1/tenants/{tid}/users/{target}", token, json=body)
        assert r.status_code == 403, r.text
        assert r.json()["code"] in ("own_roles", "role_change_forbidden")
        assert r.headers["content-type"] == "application/problem+json"
    r = api.call("PATCH", f"/v1/tenants/{tid}/users/{lid}", license_admin, json=escalate)
    assert r.json()["code"] == "own_roles"
    r = api.call("PATCH", f"/v1/tenants/{tid}/users/{plain}", user_admin, json=escalate)
    assert r.json()["code"] == "role_change_forbidden"
    # creating a user with roles follows the same rule; without roles it is allowed
    body = {"email": "boss@example.com", "usage_location": "US", "roles": ["billing_administrator"]}
    r = api.call("POST", f"/v1/tenants/{tid}/users", user_admin, json=body)
    assert r.status_code == 403 and r.json()["code"] == "role_change_forbidden"
    r = api.call("POST", f"/v1/tenants/{tid}/users", user_admin, json={**body, "roles": []})
    assert r.status_code == 201
    # license and user account admins still manage licenses and usage locations
    r = api.call("PATCH", f"/v1/tenants/{tid}/users/{gid}", license_admin, json={"usage_location": "GB"})
    assert r.status_code == 200 and r.json()["usage_location"] == "GB"
    r = api.call("PATCH", f"/v1/tenants/{tid}/users/{plain}", user_admin, json={"display_name": "Renamed"})
    assert r.status_code == 200
    r = api.call("PATCH", f"/v1/tenants/{tid}/users/{gid}", user_admin, json={"display_name": "Renamed"})
    assert r.status_code == 403 and r.json()["code"] == "admin_user_protected"
    # sending the roles a user already has changes nothing and is allowed
    r = api.call("PATCH", f"/v1/tenants/{tid}/users/{gid}", license_admin, json={"roles": ["global_administrator"]})
    assert r.status_code == 200
    # a Global Administrator changes other users' roles, never their own
    r = api.call("PATCH", f"/v1/tenants/{tid}/users/{plain}", glob, json={"roles": ["billing_administrator"]})
    assert r.status_code == 200 and r.json()["roles"] == ["billing_administrator"]
    r = api.call("PATCH", f"/v1/tenants/{tid}/users/{gid}", glob, json={"roles": []})
    assert r.status_code == 403 and r.json()["code"] == "own_roles"
    users = {u["id"]: u["roles"] for u in api.call("GET", f"/v1/tenants/{tid}/users").json()["items"]}
    assert users[lid] == ["license_administrator"] and users[uaid] == ["user_account_administrator"]


def test_the_last_global_administrator_stays(api) -> None:
    tid = api.tenant()
    first, first_token = api.user(tid, ["global_administrator"])
    second, second_token = api.user(tid, ["global_administrator"])
    # one global admin removes the other: allowed while one remains
    r = api.call("PATCH", f"/v1/tenants/{tid}/users/{second}", first_token, json={"roles": []})
    assert r.status_code == 200 and r.json()["roles"] == []
    assert api.call("PATCH", f"/v1/tenants/{tid}/users/{first}", second_token, json={"roles": []}).status_code == 403
    # the operator may change anyone's roles, but not remove the last Global Administrator
    r = api.call("PATCH", f"/v1/tenants/{tid}/users/{first}", json={"roles": ["billing_administrator"]})
    assert r.status_code == 409 and r.json()["code"] == "last_global_administrator"
    assert api.call("PATCH", f"/v1/tenants/{tid}/users/{second}", json={"roles": ["global_administrator"]}).status_code == 200
    r = api.call("PATCH", f"/v1/tenants/{tid}/users/{first}", json={"roles": ["billing_administrator"]})
    assert r.status_code == 200
