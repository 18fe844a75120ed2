"""Billing > Spend controls in a real browser (Playwright on Debian's Chromium), the add-funds
form's limits in the tenant's currency, and every e-mail's links opened against the running
app."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from tests.as_json import spend_controls as spend_svc
from tests.notify.test_messages_and_mailer import PAYLOADS
from tests.web.support import make_org

from commcredits.notify import messages
from commcredits.notify.outbox import EVENTS
from commcredits.services.access.principal import OPERATOR
from commcredits.services.payments import payment_methods

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
LINK = re.compile(r"""https?://[^\s"'<>]+""")


def test_a_billing_admin_sets_the_controls_and_sees_the_journal(rt, open_page) -> None:
    org = make_org(rt, kinds=("billing", "helpdesk"))
    page = open_page(org.email("billing"))
    page.click("nav >> text=Spend controls")
    assert page.locator("h1").inner_text() == "Spend controls"
    assert "No changes yet" in page.locator("#changes").inner_text()
    page.select_option("#sc-dial_out_policy", "domestic_only")
    page.fill("#sc-daily_limit", "200.00")
    page.fill("#sc-low_balance_threshold", "25")
    page.click("button:has-text('Save spend controls')")
    assert page.locator("#message").inner_text() == "Spend controls saved."
    assert page.locator("#sc-daily_limit").input_value() == "200.00"
    assert page.locator("#sc-dial_out_policy").input_value() == "domestic_only"
    journal = page.locator("#change-journal tbody").inner_text()
    assert "billing@fabrikam.example" in journal and "Daily limit" in journal and "200.00" in journal

    page.fill("#sc-monthly_limit", "1,000")
    page.click("button:has-text('Save spend controls')")
    assert "Please check this value" in page.locator("#error-summary").inner_text()
    assert page.locator("#sc-monthly_limit").get_attribute("aria-invalid") == "true"
    assert page.locator("#sc-monthly_limit").input_value() == "1,000"  # what was typed stays
    assert spend_svc.controls_view(rt, OPERATOR, org.tid)["monthly_limit"] is None

    page.select_option("#user-policy-user", org.uid("helpdesk"))
    page.select_option("#user-policy-policy", "none")
    page.click("button:has-text('Set policy')")
    assert "No outbound calls" in page.locator("#own-policies").inner_text()
    assert "Helpdesk Admin" in page.locator("#own-policies").inner_text()

    viewer = open_page(org.email("helpdesk"))
    viewer.goto(f"/admin/t/{org.tid}/spend-controls")
    assert "Domestic calls only" in viewer.locator("#controls-facts").inner_text()
    assert viewer.locator("#controls form").count() == 0
    assert viewer.locator("button:has-text('Set policy')").count() == 0


def test_the_add_funds_form_shows_the_limits_of_the_tenants_currency(rt, open_page) -> None:
    org = make_org(rt, "Nippon", kinds=("billing",), country="JP", currency="JPY", billing_country="JP",
                   timezone="Asia/Tokyo")
    payment_methods.add_payment_method(rt, OPERATOR, org.tid, card_number="4242424242424242", exp_month=12,
                                       exp_year=2031, cvc="123")
    page = open_page(org.email("billing"))
    page.goto(f"/admin/t/{org.tid}/billing")
    hint = page.locator("#funds-amount-hint").inner_text()
    assert "From 5,000 JPY to 10,000,000 JPY" in hint, hint
    page.fill("#funds-amount", "50")
    page.click("button:has-text('Add funds')")
    assert "5,000 JPY" in page.locator("#error-summary").inner_text()


def test_every_e_mail_link_opens_a_page_of_the_running_app(rt, open_page, server) -> None:
    org = make_org(rt, kinds=("global",))
    tenant = messages.TenantInfo(org.tid, org.name, "USD")
    links: set[str] = set()
    for event in EVENTS:
        n = messages.Notification("n-1", org.tid, event, PAYLOADS[event], ("a@x.example",),
                                  datetime(2026, 1, 15, 10, tzinfo=UTC))
        out = messages.render(n, tenant, public_url=server.url + "/")
        found = set(LINK.findall(out.text)) | set(LINK.findall(out.html))
        assert found, f"{event} has no link"
        links |= found
    page = open_page(org.email("global"))
    assert len(links) >= 4  # billing, usage, post-paid, spend controls
    for link in sorted(links):
        assert link.startswith(server.url + "/admin/t/" + org.tid + "/"), link
        response = page.goto(link)
        assert response is not None and response.status == 200, (link, response and response.status)
        assert page.locator("h1").count() == 1 and "Not found" not in page.locator("h1").inner_text()
