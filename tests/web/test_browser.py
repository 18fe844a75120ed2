"""Stories of the admin center in a real browser: Playwright driving Debian's Chromium
against the app served by uvicorn. They run on SQLite only (the services underneath are
tested on both databases); what they check is the pages."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook
from tests.as_json import balances
from tests.conftest import SHARED
from tests.web.support import csrf_of, make_org

from commcredits.services.access.principal import OPERATOR
from commcredits.services.payments import payment_methods
from commcredits.services.rating import rating
from commcredits.services.usage.charging import charge_records

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
SCREENSHOT = "/tmp/commcredits-billing.png"


def _card(rt, tid: str, number: str = "4242424242424242") -> str:  # type: ignore[no-untyped-def]
    return payment_methods.add_payment_method(rt, OPERATOR, tid, card_number=number, exp_month=12, exp_year=2030,
                                              cvc="123").id


def test_billing_admin_adds_funds_sees_the_lot_and_sets_auto_recharge(rt, open_page) -> None:
    org = make_org(rt, kinds=("billing",))
    page = open_page(org.email("billing"))
    assert page.locator("h1").inner_text() == "Communications Credits"
    assert page.locator("#balance").inner_text() == "0.00 USD"
    page.click("nav >> text=Payment methods")
    for number in ("4242 4242 4242 4242", "4000000000000002"):
        page.fill("input[name=card_number]", number)
        page.fill("input[name=exp_month]", "12")
        page.fill("input[name=exp_year]", "2030")
        page.fill("input[name=cvc]", "123")
        page.click("button:has-text('Save card')")
        assert "Card saved." in page.locator(".flash.ok").inner_text()
    assert page.locator("#cards tbody tr").count() == 2

    page.click("nav >> text=Communications Credits")
    assert "From 50.00 USD to 100,000.00 USD" in page.locator("#add-funds").inner_text()
    page.fill("#add-funds input[name=amount]", "75.00")
    page.select_option("#add-funds select", label="Visa ending in 4242, expires 12/2030")
    page.click("button:has-text('Add funds')")
    assert "Funds added." in page.locator(".flash.ok").inner_text()
    assert page.locator("#balance").inner_text() == "75.00 USD"
    assert page.locator("#available").inner_text() == "75.00 USD"
    lot = page.locator("#lots tbody tr").first.inner_text()
    assert "Purchase" in lot and "75.00 USD" in lot and "15 Jan 2027" in lot and "active" in lot
    assert page.locator("#lots a:has-text('Receipt')").count() == 1  # each lot links to its receipt
    assert page.locator("#transactions a:has-text('R-2026')").count() == 1
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.fill("#add-funds input[name=amount]", "60.00")
    page.select_option("#add-funds select", label="Visa ending in 0002, expires 12/2030")
    page.click("button:has-text('Add funds')")
    alert = page.locator("[role=alert]").inner_text()
    assert "The card was declined" in alert and "card_declined" not in alert
    assert page.locator("#funds-card").get_attribute("aria-invalid") == "true"
    assert page.locator("#add-funds input[name=amount]").input_value() == "60.00"  # the form is kept
    assert page.locator("#balance").inner_text() == "75.00 USD"
    page.fill("#add-funds input[name=amount]", "49.99")
    page.click("button:has-text('Add funds')")
    assert "The minimum purchase is 50.00 USD" in page.locator("#funds-amount-error").inner_text()
    assert page.title().startswith("Error: The amount is too small")

    page.check("#auto-recharge input[name=enabled]")
    page.fill("#auto-recharge input[name=amount]", "50.00")
    page.fill("#auto-recharge input[name=trigger]", "20.00")
    page.select_option("#auto-recharge select", label="Visa ending in 4242, expires 12/2030")
    page.click("button:has-text('Save changes')")  # 75.00 is above the trigger: nothing to charge, no question
    assert "Auto-recharge settings saved. Nothing was charged." in page.locator(".flash.ok").inner_text()
    assert page.locator("#recharge-status").inner_text() == "Active"
    assert page.locator("#auto-recharge input[name=trigger]").input_value() == "20.00"

    page.click("#transactions a:has-text('R-2026')")
    assert re.search(r"Receipt R-2026-0+1", page.locator("h1").inner_text())
    assert "75.00 USD" in page.content()
    page.click("text=Back to the transaction")
    assert page.locator("h1").inner_text() == "Transactions"


def test_helpdesk_admin_sees_the_balance_but_cannot_add_funds(rt, open_page) -> None:
    from tests.as_json import funds

    org = make_org(rt, kinds=("helpdesk",))
    pm = _card(rt, org.tid)
    funds.add_funds(rt, OPERATOR, org.tid, amount="120.00", payment_method_id=pm, idempotency_key="seed")
    page = open_page(org.email("helpdesk"))
    assert page.locator("#balance").inner_text() == "120.00 USD"
    assert page.locator("#lots tbody tr").count() == 1
    assert page.locator("button:has-text('Add funds')").count() == 0
    assert page.locator("nav >> text=Payment methods").count() == 0
    assert "Only Global and Billing Administrators" in page.locator("#auto-recharge").inner_text()

    token = csrf_of(page.content())
    r = page.request.post(f"/admin/t/{org.tid}/billing/funds",
                          form={"csrf_token": token, "amount": "60.00", "payment_method_id": pm, "idempotency_key": "x"})
    assert r.status == 403 and "have access to this" in r.text() and "Traceback" not in r.text()
    page.goto(f"/admin/t/{org.tid}/payment-methods")
    assert "You don't have access to this" in page.locator("h1").inner_text()
    assert balances.balance_view(rt, OPERATOR, org.tid)["balance"] == "120.00"


def test_a_user_without_an_admin_role_sees_no_access(rt, open_page) -> None:
    org = make_org(rt, kinds=("nobody",))
    page = open_page(org.email("nobody"))
    assert page.locator("h1").inner_text() == "No access"
    assert "no admin role" in page.locator("#no-access").inner_text()
    assert page.locator("#balance").count() == 0 and page.locator("nav.side").count() == 0
    page.goto(f"/admin/t/{org.tid}/usage")
    assert page.locator("h1").inner_text() == "No access"


def test_license_admin_assigns_a_license(rt, open_page) -> None:
    org = make_org(rt, kinds=("license", "nobody", "helpdesk"))
    page = open_page(org.email("license"))
    page.click("nav >> text=Licenses")
    row = page.locator(f"#user-{org.uid('nobody')}")
    row.locator("input[value=domestic_calling_plan]").check()
    row.locator("button:has-text('Save licenses')").click()
    assert "Licenses saved." in page.locator(".flash.ok").inner_text()
    assert page.locator(f"#user-{org.uid('nobody')} input[value=domestic_calling_plan]").is_checked()
    assert page.locator("#subscriptions tbody tr").first.inner_text().split()[-2:] == ["1", "1"]
    pools = page.locator("#pools").inner_text()
    assert "US" in pools and "3000" in pools

    other = page.locator(f"#user-{org.uid('helpdesk')}")
    other.locator("input[value=domestic_calling_plan]").check()
    other.locator("button:has-text('Save licenses')").click()
    alert = page.locator("[role=alert]").inner_text()
    assert "No Domestic Calling Plan license left" in alert and "subscribes to 1" in alert
    assert not page.locator(f"#user-{org.uid('helpdesk')} input[value=domestic_calling_plan]").is_checked()


def _calls(rt, org) -> None:  # type: ignore[no-untyped-def]
    card = (SHARED / "testdata" / "sample-ratecard.csv").read_bytes()
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files={"card.csv": card}))
    from commcredits.services.ledger import funds

    funds.add_funds(rt, OPERATOR, org.tid, amount="100.00", payment_method_id=_card(rt, org.tid),
                    idempotency_key="seed")
    uid = org.uid("global")
    calls = [("user_out", "+442079460000", 600, "2026-01-10"), ("user_out", "+12025550123", 61, "2026-01-11"),
             ("user_in", "+12025550123", 30, "2026-01-12"), ("user_out", "+19005550100", 60, "2026-01-13")]
    records = [{"id": f"r{i}", "tenant_id": org.tid, "call_type": kind, "caller": "+12025550100", "callee": callee,
                "started_at": f"{day}T15:00:00Z", "duration_seconds": seconds, "user_id": uid}
               for i, (kind, callee, seconds, day) in enumerate(calls)]
    assert all(o.status == "charged" for o in charge_records(rt, records))


def test_usage_report_filters_and_downloads(rt, open_page) -> None:
    org = make_org(rt, kinds=("global",))
    _calls(rt, org)
    page = open_page(org.email("global"))
    page.click("nav >> text=PSTN usage")
    assert page.locator("#usage tbody tr").count() == 4
    assert page.locator("#advice-amount").inner_text().endswith(" USD")
    page.select_option("select[name=call_type]", label="Inbound call")
    page.click("button:has-text('Apply filters')")
    assert page.locator("#usage tbody tr").count() == 1 and "call_type=user_in" in page.url
    page.select_option("select[name=call_type]", "")
    page.fill("input[name=from]", "2026-01-11")
    page.fill("input[name=to]", "2026-01-12")
    page.click("button:has-text('Apply filters')")
    assert page.locator("#usage tbody tr").count() == 2

    with page.expect_download() as info:
        page.click("a:has-text('Download CSV')")
    download = info.value
    assert download.suggested_filename == "pstn-usage-2026-01-11-to-2026-01-12.csv"
    with open(download.path(), "rb") as raw:
        assert raw.read(3) == b"\xef\xbb\xbf"  # the BOM Excel needs to read UTF-8
    with open(download.path(), encoding="utf-8-sig") as text:
        rows = list(csv.reader(text))
    assert rows[0][:3] == ["UsageId", "Call ID", "Conference ID"] and len(rows) == 3  # header + the 2 filtered calls
    assert {r[rows[0].index("Call Type")] for r in rows[1:]} == {"user_out", "user_in"}

    with page.expect_download() as info:
        page.click("a:has-text('Download Excel')")
    assert info.value.suggested_filename == "pstn-usage-2026-01-11-to-2026-01-12.xlsx"
    with open(info.value.path(), "rb") as xlsx:
        sheet = load_workbook(io.BytesIO(xlsx.read())).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "UsageId" and len(values) == 3
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:U3"


def test_csrf_is_required_and_logout_ends_the_session(rt, open_page) -> None:
    org = make_org(rt, kinds=("billing",))
    pm = _card(rt, org.tid)
    page = open_page(org.email("billing"))
    r = page.request.post(f"/admin/t/{org.tid}/billing/funds",
                          form={"amount": "60.00", "payment_method_id": pm, "idempotency_key": "no-token"})
    assert r.status == 403 and "The form could not be accepted" in r.text()
    assert balances.balance_view(rt, OPERATOR, org.tid)["balance"] == "0.00"

    page.click("button:has-text('Sign out')")
    assert "/admin/login" in page.url and "You are signed out." in page.content()
    page.goto(f"/admin/t/{org.tid}/billing")
    assert "/admin/login" in page.url  # the old cookie no longer opens anything
