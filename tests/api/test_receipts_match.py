"""A receipt reads the same from the API, the CLI and the web: the operator's seller details
from the runtime's settings and the time in the tenant's zone (here Auckland, where the
purchase at 10:00 UTC on 15 Jan is 23:00 the same day)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from typer.testing import CliRunner

from commcredits.cli import app
from commcredits.documents.receipts import render_pdf
from commcredits.services.access.principal import OPERATOR
from commcredits.services.ledger import receipts

LOCAL = "15 Jan 2026 23:00 NZDT"


def _receipt(api, rt) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    rt.settings = replace(rt.settings, seller_name="Northwind Telecom Ltd", seller_tax_id="GB123456789")
    tid = api.tenant(name="Fabrikam", timezone="Pacific/Auckland")
    assert api.fund(tid, "60.00", api.card(tid)).status_code == 201
    return tid, api.call("GET", f"/v1/tenants/{tid}/receipts").json()["items"][0]["id"]


def test_the_api_receipt_uses_the_runtime_seller_and_the_tenant_zone(api, rt) -> None:
    tid, rid = _receipt(api, rt)
    html = api.call("GET", f"/v1/tenants/{tid}/receipts/{rid}").text
    assert "Northwind Telecom Ltd" in html and "GB123456789" in html
    assert LOCAL in html and "UTC" not in html
    pdf = api.call("GET", f"/v1/tenants/{tid}/receipts/{rid}", headers={"Accept": "application/pdf"})
    found = receipts.get_receipt(rt, OPERATOR, tid, rid)
    # the web's call (routes_cards.receipt); the PDF is deterministic, so the bytes must match
    assert pdf.content == render_pdf(found, rt.settings, "Pacific/Auckland")
    assert pdf.content != render_pdf(found)


def test_the_cli_receipt_uses_the_tenant_zone(tmp_path: Path) -> None:
    env = {"COMMCREDITS_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "COMMCREDITS_OPERATOR_TOKEN": "",
           "COMMCREDITS_SANDBOX": "", "COMMCREDITS_SELLER_NAME": "Northwind Telecom Ltd"}
    runner = CliRunner()

    def cli(*args: str) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == 0, (args, result.output)
        return result.output

    cli("init")
    tid = json.loads(cli("tenants", "create", "Fabrikam", "--country", "NZ", "--currency", "NZD",
                         "--timezone", "Pacific/Auckland"))["id"]
    pm = json.loads(cli("funds", "add-card", tid, "4242424242424242", "12", "2031", "123"))["id"]
    cli("funds", "add", "--payment-method", pm, tid, "60.00")
    rid = json.loads(cli("payments", "receipts", tid))["items"][0]["id"]
    html = cli("payments", "receipt", tid, rid)
    assert "Northwind Telecom Ltd" in html
    assert "NZDT" in html or "NZST" in html, html
    assert " UTC" not in html
    pdf = tmp_path / "r.pdf"
    cli("payments", "receipt", tid, rid, "--pdf", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
