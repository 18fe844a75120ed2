"""Webhooks against a real local HTTP receiver: registered with a secret shown once, signed
deliveries that verify, retried through an outage, each arriving once (a crash between
sending and recording repeats it once, with the same delivery id), visible with status."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import timedelta

import pytest
from tests.notify.support import emit

from commcredits.notify import claims, webhooks
from commcredits.notify.webhooks import verify
from commcredits.services.jobs import run_due_jobs


@pytest.fixture(autouse=True)
def allow_local_receiver(rt) -> None:  # type: ignore[no-untyped-def]
    """The receiver runs on 127.0.0.1, an internal address: the operator allows it by name
    (COMMCREDITS_WEBHOOK_ALLOW_HOSTS), as a deployment with a receiver on its own network would."""
    rt.settings = dataclasses.replace(rt.settings, webhook_allow_hosts=frozenset({"127.0.0.1"}))


def register(api, tid: str, url: str, events: list[str], token: str | None = None) -> dict:  # type: ignore[no-untyped-def, type-arg]
    r = api.call("POST", f"/v1/tenants/{tid}/webhooks", token, json={"url": url, "events": events})
    assert r.status_code == 201, r.text
    return dict(r.json())


def deliveries(api, tid: str, wid: str) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    r = api.call("GET", f"/v1/tenants/{tid}/webhooks/{wid}/deliveries")
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_deliveries_survive_an_outage_arrive_once_and_verify(rt, api, clock, receiver) -> None:
    tid = api.tenant(name="Fabrikam")
    _, billing = api.user(tid, ["billing_administrator"])
    hook = register(api, tid, receiver.url, ["balance_depleted", "auto_recharge_failed"], billing)
    assert hook["secret"].startswith("whsec_") and hook["created_by"] == "user"
    listed = api.call("GET", f"/v1/tenants/{tid}/webhooks", billing).json()["items"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]

    emit(rt, tid, "balance_depleted", {"balance": "-3.50"})
    emit(rt, tid, "auto_recharge_failed", {"amount": "50.00", "reason": "card_declined", "balance": "-3.50",
                                           "next_retry_at": "2026-01-15T11:00:00Z"})
    emit(rt, tid, "funds_expiring", {"remaining": "5.00"})  # not subscribed
    start = clock.now()
    assert run_due_jobs(rt)["notifications"]["webhooks"] == {"retrying": 2}
    items = deliveries(api, tid, hook["id"])
    assert {d["status"] for d in items} == {"retrying"}
    assert all(d["attempts"] == 1 and "ConnectError" in d["last_error"] for d in items)
    assert {d["next_attempt_at"] for d in items} == {"2026-01-15T10:01:00Z"}

    receiver.start()
    receiver.status = 503  # up, but not ready
    clock.set(start + timedelta(minutes=1))
    assert run_due_jobs(rt)["notifications"]["webhooks"] == {"retrying": 2}
    assert {d["response_status"] for d in deliveries(api, tid, hook["id"])} == {503}
    receiver.status = 204
    clock.set(start + timedelta(minutes=3))
    assert run_due_jobs(rt)["notifications"]["webhooks"] == {"sent": 2}
    clock.set(start + timedelta(days=1))
    assert run_due_jobs(rt)["notifications"]["webhooks"] == {}

    accepted = receiver.requests[2:]
    assert len(accepted) == 2
    for request in accepted:
        assert verify(hook["secret"], request.headers["commcredits-signature"], request.body, now=time.time())
        assert not verify("whsec_wrong", request.headers["commcredits-signature"], request.body, now=time.time())
        body = json.loads(request.body)
        assert request.headers["commcredits-delivery"] == body["delivery_id"]
        assert request.headers["commcredits-event"] == body["event"] and body["tenant_id"] == tid
    by_event = {json.loads(r.body)["event"]: json.loads(r.body)["data"] for r in accepted}
    assert by_event["balance_depleted"] == {"balance": "-3.50"}
    assert by_event["auto_recharge_failed"]["amount"] == "50.00"
    # the body of a retry is the body of the first attempt
    assert {r.body for r in receiver.requests[:2]} == {r.body for r in accepted}
    items = deliveries(api, tid, hook["id"])
    assert {(d["status"], d["attempts"], d["response_status"]) for d in items} == {("sent", 3, 204)}
    listed = api.call("GET", f"/v1/tenants/{tid}/webhooks").json()["items"]
    assert listed[0]["deliveries"] == {"sent": 2}


def test_a_crash_after_posting_repeats_the_delivery_once_with_the_same_id(rt, api, clock, receiver, monkeypatch) -> None:
    tid = api.tenant()
    hook = register(api, tid, receiver.url, ["pool_threshold"])
    assert hook["created_by"] == "operator"
    receiver.start()
    emit(rt, tid, "pool_threshold", {"percent": 80, "product": "domestic_calling_plan",
                                     "used_minutes": 2400, "total_minutes": 3000})
    real_mark_sent = claims.mark_sent
    crashed: list[bool] = []

    def crash_once(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not crashed:
            crashed.append(True)
            raise ConnectionError("killed")
        return real_mark_sent(*args, **kwargs)

    monkeypatch.setattr(claims, "mark_sent", crash_once)
    with pytest.raises(ConnectionError):
        run_due_jobs(rt)
    assert deliveries(api, tid, hook["id"])[0]["status"] == "sending"
    clock.set(clock.now() + timedelta(minutes=5))
    assert run_due_jobs(rt)["notifications"]["webhooks"] == {"sent": 1}
    clock.set(clock.now() + timedelta(hours=3))
    assert run_due_jobs(rt)["notifications"]["webhooks"] == {}
    first, again = receiver.requests
    assert first.headers["commcredits-delivery"] == again.headers["commcredits-delivery"]
    assert first.body == again.body


def test_each_webhook_gets_its_own_delivery_and_a_deleted_one_gets_none(rt, api, clock, receiver) -> None:
    tid = api.tenant()
    keep = register(api, tid, receiver.url, ["balance_depleted"])
    drop = register(api, tid, receiver.url + "?second", ["balance_depleted"])
    emit(rt, tid, "balance_depleted", {"balance": "-1.00"})
    assert api.call("DELETE", f"/v1/tenants/{tid}/webhooks/{drop['id']}").status_code == 204
    emit(rt, tid, "balance_depleted", {"balance": "-2.00"})
    later = register(api, tid, receiver.url + "?late", ["balance_depleted"])  # after both events
    receiver.start()
    assert run_due_jobs(rt)["notifications"]["webhooks"] == {"sent": 2}
    assert {json.loads(r.body)["data"]["balance"] for r in receiver.requests} == {"-1.00", "-2.00"}
    assert {r.headers["commcredits-event"] for r in receiver.requests} == {"balance_depleted"}
    assert {h["id"] for h in api.call("GET", f"/v1/tenants/{tid}/webhooks").json()["items"]} == {keep["id"], later["id"]}
    assert api.call("GET", f"/v1/tenants/{tid}/webhooks/{drop['id']}/deliveries").status_code == 404


def test_webhook_access_and_validation(api) -> None:
    tid = api.tenant()
    other = api.tenant(name="Contoso")
    _, billing = api.user(tid, ["billing_administrator"])
    _, helpdesk = api.user(tid, ["helpdesk_administrator"])
    _, stranger = api.user(other, ["global_administrator"])
    good = {"url": "https://hooks.fabrikam.example/cc", "events": ["balance_depleted"]}
    assert api.call("POST", f"/v1/tenants/{tid}/webhooks", helpdesk, json=good).status_code == 403
    assert api.call("GET", f"/v1/tenants/{tid}/webhooks", helpdesk).status_code == 403
    assert api.call("POST", f"/v1/tenants/{tid}/webhooks", stranger, json=good).status_code == 404
    assert api.call("GET", f"/v1/tenants/{tid}/webhooks", stranger).status_code == 404
    hook = register(api, tid, good["url"], good["events"], billing)
    assert api.call("DELETE", f"/v1/tenants/{other}/webhooks/{hook['id']}", stranger).status_code == 404
    assert api.call("GET", f"/v1/tenants/{other}/webhooks/{hook['id']}/deliveries", stranger).status_code == 404
    for bad in ({"url": "ftp://x.example/", "events": ["balance_depleted"]},
                {"url": "https://u:p@x.example/", "events": ["balance_depleted"]},
                {"url": "https://x.example/", "events": []},
                {"url": "https://x.example/", "events": ["no_such_event"]}):
        r = api.call("POST", f"/v1/tenants/{tid}/webhooks", billing, json=bad)
        assert r.status_code == 422 and r.json()["code"] == "validation_error", r.text
    assert api.call("POST", "/v1/tenants/nope/webhooks", json=good).status_code == 404


INTERNAL = [
    "http://169.254.169.254/latest/meta-data/", "http://127.0.0.2:8080/hook", "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook", "http://0.0.0.0/hook", "http://10.0.0.7/hook", "http://192.168.1.10/hook",
    "http://172.16.5.5/hook", "http://100.64.0.1/hook", "http://[fe80::1]/hook", "http://[fd12:3456::1]/hook",
    "http://2130706433/hook", "http://127.1/hook", "http://localhost:9000/hook", "http://api.localhost/hook",
    "file:///etc/passwd", "gopher://example.com/", "http://[64:ff9b::a9fe:a9fe]/",
]


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_receivers_are_refused_at_registration(api, url: str) -> None:
    tid = api.tenant()
    r = api.call("POST", f"/v1/tenants/{tid}/webhooks", json={"url": url, "events": ["balance_depleted"]})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "validation_error" and r.headers["content-type"] == "application/problem+json"


def test_only_allowed_hosts_escape_the_check(rt, api) -> None:
    tid = api.tenant()
    body = {"url": "http://127.0.0.1:9/hook", "events": ["balance_depleted"]}
    assert api.call("POST", f"/v1/tenants/{tid}/webhooks", json=body).status_code == 201  # allowed by name
    rt.settings = dataclasses.replace(rt.settings, webhook_allow_hosts=frozenset())
    assert api.call("POST", f"/v1/tenants/{tid}/webhooks", json=body).status_code == 422
    public = {"url": "https://hooks.example.com/in", "events": ["balance_depleted"]}
    assert api.call("POST", f"/v1/tenants/{tid}/webhooks", json=public).status_code == 201


def test_a_name_that_resolves_inside_is_refused_at_delivery(rt, api, receiver, monkeypatch) -> None:
    """DNS rebinding: the name looked public at registration, and resolves to loopback when sent."""
    rt.settings = dataclasses.replace(rt.settings, webhook_allow_hosts=frozenset())
    receiver.start()
    tid = api.tenant()
    hook = register(api, tid, f"http://rebind.example:{receiver.port}/hooks", ["balance_depleted"])
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["93.184.216.34", "127.0.0.1"])
    emit(rt, tid, "balance_depleted", {"balance": "-1.00"})
    assert run_due_jobs(rt)["notifications"]["webhooks"] == {"retrying": 1}
    (delivery,) = deliveries(api, tid, hook["id"])
    assert "127.0.0.1" in delivery["last_error"] and "loopback" in delivery["last_error"]
    assert receiver.requests == []


def test_the_connection_goes_to_the_address_that_was_checked(rt, api, receiver, monkeypatch) -> None:
    """The checked address is the one connected to: the name is never resolved a second time
    (here the system resolver does not know it at all), and the Host header keeps the name."""
    rt.settings = dataclasses.replace(rt.settings, webhook_allow_hosts=frozenset())
    receiver.start()
    tid = api.tenant()
    hook = register(api, tid, f"http://pinned.invalid:{receiver.port}/hooks", ["balance_depleted"])
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["127.0.0.1"])
    real = webhooks.internal_reason
    monkeypatch.setattr(webhooks, "internal_reason", lambda ip: None if str(ip) == "127.0.0.1" else real(ip))
    emit(rt, tid, "balance_depleted", {"balance": "-1.00"})
    assert run_due_jobs(rt)["notifications"]["webhooks"] == {"sent": 1}, deliveries(api, tid, hook["id"])
    assert receiver.requests[0].headers["host"] == f"pinned.invalid:{receiver.port}"
