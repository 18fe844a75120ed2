"""The billing forms over HTTP (both databases): amounts typed the tenant's way, bounds,
clearing the auto-recharge amounts, and the card auto-recharge charges."""

from __future__ import annotations

import re

from tests.as_json import balances, recharge_settings
from tests.web.support import client_for, csrf_of, login, make_org

from commcredits.services.access.principal import OPERATOR


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def test_amounts_in_the_tenants_locale_and_bounds(rt, api) -> None:
    org = make_org(rt, "Contoso GmbH", kinds=("billing",), country="DE", currency="EUR", billing_country="DE",
                   timezone="Europe/Berlin")
    pm = api.card(org.tid)
    client = client_for(rt)
    login(client, org.email("billing"))
    token = csrf_of(client.get(f"/admin/t/{org.tid}/billing").text)

    def add(amount: str, key: str):  # type: ignore[no-untyped-def]
        return client.post(f"/admin/t/{org.tid}/billing/funds", data={
            "csrf_token": token, "amount": amount, "payment_method_id": pm, "idempotency_key": key})

    assert "Funds added." in _text(add("1.000,00", "a").text)
    assert balances.balance_view(rt, OPERATOR, org.tid)["balance"] == "1000.00"
    too_long = add("1" * 41, "b")
    assert too_long.status_code == 422 and "The amount is not an amount" in _text(too_long.text)
    decimals = add("50,001", "c")
    assert decimals.status_code == 422 and "EUR amounts have at most 2 decimals" in _text(decimals.text)
    big = add("1.000.000,00", "d")
    assert big.status_code == 422 and "The maximum purchase is 100,000.00 EUR" in _text(big.text)  # as the page prints
    assert balances.balance_view(rt, OPERATOR, org.tid)["balance"] == "1000.00"


def test_clearing_the_amounts_turns_auto_recharge_off_or_is_an_error(rt, api) -> None:
    org = make_org(rt, kinds=("billing",))
    pm = api.card(org.tid)
    api.fund(org.tid, "100.00", pm)
    recharge_settings.save_settings(rt, OPERATOR, org.tid, enabled=True, amount="50.00", trigger="20.00",
                                    payment_method_id=pm)
    client = client_for(rt)
    login(client, org.email("billing"))
    page = client.get(f"/admin/t/{org.tid}/billing").text
    token = csrf_of(page)
    url = f"/admin/t/{org.tid}/billing/auto-recharge"
    kept = client.post(url, data={"csrf_token": token, "enabled": "on", "amount": "", "trigger": "20.00",
                                  "payment_method_id": pm})
    assert kept.status_code == 422 and "Enter the recharge amount" in _text(kept.text)
    assert recharge_settings.settings_view(rt, OPERATOR, org.tid)["amount"] == "50.00"
    off = client.post(url, data={"csrf_token": token, "amount": "", "trigger": "", "payment_method_id": pm})
    assert "Auto-recharge settings saved. Nothing was charged." in _text(off.text)
    assert recharge_settings.settings_view(rt, OPERATOR, org.tid)["enabled"] is False


def test_the_card_auto_recharge_charges_has_no_remove_button(rt, api) -> None:
    org = make_org(rt, kinds=("billing",))
    used = api.card(org.tid)
    spare = api.card(org.tid, "5555555555554444")
    api.fund(org.tid, "100.00", used)
    recharge_settings.save_settings(rt, OPERATOR, org.tid, enabled=True, amount="50.00", trigger="20.00",
                                    payment_method_id=used)
    client = client_for(rt)
    login(client, org.email("billing"))
    page = client.get(f"/admin/t/{org.tid}/payment-methods").text
    assert f"/payment-methods/{used}/remove" not in page and f"/payment-methods/{spare}/remove" in page
    assert "Cannot be removed while auto-recharge charges it" in _text(page)
    assert _text(page).count("12/2030") >= 2  # the expiry of each card
    billing = _text(client.get(f"/admin/t/{org.tid}/billing").text)
    assert "Visa ending in 4242, expires 12/2030" in billing and "Mastercard ending in 4444, expires 12/2030" in billing
