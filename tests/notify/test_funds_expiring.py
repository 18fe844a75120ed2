"""The funds-expiring reminder: one per lot with money left, within 30 days of its expiry,
e-mailed over real SMTP with the amounts; the sandbox clock sends it at its own instant."""

from __future__ import annotations

from datetime import timedelta

from tests.as_json import funds
from tests.conftest import START
from tests.notify.support import use_smtp

from commcredits.services.access.principal import OPERATOR
from commcredits.services.jobs import run_due_jobs
from commcredits.services.notify.funds_expiring import remind_expiring_funds
from commcredits.services.usage.usage_charges import charge_usage


def grant(rt, tid: str, amount: str, days: int) -> str:  # type: ignore[no-untyped-def]
    body = funds.grant_credit(rt, OPERATOR, tid, amount=amount, expires_at=START + timedelta(days=days),
                              reason="goodwill")
    return str(body["lot_id"])


def listed(api, tid: str) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    return list(api.call("GET", f"/v1/tenants/{tid}/notifications").json()["items"])


def test_one_reminder_per_lot_within_30_days(rt, api, clock, smtp) -> None:
    tid = api.tenant(name="Fabrikam")
    api.user(tid, ["billing_administrator"], "bill@fabrikam.example")
    other = api.tenant(name="Contoso")
    api.user(other, ["billing_administrator"], "bill@contoso.example")
    soon = grant(rt, tid, "25.00", 20)
    later = grant(rt, tid, "10.00", 90)
    spent = grant(rt, tid, "4.00", 10)
    charge_usage(rt, tid, amount=4_000_000, reference_id="call-1")  # draws the first to expire: `spent`
    grant(rt, other, "7.00", 200)
    use_smtp(rt, smtp.url)
    smtp.start()

    first = run_due_jobs(rt)
    assert first["funds_expiring_reminders"] == 1 and first["notifications"]["emails"] == {"sent": 1}
    assert remind_expiring_funds(rt, clock.now()) == 0
    [mail] = smtp.messages
    assert mail.rcpt_tos == ["bill@fabrikam.example"]
    # in the tenant's zone (New York), named, to the minute: as the admin center prints it
    assert mail.message["Subject"] == \
        "Fabrikam: 25.00 USD of credit expires on 04 Feb 2026 05:00 EST (America/New_York)"
    text = mail.message.get_body(("plain",)).get_content()
    assert "expires in 20 days" in text and "Balance:   35.00 USD" in text
    [n] = listed(api, tid)
    assert n["event"] == "funds_expiring" and n["payload"]["lot_id"] == soon and n["status"] == "sent"

    clock.set(START + timedelta(days=60))  # `later` now expires in 30 days; `soon` has expired
    assert run_due_jobs(rt)["funds_expiring_reminders"] == 1
    clock.set(START + timedelta(days=75))
    assert run_due_jobs(rt)["funds_expiring_reminders"] == 0
    assert [m.message["Subject"] for m in smtp.messages][1] == \
        "Fabrikam: 10.00 USD of credit expires on 15 Apr 2026 06:00 EDT (America/New_York)"
    assert {n["payload"]["lot_id"] for n in listed(api, tid)} == {soon, later}
    assert spent not in {n["payload"]["lot_id"] for n in listed(api, tid)}
    assert listed(api, other) == []


def test_the_sandbox_clock_sends_each_reminder_30_days_before_expiry(api) -> None:
    tid = api.tenant(name="Fabrikam")
    api.user(tid, ["global_administrator"], "ann@fabrikam.example")
    pm = api.card(tid)
    api.fund(tid, "100.00", pm)  # expires 2027-01-15T10:00:00Z
    r = api.call("POST", "/v1/sandbox/clock", json={"advance": "P13M"})
    assert r.status_code == 200 and r.json()["expired_lots"] == 1, r.text
    [n, depleted] = sorted(listed(api, tid), key=lambda x: x["created_at"])
    assert (depleted["event"], depleted["created_at"]) == ("balance_depleted", "2027-01-15T10:00:00Z")
    assert depleted["payload"]["cause"] == "expiry"  # the expiry emptied the balance
    assert n["event"] == "funds_expiring" and n["created_at"] == "2026-12-16T10:00:00Z"
    assert n["payload"]["remaining"] == "100.00" and n["payload"]["days_left"] == 30
    assert n["status"] == "held"  # no mail server configured in this runtime
    assert n["recipients"] == ["ann@fabrikam.example"]
