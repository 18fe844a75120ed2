"""E-mail over a real SMTP server: an outage loses nothing, every message arrives once, to
the tenant's admins only; a crash between sending and recording yields at most one
duplicate with the same Message-ID; two dispatchers at once send each message once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from tests.notify.support import emit, use_smtp

from commcredits.notify import claims, dispatcher
from commcredits.services.jobs import run_due_jobs

DEPLETED = {"balance": "-3.50"}
RECHARGED = {"amount": "100.00", "balance": "96.50", "receipt_id": "rcpt_42", "payment_method": "Visa ****4242"}


def notifications(api, tid: str) -> list[dict]:  # type: ignore[type-arg]
    r = api.call("GET", f"/v1/tenants/{tid}/notifications")
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def two_tenants(api) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    tid = api.tenant(name="Fabrikam")
    api.user(tid, ["billing_administrator"], "bill@fabrikam.example")
    api.user(tid, ["helpdesk_administrator", "license_administrator"], "help@fabrikam.example")
    api.user(tid, [], "caller@fabrikam.example")
    other = api.tenant(name="Contoso", currency="EUR", country="DE", billing_country="DE")
    api.user(other, ["global_administrator"], "boss@contoso.example")
    return tid, other


def test_smtp_outage_then_every_message_arrives_exactly_once(rt, api, clock, smtp) -> None:
    tid, other = two_tenants(api)
    use_smtp(rt, smtp.url)  # configured, but the server is down
    emit(rt, tid, "balance_depleted", DEPLETED)
    emit(rt, tid, "auto_recharge_succeeded", RECHARGED)
    emit(rt, other, "balance_depleted", {"balance": "0.00"})
    start = clock.now()

    first = run_due_jobs(rt)["notifications"]["emails"]
    assert first == {"retrying": 3}
    listed = notifications(api, tid)
    assert {n["status"] for n in listed} == {"retrying"}
    assert all(n["attempts"] == 1 and "refused" in n["last_error"].lower() for n in listed)
    assert {n["next_attempt_at"] for n in listed} == {"2026-01-15T10:01:00Z"}
    assert run_due_jobs(rt)["notifications"]["emails"] == {}  # not due again yet

    clock.set(start + timedelta(minutes=1))  # second attempt, still down: next wait doubles
    assert run_due_jobs(rt)["notifications"]["emails"] == {"retrying": 3}
    assert {n["next_attempt_at"] for n in notifications(api, tid)} == {"2026-01-15T10:03:00Z"}

    smtp.start()
    clock.set(start + timedelta(minutes=2))
    assert run_due_jobs(rt)["notifications"]["emails"] == {}
    clock.set(start + timedelta(minutes=3))
    assert run_due_jobs(rt)["notifications"]["emails"] == {"sent": 3}
    clock.set(start + timedelta(days=2))
    assert run_due_jobs(rt)["notifications"]["emails"] == {}

    assert len(smtp.messages) == 3
    assert len({m.message["Message-ID"] for m in smtp.messages}) == 3
    by_subject = {m.message["Subject"]: m for m in smtp.messages}
    depleted = by_subject["Fabrikam: Communications Credits balance is -3.50 USD"]
    assert sorted(depleted.rcpt_tos) == ["bill@fabrikam.example", "help@fabrikam.example"]
    assert depleted.mail_from == "billing@provider.example"
    recharged = by_subject["Fabrikam: auto-recharge added 100.00 USD"]
    text = recharged.message.get_body(("plain",)).get_content()
    html = recharged.message.get_body(("html",)).get_content()
    for body in (text, html):
        assert "100.00 USD" in body and "96.50 USD" in body and "rcpt_42" in body
        assert f"https://credits.provider.example/admin/t/{tid}/billing" in body
    contoso = by_subject["Contoso: Communications Credits balance is 0.00 EUR"]
    assert contoso.rcpt_tos == ["boss@contoso.example"]

    listed = notifications(api, tid)
    assert {n["status"] for n in listed} == {"sent"}
    assert all(n["sent_at"] == "2026-01-15T10:03:00Z" and n["attempts"] == 3 for n in listed)
    assert {n["subject"] for n in listed} == {depleted.message["Subject"], recharged.message["Subject"]}
    ids = {n["id"] for n in listed}
    assert {m.message["X-Commcredits-Notification"] for m in (depleted, recharged)} == ids


def test_recipients_are_the_admins_at_the_time_of_the_event(rt, api, clock, smtp) -> None:
    tid, _ = two_tenants(api)
    emit(rt, tid, "balance_depleted", DEPLETED)
    api.user(tid, ["global_administrator"], "late@fabrikam.example")  # joins after the event
    emit(rt, tid, "balance_depleted", {"balance": "-9.00"})
    use_smtp(rt, smtp.url)
    smtp.start()
    run_due_jobs(rt)
    got = {m.message["Subject"]: sorted(m.rcpt_tos) for m in smtp.messages}
    assert got["Fabrikam: Communications Credits balance is -3.50 USD"] == [
        "bill@fabrikam.example", "help@fabrikam.example"]
    assert got["Fabrikam: Communications Credits balance is -9.00 USD"] == [
        "bill@fabrikam.example", "help@fabrikam.example", "late@fabrikam.example"]


def test_a_tenant_without_admins_gets_its_notification_skipped(rt, api, smtp) -> None:
    tid = api.tenant(name="Lonely")
    api.user(tid, [], "caller@lonely.example")
    emit(rt, tid, "balance_depleted", DEPLETED)
    use_smtp(rt, smtp.url)
    smtp.start()
    assert run_due_jobs(rt)["notifications"]["emails"] == {"skipped": 1}
    [n] = notifications(api, tid)
    assert n["status"] == "skipped" and n["recipients"] == [] and "no admin" in n["last_error"]
    assert smtp.messages == []


def test_without_a_mail_server_emails_are_held_then_sent_once_one_is_configured(rt, api, clock, smtp) -> None:
    tid, _ = two_tenants(api)
    use_smtp(rt, None)
    emit(rt, tid, "balance_depleted", DEPLETED)
    assert run_due_jobs(rt)["notifications"]["emails"] == {"held": 1}
    assert run_due_jobs(rt)["notifications"]["emails"] == {}
    [n] = notifications(api, tid)
    assert n["status"] == "held" and n["sent_at"] is None and n["attempts"] == 0
    assert "COMMCREDITS_SMTP_URL" in n["last_error"]
    use_smtp(rt, smtp.url)
    smtp.start()
    clock.set(clock.now() + timedelta(hours=5))
    assert run_due_jobs(rt)["notifications"]["emails"] == {"sent": 1}
    assert len(smtp.messages) == 1
    assert notifications(api, tid)[0]["status"] == "sent"


def test_a_crash_between_send_and_mark_sent_gives_one_duplicate_with_the_same_message_id(
    rt, api, clock, smtp, monkeypatch
) -> None:
    tid, _ = two_tenants(api)
    use_smtp(rt, smtp.url)
    smtp.start()
    emit(rt, tid, "auto_recharge_succeeded", RECHARGED)
    real_mark_sent = claims.mark_sent
    crashes = []

    def crash_once(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not crashes:
            crashes.append(args)
            raise ConnectionError("the database went away")
        return real_mark_sent(*args, **kwargs)

    monkeypatch.setattr(claims, "mark_sent", crash_once)
    with pytest.raises(ConnectionError):
        run_due_jobs(rt)
    assert len(smtp.messages) == 1
    [n] = notifications(api, tid)
    assert n["status"] == "sending"
    assert run_due_jobs(rt)["notifications"]["emails"] == {}  # the claim's lease still holds
    clock.set(clock.now() + timedelta(minutes=5))
    assert run_due_jobs(rt)["notifications"]["emails"] == {"sent": 1}
    clock.set(clock.now() + timedelta(days=1))
    assert run_due_jobs(rt)["notifications"]["emails"] == {}

    first, duplicate = smtp.messages
    assert first.message["Message-ID"] == duplicate.message["Message-ID"] == f"<{n['id']}@provider.example>"
    assert first.message.as_bytes() == duplicate.message.as_bytes()
    assert notifications(api, tid)[0]["status"] == "sent"


def test_two_dispatchers_at_once_send_each_message_once(rt, api, clock, smtp) -> None:
    tid, _ = two_tenants(api)
    use_smtp(rt, smtp.url)
    smtp.start()
    for i in range(24):
        emit(rt, tid, "balance_depleted", {"balance": f"-{i}.00"})

    def run(_: int) -> dict:  # type: ignore[type-arg]
        return dispatcher.dispatch_due(rt.engine, rt.settings, clock.now())

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, range(2)))
    assert sum(r["emails"].get("sent", 0) for r in results) == 24, results
    assert len(smtp.messages) == 24
    assert len({m.message["Message-ID"] for m in smtp.messages}) == 24
    assert {n["status"] for n in notifications(api, tid)} == {"sent"}


def test_failed_after_eight_attempts_and_still_retried_hourly(rt, api, clock, smtp) -> None:
    tid, _ = two_tenants(api)
    use_smtp(rt, smtp.url)
    emit(rt, tid, "balance_depleted", DEPLETED)
    waits = []
    for _ in range(9):
        run_due_jobs(rt)
        [n] = notifications(api, tid)
        nxt = n["next_attempt_at"]
        waits.append((n["status"], nxt))
        clock.set(clock.now().fromisoformat(nxt.replace("Z", "+00:00")))
    statuses = [s for s, _ in waits]
    assert statuses == ["retrying"] * 7 + ["failed"] * 2
    assert waits[0][1] == "2026-01-15T10:01:00Z" and waits[1][1] == "2026-01-15T10:03:00Z"
    assert waits[8][1] == "2026-01-15T14:03:00Z"  # 1+2+4+8+16+32+60+60+60 minutes
    smtp.start()
    assert run_due_jobs(rt)["notifications"]["emails"] == {"sent": 1}
    assert len(smtp.messages) == 1
