"""Logins, sessions, CSRF and who sees what in the admin center, over HTTP (both databases)."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import pytest
from tests.web.support import PASSWORD, client_for, csrf_of, login, make_org

from commcredits.db import tokens as token_db
from commcredits.services.access import login_throttle, web_auth
from commcredits.services.access.login_throttle import LoginThrottle
from commcredits.services.access.principal import OPERATOR


def test_login_sets_a_safe_cookie_and_logout_ends_the_session(rt) -> None:
    org = make_org(rt, kinds=("billing",))
    client = client_for(rt)
    r = login(client, org.email("billing"))
    assert r.status_code == 303 and r.headers["location"] == "/admin/"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("cc_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test
    secret = client.cookies.get("cc_session")
    page = client.get("/admin/", follow_redirects=True)
    assert page.status_code == 200 and "Communications Credits" in page.text
    assert page.headers["cache-control"] == "no-store" and "frame-ancestors 'none'" in page.headers[
        "content-security-policy"]
    out = client.post("/admin/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/admin/login?ended=1"
    replay = client_for(rt)
    replay.cookies.set("cc_session", secret or "", path="/admin")
    again = replay.get(f"/admin/t/{org.tid}/billing", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/admin/login?next=")


def test_the_cookie_is_secure_over_https(rt) -> None:
    org = make_org(rt, kinds=("billing",))
    r = login(client_for(rt, "https://testserver"), org.email("billing"))
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("cc_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_sessions_expire_when_idle_and_after_twelve_hours(rt, clock) -> None:
    org = make_org(rt, kinds=("billing",))
    client = client_for(rt)
    login(client, org.email("billing"))
    billing = f"/admin/t/{org.tid}/billing"
    logged_in_at = clock.now()
    while clock.now() + timedelta(minutes=25) < logged_in_at + web_auth.SESSION_MAX:
        clock.set(clock.now() + timedelta(minutes=25))  # active every 25 minutes: never idle ...
        assert client.get(billing, follow_redirects=False).status_code == 200
    clock.set(logged_in_at + web_auth.SESSION_MAX)
    # ... but 12 hours after the login the session is over
    assert client.get(billing, follow_redirects=False).status_code == 303
    login(client, org.email("billing"))
    assert client.get(billing, follow_redirects=False).status_code == 200
    clock.set(clock.now() + web_auth.SESSION_IDLE)
    r = client.get(billing, follow_redirects=False)
    assert r.status_code == 303 and "/admin/login" in r.headers["location"]


def test_a_post_without_the_csrf_token_is_refused(rt, api) -> None:
    org = make_org(rt, kinds=("billing",))
    pm = api.card(org.tid)
    client = client_for(rt)
    login(client, org.email("billing"))
    body = {"amount": "60.00", "payment_method_id": pm, "idempotency_key": "k1"}
    r = client.post(f"/admin/t/{org.tid}/billing/funds", data=body)
    assert r.status_code == 403 and "The form could not be accepted" in r.text
    token = csrf_of(client.get(f"/admin/t/{org.tid}/billing").text)
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")  # always another token (not "..00" for "..00")
    wrong = client.post(f"/admin/t/{org.tid}/billing/funds", data={**body, "csrf_token": altered})
    assert wrong.status_code == 403
    cross = client.post(f"/admin/t/{org.tid}/billing/funds", data={**body, "csrf_token": token},
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert api.balance(org.tid)["balance"] == "0.00"
    ok = client.post(f"/admin/t/{org.tid}/billing/funds", data={**body, "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303 and api.balance(org.tid)["balance"] == "60.00"


def test_the_login_form_needs_its_own_csrf_cookie(rt) -> None:
    org = make_org(rt, kinds=("billing",))
    client = client_for(rt)
    r = client.post("/admin/login", data={"email": org.email("billing"), "password": PASSWORD, "csrf_token": "x"})
    assert r.status_code == 403 and "cc_session" not in client.cookies


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def throttle(rt) -> Ticks:  # type: ignore[no-untyped-def]
    ticks = Ticks()
    rt.caches["login_throttle"] = LoginThrottle(now=ticks)
    return ticks


def test_failed_logins_slow_down_and_never_lock(rt) -> None:
    org = make_org(rt, kinds=("billing",))
    ticks = throttle(rt)
    client = client_for(rt)
    for _ in range(login_throttle.CLIENT_FREE + 1):
        r = login(client, org.email("billing"), "not the password at all")
        assert r.status_code == 401 and "not right" in r.text
    waiting = login(client, org.email("billing"))  # the right password, but this client must wait
    assert waiting.status_code == 429 and waiting.headers["retry-after"] == "1" and "try again in 1 second" in waiting.text
    unknown = login(client, "nobody@nowhere.example")
    assert unknown.status_code == 429  # the client waits, whatever address it tries
    ticks.t += 1.5
    assert login(client, org.email("billing")).status_code == 303


def test_the_wait_doubles_up_to_a_cap_and_is_forgotten() -> None:
    ticks = Ticks()
    t = LoginThrottle(now=ticks)
    waits = []
    for _ in range(20):
        t.failed("10.0.0.1", "ann@example.com")
        waits.append(t.wait_seconds("10.0.0.1", None))
        ticks.t += waits[-1]  # the guesser waits its turn, then guesses again
    assert waits[:5] == [0] * 5 and waits[5:10] == [1, 2, 4, 8, 16]
    assert max(waits) == login_throttle.CLIENT_CAP
    ticks.t += login_throttle.FORGET + 1
    t.failed("10.0.0.1", "ann@example.com")
    assert t.wait_seconds("10.0.0.1", None) == 0  # forgotten: the count starts again


def test_a_stranger_cannot_keep_an_admin_out(rt) -> None:
    """Guesses on an admin's address from many clients make the admin wait at most a minute."""
    org = make_org(rt, kinds=("global",))
    ticks = throttle(rt)
    email, longest = org.email("global"), 0
    for n in range(200):  # a botnet: every guess from another address, as soon as allowed
        wait = rt.caches["login_throttle"].wait_seconds("198.51.100.7", email)
        longest = max(longest, wait)
        ticks.t += wait
        with pytest.raises(web_auth.LoginFailed):
            web_auth.login(rt, email=email, password=f"guess number {n}", client=f"203.0.113.{n % 250}")
    assert longest == login_throttle.ACCOUNT_CAP
    with pytest.raises(web_auth.LoginThrottled) as refused:
        web_auth.login(rt, email=email, password=PASSWORD, client="198.51.100.7")
    assert refused.value.extra["retry_after"] <= login_throttle.ACCOUNT_CAP
    ticks.t += login_throttle.ACCOUNT_CAP
    assert web_auth.login(rt, email=email, password=PASSWORD, client="198.51.100.7")


