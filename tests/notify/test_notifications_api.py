"""`GET /v1/tenants/{tid}/notifications`: every notification with its status, newest first,
paginated; any admin of the tenant may read it, nobody else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.notify.support import emit, use_smtp


def test_list_pages_newest_first_with_status_and_subject(rt, api, clock) -> None:
    tid = api.tenant(name="Fabrikam")
    api.user(tid, ["billing_administrator"], "bill@fabrikam.example")
    ids = []
    for i in range(5):
        ids.append(emit(rt, tid, "balance_depleted", {"balance": f"-{i}.00"}))
        clock.set(clock.now() + timedelta(minutes=1))
    page = api.call("GET", f"/v1/tenants/{tid}/notifications?limit=2").json()
    assert [n["id"] for n in page["items"]] == ids[::-1][:2]
    first = page["items"][0]
    assert first == {
        "id": ids[4], "event": "balance_depleted", "recipients": ["bill@fabrikam.example"],
        "subject": "Fabrikam: Communications Credits balance is -4.00 USD", "status": "pending",
        "attempts": 0, "last_error": None, "created_at": "2026-01-15T10:04:00Z", "sent_at": None,
        "next_attempt_at": "2026-01-15T10:04:00Z", "payload": {"balance": "-4.00"},
    }
    seen = [n["id"] for n in page["items"]]
    while page["next_cursor"]:
        page = api.call("GET", f"/v1/tenants/{tid}/notifications?limit=2&cursor={page['next_cursor']}").json()
        seen += [n["id"] for n in page["items"]]
    assert seen == ids[::-1]
    bad = api.call("GET", f"/v1/tenants/{tid}/notifications?cursor=not-a-cursor")
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"


def test_dedupe_key_stores_an_event_once(rt, api) -> None:
    tid = api.tenant()
    assert emit(rt, tid, "balance_depleted", {"balance": "0.00"}, dedupe_key="depleted:1") is not None
    assert emit(rt, tid, "balance_depleted", {"balance": "0.00"}, dedupe_key="depleted:1") is None
    assert len(api.call("GET", f"/v1/tenants/{tid}/notifications").json()["items"]) == 1


def test_any_admin_reads_the_list_nobody_else(rt, api) -> None:
    tid = api.tenant()
    other = api.tenant(name="Contoso")
    emit(rt, tid, "balance_depleted", {"balance": "0.00"})
    _, helpdesk = api.user(tid, ["teams_communications_support_engineer"])
    _, caller = api.user(tid, [])
    _, stranger = api.user(other, ["global_administrator"])
    path = f"/v1/tenants/{tid}/notifications"
    assert len(api.call("GET", path, helpdesk).json()["items"]) == 1
    assert api.call("GET", path, caller).status_code == 403
    r = api.call("GET", path, stranger)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert api.call("GET", f"/v1/tenants/{other}/notifications", stranger).json()["items"] == []
    assert api.call("GET", "/v1/tenants/missing/notifications").status_code == 404


def test_an_unrenderable_payload_is_retried_and_reported_not_sent_wrong(rt, api, clock, smtp) -> None:
    tid = api.tenant(name="Fabrikam")
    api.user(tid, ["billing_administrator"], "bill@fabrikam.example")
    emit(rt, tid, "auto_recharge_succeeded", {"amount": "50.00"})  # no balance
    use_smtp(rt, smtp.url)
    smtp.start()
    api.call("POST", "/v1/jobs/run")
    [n] = api.call("GET", f"/v1/tenants/{tid}/notifications").json()["items"]
    assert n["status"] == "retrying" and "balance" in n["last_error"]
    assert n["subject"] == "Fabrikam: auto-recharge added 50.00 USD"
    assert smtp.messages == []


def test_many_notifications_at_once_keep_one_per_key_their_admins_and_their_webhooks(rt, api) -> None:
    """Batch charging enqueues a batch's notifications together (`enqueue_many`): the same
    rules as one by one, for several tenants at once."""
    from commcredits.db.engine import write_tx
    from commcredits.notify.outbox import Notice, enqueue_many

    first, second = api.tenant(name="Fabrikam"), api.tenant(name="Contoso")
    api.user(first, ["billing_administrator"], "bill@fabrikam.example")
    api.user(first, [], "caller@fabrikam.example")  # not an admin: no mail
    api.user(second, ["global_administrator"], "admin@contoso.example")
    hook = api.call("POST", f"/v1/tenants/{second}/webhooks",
                    json={"url": "https://hooks.contoso.example/in", "events": ["pool_threshold"]}).json()
    assert emit(rt, first, "pool_threshold", {"percent": 50}, dedupe_key="pool:50") is not None
    with write_tx(rt.engine) as conn:
        ids = enqueue_many(conn, [
            Notice(first, "pool_threshold", {"percent": 50}, "pool:50"),  # stored before
            Notice(first, "pool_threshold", {"percent": 75}, "pool:75"),
            Notice(first, "pool_threshold", {"percent": 75}, "pool:75"),  # twice in the batch
            Notice(second, "pool_threshold", {"percent": 75}, "pool:75"),  # same key, other tenant
            Notice(second, "balance_depleted", {"balance": "0.00"}),  # no key: always stored
        ], now=rt.clock.now())
    assert [i is None for i in ids] == [True, False, True, False, False]
    listed = {t: api.call("GET", f"/v1/tenants/{t}/notifications").json()["items"] for t in (first, second)}
    assert sorted(n["payload"].get("percent", 0) for n in listed[first]) == [50, 75]
    assert {tuple(n["recipients"]) for n in listed[first]} == {("bill@fabrikam.example",)}
    assert {n["event"] for n in listed[second]} == {"pool_threshold", "balance_depleted"}
    assert {tuple(n["recipients"]) for n in listed[second]} == {("admin@contoso.example",)}
    deliveries = api.call("GET", f"/v1/tenants/{second}/webhooks/{hook['id']}/deliveries").json()["items"]
    assert [d["event"] for d in deliveries] == ["pool_threshold"]  # the hook's only subscribed event
    with pytest.raises(ValueError), write_tx(rt.engine) as conn:
        enqueue_many(conn, [Notice(first, "no_such_event", {})], now=rt.clock.now())
