"""The admin pages over HTTP (both databases): post-paid, notifications, receipts, the
operator's CLI for passwords and the demo's admin login."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.web.support import PASSWORD, client_for, csrf_of, login, make_org
from typer.testing import CliRunner

from commcredits.services.access import web_auth
from commcredits.services.demo import DEMO_PASSWORD, seed_demo


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def test_move_to_postpaid_is_refused_while_auto_recharge_is_on(rt, api) -> None:
    org = make_org(rt, kinds=("billing",))
    pm = api.card(org.tid)
    client = client_for(rt)
    login(client, org.email("billing"))
    billing = client.get(f"/admin/t/{org.tid}/billing")
    form = {"csrf_token": csrf_of(billing.text), "enabled": "on", "amount": "50.00", "trigger": "80.00",
            "payment_method_id": pm}
    asked = _text(client.post(f"/admin/t/{org.tid}/billing/auto-recharge", data=form).text)
    assert "Saving will charge your card now" in asked and "saving charges 100.00 USD to the card at once" in asked
    assert "Balance 0.00 USD" in asked  # nothing saved or charged before the admin confirms
    saved = client.post(f"/admin/t/{org.tid}/billing/auto-recharge", data={**form, "charge_now": "yes"})
    page = _text(saved.text)
    assert saved.status_code == 200 and "Auto-recharge settings saved." in page
    assert "the card was charged 100.00 USD at once: the charge succeeded" in page  # 2 x 50.00
    assert "Balance 100.00 USD" in page and "succeeded" in page

    postpaid = client.get(f"/admin/t/{org.tid}/postpaid")
    assert "Auto-recharge is on" in _text(postpaid.text)
    token = csrf_of(postpaid.text)
    unconfirmed = client.post(f"/admin/t/{org.tid}/postpaid/move", data={"csrf_token": token})
    assert unconfirmed.status_code == 422 and "Tick the box" in _text(unconfirmed.text)
    assert 'aria-invalid="true" aria-describedby="postpaid-confirm-error"' in unconfirmed.text
    refused = client.post(f"/admin/t/{org.tid}/postpaid/move", data={"csrf_token": token, "confirm": "yes"})
    text = _text(refused.text)
    assert refused.status_code == 409 and "Move to post-paid: Auto-recharge is on" in text
    assert "Turn auto-recharge off first, or the balance would refill forever" in text and "auto_recharge_on" not in text

    client.post(f"/admin/t/{org.tid}/billing/auto-recharge", data={"csrf_token": token, "amount": "50.00",
                                                                   "trigger": "80.00", "payment_method_id": pm})
    moved = client.post(f"/admin/t/{org.tid}/postpaid/move", data={"csrf_token": token, "confirm": "yes"})
    text = _text(moved.text)
    assert moved.status_code == 200 and "The move to post-paid has started" in text
    assert "Billing mode: migrating" in text and "Statement for 2026-01" in text and "Status: open" in text
    billing = _text(client.get(f"/admin/t/{org.tid}/billing").text)
    assert "Purchases are not available (postpaid)" in billing and "no credits are needed" in billing
    bad = client.get(f"/admin/t/{org.tid}/postpaid", params={"period": "January"})
    assert "Period must look like YYYY-MM" in _text(bad.text)

    notes = _text(client.get(f"/admin/t/{org.tid}/notifications").text)
    assert "auto recharge succeeded" in notes and "pending" in notes


def test_receipts_open_as_html_and_pdf(rt, api) -> None:
    org = make_org(rt, kinds=("helpdesk",))
    assert api.fund(org.tid, "50.00", api.card(org.tid)).status_code == 201
    client = client_for(rt)
    login(client, org.email("helpdesk"))
    billing = client.get(f"/admin/t/{org.tid}/billing").text
    link = re.search(r'href="(/admin/t/[^"]+/receipts/[^"?]+)"', billing)
    assert link
    html = client.get(link.group(1))
    assert html.status_code == 200 and "Receipt R-2026-000001" in html.text and "50.00 USD" in html.text
    pdf = client.get(link.group(1), params={"format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_operator_sets_a_password_with_the_cli(tmp_path: Path) -> None:
    from commcredits.cli import app
    from commcredits.config import Settings
    from commcredits.services.runtime import Runtime

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {"COMMCREDITS_DATABASE_URL": url, "COMMCREDITS_OPERATOR_TOKEN": ""}
    runner = CliRunner()

    def run(*args: str, code: int = 0, prompt: str | None = None) -> str:
        result = runner.invoke(app, list(args), env=env, input=prompt)
        assert result.exit_code == code, result.output
        return result.output

    run("init")  # other commands refuse a database that does not exist
    tid = json.loads(run("tenants", "create", "Contoso", "--country", "US", "--currency", "USD"))["id"]
    run("tenants", "add-user", tid, "ann@contoso.example", "--usage-location", "US", "--role", "billing_administrator")
    out = run("tenants", "set-password", tid, "Ann@Contoso.example", "--password", PASSWORD)
    assert json.loads(out)["password"] == "set"
    assert "12 to 1024 characters" in run("tenants", "set-password", tid, "ann@contoso.example", "--password",
                                          "short", code=1)
    assert "no user with e-mail" in run("tenants", "set-password", tid, "bob@contoso.example", "--password",
                                        PASSWORD, code=1)
    prompted = run("tenants", "set-password", tid, "ann@contoso.example", prompt="another good password\n" * 2)
    assert '"password": "set"' in prompted
    rt = Runtime.from_settings(Settings(database_url=url))
    assert web_auth.login(rt, email="ann@contoso.example", password="another good password")


def test_the_demo_admin_logs_in_with_the_printed_password(rt) -> None:
    seeded = seed_demo(rt)
    assert seeded and seeded["admin_password"] == DEMO_PASSWORD
    client = client_for(rt)
    r = login(client, seeded["admin_email"], DEMO_PASSWORD)
    assert r.status_code == 303
    page = _text(client.get("/admin/", follow_redirects=True).text)
    assert "Contoso Ltd (demo)" in page and "Megan Bowen" in page and "Welcome credit" in page
    assert seed_demo(rt)["admin_password"] == DEMO_PASSWORD  # type: ignore[index]
    assert client.get(f"/admin/t/{seeded['tenant_id']}/usage").status_code == 200


def test_a_crash_is_a_plain_page_without_a_trace(rt, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from commcredits.app import create_app
    from commcredits.services.ledger import balances

    org = make_org(rt, kinds=("global",))
    client = TestClient(create_app(rt), raise_server_exceptions=False)
    login(client, org.email("global"))

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(balances, "balance_view", broken)
    r = client.get(f"/admin/t/{org.tid}/billing")
    assert r.status_code == 500 and "Something went wrong" in r.text
    assert "secret internals" not in r.text and "Traceback" not in r.text