def test_a_waiting_address_looks_the_same_whether_or_not_it_exists(rt) -> None:
    org = make_org(rt, kinds=("billing",))
    throttle(rt)
    answers = {}
    for email in (org.email("billing"), "nobody@nowhere.example"):
        for n in range(login_throttle.ACCOUNT_FREE + 1):
            with pytest.raises(web_auth.LoginFailed) as failed:
                web_auth.login(rt, email=email, password="wrong wrong wrong", client=f"192.0.2.{n}")
        with pytest.raises(web_auth.LoginThrottled) as refused:
            web_auth.login(rt, email=email, password="wrong wrong wrong", client="192.0.2.200")
        answers[email] = (failed.value.detail, refused.value.detail, refused.value.status)
    known, unknown = answers.values()
    assert known == unknown and known[2] == 429


def test_a_login_takes_as_long_whether_or_not_the_address_exists(rt, monkeypatch) -> None:
    """The reported oracle: 5 ms for a real admin, 125 ms for an unknown address. With the
    production hasher, medians of wrong-password logins on both must be close."""
    monkeypatch.undo()  # the production hasher, not the tests' cheap one
    org = make_org(rt, kinds=("global",))
    known: list[float] = []
    unknown: list[float] = []
    throttle(rt)
    for email, times in ((org.email("global"), known), ("nobody@nowhere.example", unknown)):
        for _ in range(login_throttle.CLIENT_FREE):  # as the report did: after 5 failures ...
            with pytest.raises(web_auth.LoginFailed):
                web_auth.login(rt, email=email, password="a wrong password", client=f"one client for {email}")
        for n in range(login_throttle.ACCOUNT_FREE - login_throttle.CLIENT_FREE):  # ... time the next ones
            start = time.perf_counter()
            with pytest.raises(web_auth.LoginFailed):
                web_auth.login(rt, email=email, password="a wrong password", client=f"192.0.2.{10 + n}")
            times.append(time.perf_counter() - start)
    ratio = statistics.median(known) / statistics.median(unknown)
    assert 0.5 < ratio < 2.0, (statistics.median(known), statistics.median(unknown))


