"""The admin pages for reconciliation and reporting over HTTP, on both databases: the
transactions page, receipts with the seller's details, the usage report's period, totals and
errors, the funding advice without history, the typed Excel export, and the smaller points
(currency on the operator's list, the mail-server message, the menu on a 404)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import datetime, timedelta

from openpyxl import load_workbook
from tests.as_json import funds
from tests.pdf_support import pdf_text
from tests.web.support import client_for, csrf_of, login, make_org

from commcredits.services import jobs
from commcredits.services.access.principal import OPERATOR


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'").replace("&amp;", "&")


def _funded(rt, api, amount: str = "100.00"):  # type: ignore[no-untyped-def]
    org = make_org(rt, kinds=("global",))
    pm = api.card(org.tid)
    funds.add_funds(rt, OPERATOR, org.tid, amount=amount, payment_method_id=pm, idempotency_key="first")
    client = client_for(rt)
    login(client, org.email("global"))
    return org, pm, client


def test_transactions_in_time_order_with_expiry_in_words_filters_and_csv(rt, api, clock) -> None:
    org, _, client = _funded(rt, api)
    funds.grant_credit(rt, OPERATOR, org.tid, amount="25.00", expires_at=clock.now() + timedelta(days=10),
                       reason="Goodwill")
    jobs.move_clock(rt, clock.now() + timedelta(days=11))  # the grant expires on the way
    login(client, org.email("global"))  # the session timed out meanwhile
    page = client.get(f"/admin/t/{org.tid}/transactions")
    text = _text(page.text)
    assert page.status_code == 200
    assert "Lot bought 15 Jan 2026 (25.00 USD) expired" in text  # not an id and a raw timestamp
    rows = re.findall(r'<tr id="txn-(\d+)"', page.text)
    assert len(rows) == 3 and rows == sorted(rows, key=int, reverse=True)  # newest first
    table = text[text.index("Balance after"):]
    assert table.index("Lot bought") < table.index("Credit granted") < table.index("Purchase")
    assert "America/New York time" in text and re.search(r"\d\d:\d\d E[SD]T", text)  # zone named, no seconds

    only = _text(client.get(f"/admin/t/{org.tid}/transactions", params={"type": "purchase"}).text)
    assert "Purchase" in only and "Lot bought" not in only and "R-2026-" in only
    reversed_ = client.get(f"/admin/t/{org.tid}/transactions", params={"from": "2026-02-01", "to": "2026-01-01"})
    assert reversed_.status_code == 422 and "The period ends before it starts" in _text(reversed_.text)

    export = client.get(f"/admin/t/{org.tid}/transactions/export")
    assert export.content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert lines[0][:3] == ["Transaction", "Time (UTC)", "Type"] and len(lines) == 4
    assert [r[2] for r in lines[1:]] == ["expiry", "grant", "purchase"]


def test_receipts_name_the_seller_and_link_back(rt, api) -> None:
    rt.settings = replace(rt.settings, seller_name="Northwind Telecom Ltd", seller_address="1 Main St | Springfield",
                          seller_tax_id="GB123456789")
    org, _, client = _funded(rt, api)
    billing = client.get(f"/admin/t/{org.tid}/billing").text
    receipt_id = re.search(r'/receipts/([^"?]+)">Receipt<', billing)
    assert receipt_id, "the lot links to its receipt"
    receipt = client.get(f"/admin/t/{org.tid}/receipts/{receipt_id.group(1)}")
    text = _text(receipt.text)
    assert "From: Northwind Telecom Ltd 1 Main St Springfield Tax id: GB123456789" in text
    assert "issued 15 Jan 2026 05:00 EST" in text  # the tenant's zone, as every page shows time
    back = re.search(r'href="([^"]+)">&larr; Back to the transaction', receipt.text)
    assert back and client.get(back.group(1)).status_code == 200
    pdf = client.get(f"/admin/t/{org.tid}/receipts/{receipt_id.group(1)}", params={"format": "pdf"})
    assert pdf.content.startswith(b"%PDF") and "Tax id: GB123456789" in pdf_text(pdf.content)


def _usage(rt, org) -> None:  # type: ignore[no-untyped-def]
    from tests.web.test_browser import _calls

    _calls(rt, org)


def test_usage_defaults_to_this_month_newest_first_with_totals(rt, api) -> None:
    org = make_org(rt, kinds=("global",))
    _usage(rt, org)
    client = client_for(rt)
    login(client, org.email("global"))
    page = client.get(f"/admin/t/{org.tid}/usage")
    text = _text(page.text)
    assert "Calls, 01 Jan 2026 to 15 Jan 2026" in text and "This month so far" in text
    starts = re.findall(r'<td class="when">([^<]+)</td>', page.text.split('id="usage"')[1])
    assert starts[:4] == ["13 Jan 2026 10:00 EST", "12 Jan 2026 10:00 EST", "11 Jan 2026 10:00 EST",
                          "10 Jan 2026 10:00 EST"]
    assert "0:10:00" in text and "0:01:01" in text  # durations as h:mm:ss
    assert "Total, 4 calls 0:12:31" in text
    assert "Outbound call" in text and "user_out" not in text.replace('value="user_out"', "")
    assert '<option value="conf_out" >Conference dial-out</option>' in page.text.replace("  ", " ")
    assert 'id="calls-chart"' in page.text and "<svg" in page.text and 'id="daily"' in page.text

    reversed_ = client.get(f"/admin/t/{org.tid}/usage", params={"from": "2026-01-12", "to": "2026-01-10"})
    assert reversed_.status_code == 422
    assert 'aria-invalid="true"' in reversed_.text and "The period ends before it starts" in _text(reversed_.text)
    assert "<title>Error: The period ends before it starts" in reversed_.text
    assert "No calls match" not in _text(reversed_.text)


def test_funding_advice_without_history_says_so_and_does_not_suggest_zero(rt, api) -> None:
    org, _, client = _funded(rt, api)
    text = _text(client.get(f"/admin/t/{org.tid}/usage").text)
    assert "no calls paid with credits from 2025-11-16 to 2026-01-15 (UTC)" in text
    trigger = re.search(r'id="advice-trigger">([^<]+)<', client.get(f"/admin/t/{org.tid}/usage").text)
    assert trigger and trigger.group(1) == "50.00 USD"


def test_the_web_excel_export_is_typed(rt, api) -> None:
    org = make_org(rt, kinds=("global",))
    _usage(rt, org)
    client = client_for(rt)
    login(client, org.email("global"))
    x = client.get(f"/admin/t/{org.tid}/usage/export", params={"format": "xlsx", "from": "2026-01-01",
                                                                "to": "2026-01-31"})
    assert 'filename="pstn-usage-2026-01-01-to-2026-01-31.xlsx"' in x.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(x.content)).active
    header = [c.value for c in sheet[1]]
    assert header[13] == "Start Time (America/New_York)" and header[17] == "Charge"
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:U5"
    assert sheet.column_dimensions["A"].width > 30
    first = sheet[2]
    assert isinstance(first[13].value, datetime) and first[13].value == datetime(2026, 1, 10, 10, 0)
    assert first[13].number_format == "yyyy-mm-dd hh:mm:ss"
    assert isinstance(first[17].value, int | float) and first[17].number_format == '#,##0.00 "USD"'
    assert isinstance(first[15].value, int) and first[15].value == 600


def test_smaller_points(rt, api) -> None:
    org, pm, client = _funded(rt, api)
    missing = client.get(f"/admin/t/{org.tid}/no-such-page")
    assert missing.status_code == 404 and 'class="side"' in missing.text and "Communications Credits" in missing.text
    elsewhere = client.get("/admin/no-such-page")  # outside the tenant's pages: still their menu
    assert elsewhere.status_code == 404 and f"/admin/t/{org.tid}/billing" in elsewhere.text
    postpaid = client.get(f"/admin/t/{org.tid}/postpaid").text
    assert '<button type="submit" class="danger">Move to post-paid</button>' in postpaid
    assert "/v1/" not in client_for(rt).get("/admin/login").text

    from tests.as_json import recharge_settings

    recharge_settings.save_settings(rt, OPERATOR, org.tid, enabled=True, amount="50.00", trigger="120.00",
                                    payment_method_id=pm)  # a recharge, and its e-mail
    jobs.run_due_jobs(rt)  # no mail server: the e-mail is held
    notes = client.get(f"/admin/t/{org.tid}/notifications").text
    assert "held" in notes and "COMMCREDITS_SMTP_URL" not in notes  # held: no mail server here
    assert "your provider has not set up e-mail" in notes

    operator = client_for(rt)
    token_page = operator.get("/admin/operator/login")
    operator.post("/admin/operator/login", data={"token": api.operator_token, "csrf_token": csrf_of(token_page.text)})
    tenants = _text(operator.get("/admin/operator").text)
    assert "150.00 USD" in tenants
    held = operator.get(f"/admin/t/{org.tid}/notifications").text
    assert "COMMCREDITS_SMTP_URL" in held  # the operator is the one who can set it


def test_usage_and_transactions_page_newest_first_without_gaps(rt, api) -> None:
    from commcredits.services.usage.charging import charge_records

    org, _, client = _funded(rt, api)
    records = [{"id": f"in{i:02d}", "tenant_id": org.tid, "call_type": "user_in", "caller": "+12025550100",
                "callee": "+12025550123", "started_at": f"2026-01-{1 + i // 6:02d}T{10 + i % 6:02d}:00:00Z",
                "duration_seconds": 60 + i, "user_id": org.uid("global")} for i in range(55)]
    assert all(o.status == "charged" for o in charge_records(rt, records))
    first = client.get(f"/admin/t/{org.tid}/usage")
    table = first.text.split('id="usage"')[1]
    assert table.count('<td class="when">') == 50 and "Total, " not in table  # the total closes the last page
    assert "Total 55 calls" not in first.text and ">55</dd>" in first.text  # the period's totals on every page
    older = re.search(r'href="([^"]+cursor=[^"]+)">Older calls', first.text)
    assert older
    rest = client.get(older.group(1).replace("&amp;", "&")).text.split('id="usage"')[1]
    durations = re.findall(r'<td class="num">0:0(\d:\d\d)</td>', table + rest)
    assert len(durations) == 55 and "1:19:45" in rest  # every call once; the total under the last page
    seconds = [int(m) * 60 + int(s) for m, s in (d.split(":") for d in durations)]
    assert seconds == sorted(seconds, reverse=True)  # newest (longest here) first, across the page break


def test_a_busy_web_export_says_when_to_come_back(rt, api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from commcredits.services.usage import usage_export

    org, _, client = _funded(rt, api)
    monkeypatch.setattr(usage_export, "MAX_EXPORTS", 0)  # every place taken
    busy = client.get(f"/admin/t/{org.tid}/usage/export", params={"format": "csv"})
    assert busy.status_code == 429 and busy.headers["retry-after"] == str(usage_export.RETRY_AFTER_S)
    assert f"try again in {usage_export.RETRY_AFTER_S} s" in _text(busy.text)
