"""Every admin page on a desktop (1280x900), a phone (390x844) and at 200 % zoom (640 px) in
Debian's Chromium: no horizontal scrolling, no serious or critical axe-core violations, and a
screenshot of each kept under tests/web/artifacts/ (git-ignored). The add-funds and
auto-recharge forms are used with the keyboard alone, and their errors are tied to the fields.

axe-core comes from the npm registry: `npm ci --prefix tests/web/axe` installs the version
pinned in tests/web/axe/package-lock.json. Without it the axe checks are skipped with a
warning that names that command; the rest of each test still runs.
Set COMMCREDITS_UPDATE_SCREENSHOT=1 to refresh docs/images/admin-center.png (the README's).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import pytest
from tests.as_json import funds, recharge_settings
from tests.web.conftest import DESKTOP, PHONE
from tests.web.support import make_org

from commcredits.services.access.principal import OPERATOR
from commcredits.services.demo import DEMO_PASSWORD, seed_demo
from commcredits.services.payments import payment_methods

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
ZOOMED = {"width": 640, "height": 450}  # a 1280x900 window at 200 % zoom
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "web" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "tests" / "web" / "artifacts"
README_IMAGE = ROOT / "docs" / "images" / "admin-center.png"
TENANT_PAGES = ("billing", "transactions", "payment-methods", "postpaid", "spend-controls", "licenses", "usage",
                "rates", "notifications", "no-such-page")


def check_page(page: Any, name: str, viewport: dict[str, int]) -> None:
    """No horizontal scroll at phone width, no serious axe violation, a screenshot kept."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{viewport['width']}.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.evaluate("window.innerWidth"), f"{name} is {width} px wide at {viewport['width']} px"
    if not AXE.exists():
        warnings.warn(f"axe-core checks skipped: {AXE} is missing (npm ci --prefix tests/web/axe)", stacklevel=2)
        return
    page.evaluate(AXE.read_text())  # evaluated by the driver, so the page's CSP does not block it
    found = page.evaluate("axe.run(document).then(r => r.violations.map(v => "
                          "({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)})))")
    bad = [v for v in found if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name} at {viewport['width']} px: {bad}"


def _demo(rt: Any) -> dict[str, Any]:
    """The demo tenant, with a second card and auto-recharge on (so every part of every page shows)."""
    seeded = seed_demo(rt)
    assert seeded
    tid = seeded["tenant_id"]
    cards = payment_methods.list_payment_methods(rt, OPERATOR, tid)
    payment_methods.add_payment_method(rt, OPERATOR, tid, card_number="5555555555554444", exp_month=8,
                                       exp_year=2031, cvc="123")
    recharge_settings.save_settings(rt, OPERATOR, tid, enabled=True, amount="50.00", trigger="20.00",
                                    payment_method_id=cards[0].id)
    return seeded


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE, ZOOMED], ids=["desktop", "phone", "zoom-200"])
def test_every_tenant_page_fits_and_passes_axe(rt, open_page, viewport) -> None:
    seeded = _demo(rt)
    page = open_page(seeded["admin_email"], viewport, password=DEMO_PASSWORD)
    base = f"/admin/t/{seeded['tenant_id']}"
    for name in TENANT_PAGES:
        page.goto(f"{base}/{name}")
        check_page(page, name, viewport)
        assert page.locator("nav.side a, details.menu-narrow nav a").count() > 0, f"{name} lost the menu"
        if name == "usage" and viewport is DESKTOP and os.environ.get("COMMCREDITS_UPDATE_SCREENSHOT"):
            README_IMAGE.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(README_IMAGE))
    page.goto(f"{base}/account")
    check_page(page, "account", viewport)
    page.goto(f"{base}/billing")
    page.locator("#transactions a:has-text('R-')").first.click()
    check_page(page, "receipt", viewport)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_signed_out_and_operator_pages_fit_and_pass_axe(rt, api, browser, server, viewport) -> None:
    seed_demo(rt)
    context = browser.new_context(base_url=server.url, viewport=viewport)
    page = context.new_page()
    page.goto("/admin/login")
    assert "/v1/" not in page.content()  # no API paths for end users
    check_page(page, "login", viewport)
    page.goto("/admin/operator/login")
    check_page(page, "operator-login", viewport)
    page.fill("input[name=token]", api.operator_token)
    page.click("button:has-text('Sign in')")
    assert page.locator("h1").inner_text() == "All tenants"
    assert "USD" in page.locator("#tenants tbody td.num").first.inner_text()  # balances with their currency
    check_page(page, "operator", viewport)
    context.close()