def test_nobody_sees_another_tenant(rt) -> None:
    mine, theirs = make_org(rt, "Fabrikam", kinds=("global",)), make_org(rt, "Northwind", kinds=("global",))
    client = client_for(rt)
    login(client, mine.email("global"))
    for path in ("billing", "usage", "licenses", "notifications", "postpaid", "payment-methods",
                 "usage/export?format=csv"):
        r = client.get(f"/admin/t/{theirs.tid}/{path}")
        assert r.status_code == 404 and "Not found" in r.text and "Northwind" not in r.text, path
    r = client.post(f"/admin/t/{theirs.tid}/billing/funds",
                    data={"csrf_token": csrf_of(client.get(f"/admin/t/{mine.tid}/billing").text), "amount": "60"})
    assert r.status_code == 404


def test_a_user_with_no_admin_role_sees_no_access(rt) -> None:
    org = make_org(rt, kinds=("nobody",))
    client = client_for(rt)
    login(client, org.email("nobody"))
    for path in ("billing", "usage", "licenses", "usage/export?format=csv"):
        r = client.get(f"/admin/t/{org.tid}/{path}")
        assert r.status_code == 403 and "No access" in r.text and "Balance" not in r.text, path


def test_roles_are_read_on_every_request(rt) -> None:
    org = make_org(rt, kinds=("global", "helpdesk"))
    client = client_for(rt)
    login(client, org.email("helpdesk"))
    assert client.get(f"/admin/t/{org.tid}/billing").status_code == 200
    from commcredits.services.access import tenants as tenant_svc

    tenant_svc.update_user(rt, OPERATOR, org.tid, org.uid("helpdesk"), {"roles": []})
    assert client.get(f"/admin/t/{org.tid}/billing").status_code == 403


def test_password_api_operator_or_the_user_themself(api, rt) -> None:
    org = make_org(rt, kinds=("global", "billing"))
    path = f"/v1/tenants/{org.tid}/users/{org.uid('billing')}/password"
    client = client_for(rt)
    login(client, org.email("billing"))
    assert api.call("PUT", path, json={"password": "a brand new passphrase"}).status_code == 204
    assert client.get(f"/admin/t/{org.tid}/billing", follow_redirects=False).status_code == 303  # sessions ended
    with rt.engine.begin() as conn:
        _, own = token_db.issue(conn, kind="user", now=rt.clock.now(), tenant_id=org.tid, user_id=org.uid("billing"))
        _, boss = token_db.issue(conn, kind="user", now=rt.clock.now(), tenant_id=org.tid, user_id=org.uid("global"))
    assert api.call("PUT", path, own, json={"password": "my own choice of words"}).status_code == 204
    refused = api.call("PUT", path, boss, json={"password": "the boss decides this"})
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    short = api.call("PUT", path, own, json={"password": "short"})
    assert short.status_code == 422 and short.json()["code"] == "validation_error"
    other = make_org(rt, "Northwind", kinds=("global",))
    assert api.call("PUT", f"/v1/tenants/{other.tid}/users/{other.uid('global')}/password", own,
                    json={"password": "not my tenant at all"}).status_code == 404
    assert login(client_for(rt), org.email("billing"), "my own choice of words").status_code == 303


def test_the_same_email_in_two_tenants_asks_for_the_organisation(rt) -> None:
    a, b = make_org(rt, "Fabrikam", kinds=("global",)), make_org(rt, "Fabrikam Two", kinds=("global",))
    from commcredits.services.access import tenants as tenant_svc

    shared = "pat@shared.example"
    for org in (a, b):
        user = tenant_svc.create_user(rt, OPERATOR, org.tid, email=shared, display_name="Pat", usage_location="US",
                                      roles=["global_administrator"])
        web_auth.set_password(rt, OPERATOR, org.tid, user.id, PASSWORD)
    client = client_for(rt)
    r = login(client, shared)
    assert r.status_code == 401 and "Organisation ID" in r.text
    assert login(client, shared, tenant_id=b.tid).status_code == 303
    assert b.tid in client.get("/admin/", follow_redirects=False).headers["location"]


