"""Sign-in, operator sign-in and Account errors in Debian's Chromium, as on the other forms:
the message sits next to its field (aria-invalid, aria-describedby), the focus moves there
so a screen reader announces it, and the page title starts with "Error:"."""

from __future__ import annotations

from typing import Any

import pytest
from tests.web.conftest import DESKTOP
from tests.web.support import PASSWORD, make_org
from tests.web.test_accessibility import check_page

from commcredits.services.access import tenants as tenant_svc
from commcredits.services.access import web_auth
from commcredits.services.access.principal import OPERATOR

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def error_of(page: Any, field: str) -> str:
    box = page.locator(f"#{field}")
    assert box.get_attribute("aria-invalid") == "true"
    assert f"{field}-error" in (box.get_attribute("aria-describedby") or "").split()
    assert page.evaluate("document.activeElement.id") == field
    assert page.title().startswith("Error: ")
    assert page.locator("#error-summary a").get_attribute("href") == f"#{field}"
    return str(page.locator(f"#{field}-error").inner_text())


def test_login_errors_sit_at_their_fields(rt, browser, server) -> None:
    org = make_org(rt, kinds=("billing",))
    other = make_org(rt, "Contoso", kinds=())
    shared = org.email("billing")  # the same address with a password in a second tenant
    user = tenant_svc.create_user(rt, OPERATOR, other.tid, email=shared, display_name="Twin", usage_location="US",
                                  roles=["billing_administrator"], licenses=[])
    web_auth.set_password(rt, OPERATOR, other.tid, user.id, PASSWORD)
    context = browser.new_context(base_url=server.url, viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto("/admin/login")
    assert not page.title().startswith("Error")
    page.fill("#login-email", shared)
    page.fill("#login-password", "not the password at all")
    page.click("button:has-text('Sign in')")
    assert "type the password again" in error_of(page, "login-password")
    assert page.title().startswith("Error: The e-mail address or the password is not right")
    assert page.locator("#login-email").input_value() == shared  # kept, and not marked
    assert page.locator("#login-email").get_attribute("aria-invalid") is None
    check_page(page, "login-error", DESKTOP)

    page.fill("#login-password", PASSWORD)
    page.click("button:has-text('Sign in')")
    assert "organisation ID" in error_of(page, "login-tenant")
    page.fill("#login-password", PASSWORD)
    page.fill("#login-tenant", org.tid)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"**/admin/t/{org.tid}/billing")

    page = context.new_page()
    page.goto("/admin/operator/login")
    page.fill("#operator-token", "not a token")
    page.click("button:has-text('Sign in')")
    assert "commcredits init" in error_of(page, "operator-token")
    context.close()


def test_account_errors_sit_at_their_fields(rt, open_page) -> None:
    org = make_org(rt, kinds=("billing",))
    page = open_page(org.email("billing"))
    page.goto("/admin/account")

    def change(current: str, new: str, repeat: str) -> None:
        page.fill("#account-current", current)
        page.fill("#account-new", new)
        page.fill("#account-repeat", repeat)
        page.click("button:has-text('Change password')")

    change(PASSWORD, "a brand new password", "a brand new passwort")
    assert "same new password" in error_of(page, "account-repeat")
    assert page.title().startswith("Error: The two new passwords differ")
    change("a wrong password", "a brand new password", "a brand new password")
    assert "signed in with" in error_of(page, "account-current")
    change(PASSWORD, "aaaaaaaaaaaa", "aaaaaaaaaaaa")
    assert "different characters" in error_of(page, "account-new")
    assert "account-new-hint" in (page.locator("#account-new").get_attribute("aria-describedby") or "")
    check_page(page, "account-error", DESKTOP)
    change(PASSWORD, "a brand new password", "a brand new password")
    assert "Your password was changed." in page.locator("#message").inner_text()
    assert not page.title().startswith("Error")