def test_the_menu_folds_on_a_phone_and_opens_without_javascript(rt, browser, server) -> None:
    seeded = seed_demo(rt)
    assert seeded
    context = browser.new_context(base_url=server.url, viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto("/admin/login")
    page.fill("input[name=email]", seeded["admin_email"])
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button:has-text('Sign in')")
    assert not page.locator("nav.side").is_visible()
    menu = page.locator("details.menu-narrow nav a:has-text('PSTN usage')")
    assert not menu.is_visible()
    page.click("details.menu-narrow summary")
    menu.click()
    assert page.locator("h1").inner_text() == "PSTN usage"
    context.close()


def test_add_funds_and_auto_recharge_by_keyboard_alone(rt, open_page) -> None:
    org = make_org(rt, kinds=("billing",))
    payment_methods.add_payment_method(rt, OPERATOR, org.tid, card_number="4242424242424242", exp_month=12,
                                       exp_year=2030, cvc="123")
    page = open_page(org.email("billing"))
    page.wait_for_load_state("load")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for _ in range(3):  # a loaded browser may still be giving the new page its focus: the first Tab can land on body
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName") != "BODY":
            break
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Enter")  # the skip link

    def tab_to(selector: str) -> None:
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate(f"document.activeElement === document.querySelector('{selector}')"):
                outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
                assert outline != "none", f"{selector} shows no focus"
                return
        raise AssertionError(f"Tab never reached {selector}")

    tab_to("#funds-amount")
    page.keyboard.type("1,000.00")  # typed as people do: the page turns it into 1000.00
    page.keyboard.press("Enter")
    assert "Funds added." in page.locator("#message").inner_text()
    assert page.evaluate("document.activeElement.id") == "message"  # the message takes the focus
    assert page.locator("#balance").inner_text() == "1,000.00 USD"

    tab_to("#ar-enabled")
    page.keyboard.press("Space")
    tab_to("#ar-amount")
    page.keyboard.type("50")
    tab_to("#ar-trigger")
    page.keyboard.type("1500")
    page.keyboard.press("Enter")
    warning = page.locator("#charge-warning").inner_text()
    assert "saving charges 500.00 USD to the card at once" in warning  # 1,000 up to 1,500 in 50s: 10 x 50
    assert page.evaluate("document.activeElement.id") == "charge-warning"
    assert page.locator("#balance").inner_text() == "1,000.00 USD"  # nothing charged yet
    tab_to("#auto-recharge button.primary")
    assert page.evaluate("document.activeElement.textContent") == "Save and charge 500.00 USD now"
    page.keyboard.press("Enter")
    assert "charged 500.00 USD at once: the charge succeeded" in page.locator("#message").inner_text()
    assert page.locator("#balance").inner_text() == "1,500.00 USD"


def test_errors_sit_at_their_fields_and_change_the_title(rt, open_page) -> None:
    org = make_org(rt, kinds=("billing",), country="DE", currency="EUR", billing_country="DE",
                   timezone="Europe/Berlin")
    payment_methods.add_payment_method(rt, OPERATOR, org.tid, card_number="4242424242424242", exp_month=12,
                                       exp_year=2030, cvc="123")
    funds.add_funds(rt, OPERATOR, org.tid, amount="100.00",
                    payment_method_id=payment_methods.list_payment_methods(rt, OPERATOR, org.tid)[0].id,
                    idempotency_key="seed")
    page = open_page(org.email("billing"))

    def error_of(field: str) -> str:
        box = page.locator(f"#{field}")
        assert box.get_attribute("aria-invalid") == "true"
        described = box.get_attribute("aria-describedby") or ""
        assert f"{field}-error" in described.split()
        assert page.evaluate("document.activeElement.id") == field  # the focus moves to it: it is announced
        assert page.title().startswith("Error: ")
        return page.locator(f"#{field}-error").inner_text()

    page.fill("#funds-amount", "abc")
    page.click("button:has-text('Add funds')")
    assert "such as 1.000,00" in error_of("funds-amount")  # the example in the tenant's locale
    check_page(page, "billing-error", DESKTOP)

    page.fill("#funds-amount", "50,00")  # a decimal comma in a German tenant
    page.click("button:has-text('Add funds')")
    assert "Funds added." in page.locator("#message").inner_text()
    assert page.locator("#balance").inner_text() == "150.00 EUR"

    page.fill("#ar-amount", "")  # cleared, and auto-recharge on: an error, never the old value kept
    page.check("#ar-enabled")
    page.fill("#ar-trigger", "20")
    page.click("#auto-recharge button.primary")
    assert "enter the recharge amount" in error_of("ar-amount").lower()
    assert page.locator("#ar-amount").get_attribute("placeholder") is None  # no grey example values

    page.goto(f"/admin/t/{org.tid}/payment-methods")
    page.fill("#card-number", "4242 4242 4242 4242")
    page.fill("#card-exp-month", "13")
    page.fill("#card-exp-year", "2030")
    page.fill("#card-cvc", "123")
    page.click("button:has-text('Save card')")
    assert "from 1 to 12" in error_of("card-exp-month")
    check_page(page, "cards-error", DESKTOP)
    page.fill("#card-number", "4242 4242 4242 4242")
    page.fill("#card-exp-month", "12")
    page.fill("#card-cvc", "123")
    page.click("button:has-text('Save card')")
    assert "already saved" in page.locator("#error-summary").inner_text()
    assert "no need to save it twice" in error_of("card-number")
    assert page.locator("#cards tbody tr").count() == 1