def test_account_page_changes_the_password(rt) -> None:
    org = make_org(rt, kinds=("billing",))
    client, other = client_for(rt), client_for(rt)
    login(client, org.email("billing"))
    login(other, org.email("billing"))
    token = csrf_of(client.get("/admin/account").text)
    bad = client.post("/admin/account/password", data={"csrf_token": token, "current": "wrong one entirely",
                                                       "new": "a fresh passphrase", "repeat": "a fresh passphrase"})
    assert bad.status_code == 422 and "current password is not right" in bad.text
    ok = client.post("/admin/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                      "new": "a fresh passphrase", "repeat": "a fresh passphrase"})
    assert ok.status_code == 200 and "Your password was changed" in ok.text
    assert client.get(f"/admin/t/{org.tid}/billing", follow_redirects=False).status_code == 200
    assert other.get(f"/admin/t/{org.tid}/billing", follow_redirects=False).status_code == 303


def test_operator_view_lists_tenants_and_records_a_mitigation(rt, api) -> None:
    make_org(rt, "Fabrikam", kinds=("global",))
    abroad = make_org(rt, "Contoso", kinds=("global",), billing_country="DE")
    client = client_for(rt)
    form = client.get("/admin/operator/login")
    r = client.post("/admin/operator/login", data={"token": api.operator_token, "csrf_token": csrf_of(form.text)})
    assert r.status_code == 200 and "Fabrikam" in r.text and "region mismatch" in r.text
    assert "Record support mitigation" in r.text
    done = client.post(f"/admin/operator/tenants/{abroad.tid}/mitigate", data={"csrf_token": csrf_of(r.text)})
    assert "Support mitigation recorded" in done.text and "region mismatch" not in done.text
    assert client.get(f"/admin/t/{abroad.tid}/billing").status_code == 200
    user = client_for(rt)
    login(user, abroad.email("global"))
    assert user.get("/admin/operator").status_code == 403
    bad = client_for(rt)
    form = bad.get("/admin/operator/login")
    assert bad.post("/admin/operator/login", data={"token": "cco_nope", "csrf_token": csrf_of(form.text)}
                    ).status_code == 401


def test_errors_are_pages_in_plain_words(rt) -> None:
    org = make_org(rt, kinds=("global",))
    client = client_for(rt)
    login(client, org.email("global"))
    missing = client.get("/admin/no-such-page")
    assert missing.status_code == 404 and "There is no such page" in missing.text
    bad_date = client.get(f"/admin/t/{org.tid}/usage", params={"from": "31/01/2026"})
    assert bad_date.status_code == 422 and "such as 2026-01-31" in bad_date.text
    assert 'id="usage-from-error"' in bad_date.text  # next to the From field
    receipt = client.get(f"/admin/t/{org.tid}/receipts/nope")
    assert receipt.status_code == 404 and "Traceback" not in receipt.text
    assert client.get("/", follow_redirects=False).headers["location"] == "/admin/"


def test_passwords_are_stored_as_argon2id_hashes(rt, monkeypatch) -> None:
    monkeypatch.undo()  # the production hasher, not the tests' cheap one
    org = make_org(rt, kinds=("billing",))
    from sqlalchemy import select

    from commcredits.db.schema_web import user_passwords

    with rt.engine.connect() as conn:
        stored = conn.execute(select(user_passwords.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and "m=65536,t=3" in stored and PASSWORD not in stored
    assert login(client_for(rt), org.email("billing")).status_code == 303


def test_absurd_login_fields_fail_like_any_wrong_password(rt) -> None:
    make_org(rt, kinds=("billing",))
    throttle(rt)
    client = client_for(rt)
    for email, password in (("a\x00b@example.com", "whatever password"), ("x" * 5000 + "@example.com", "pw"),
                            ("ann@example.com", "p" * 20_000)):
        r = login(client, email, password)
        assert r.status_code == 401 and "not right" in r.text
    r = login(client, "ann@example.com", "some password", tenant_id="t\x00" + "x" * 100)
    assert r.status_code == 401 and "not right" in r.text
