"""Reports > Calling rates in a real browser (Playwright on Debian's Chromium): search by
country name or number, the table, the CSV download, the tenant's currency, and who may see it."""

from __future__ import annotations

import csv

import pytest
from tests.web.support import client_for, login, make_org

from commcredits.services.access.principal import OPERATOR
from commcredits.services.rating import rate_decks

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
CARD = ("category,prefix,destination,rate_per_minute,connection_fee,initial_increment,next_increment,effective_from\n"
        "outbound,44,United Kingdom,0.10,0,60,60,2026-01-01\n"
        "outbound,447,United Kingdom mobile,0.15,0.01,60,1,2026-01-01\n"
        "outbound,33,France,0.05,0,60,60,2026-01-01\n"
        "outbound,336,France mobile,0.0125,0,1,1,2026-01-01\n"
        "outbound,49,Germany,0.07,0,60,60,2026-01-01\n")


def _deck(rt, currency: str = "USD") -> None:  # type: ignore[no-untyped-def]
    rate_decks.import_files(rt, OPERATOR, format_="ratecard", currency=currency,
                            files={"card.csv": CARD.encode()})


def test_an_admin_searches_rates_by_country_and_number_and_downloads_them(rt, open_page) -> None:
    _deck(rt)
    org = make_org(rt, kinds=("global",))
    page = open_page(org.email("global"))
    page.click("nav >> text=Calling rates")
    assert page.locator("h1").inner_text() == "Calling rates"
    assert page.locator("#rates tbody tr").count() == 5
    assert "5 destinations, prices in USD." in page.locator("#rates-summary").inner_text()
    assert "Per minute (USD)" in page.locator("#rates thead").inner_text()

    page.fill("#rates-q", "france")
    page.click("button:has-text('Search')")
    rows = [r.inner_text().split("\t") for r in page.locator("#rates tbody tr").all()]
    assert [(r[0], r[1], r[3], r[5]) for r in rows] == [("France", "+33", "0.05", "60/60"),
                                                        ("France mobile", "+336", "0.0125", "1/1")]
    assert "q=france" in page.url

    page.fill("#rates-q", "+44 7911 123456")
    page.click("button:has-text('Search')")
    only = page.locator("#rates tbody tr")
    assert only.count() == 1
    assert only.first.inner_text().split("\t")[:5] == ["United Kingdom mobile", "+447", "Outbound", "0.15", "0.01"]

    page.fill("#rates-q", "atlantis")
    page.click("button:has-text('Search')")
    assert "No rate matches “atlantis”" in page.locator(".empty").inner_text()

    page.click("a:has-text('Show all')")
    with page.expect_download() as info:
        page.click("a:has-text('Download CSV')")
    assert info.value.suggested_filename == "calling-rates.csv"
    with open(info.value.path(), encoding="utf-8") as text:
        rows = list(csv.reader(text))
    assert rows[0] == ["prefix", "destination", "category", "rate_per_minute", "connection_fee", "currency",
                       "effective_from"]
    assert len(rows) == 6 and rows[1] == ["33", "France", "outbound", "0.05", "0.00", "USD", "2026-01-01T00:00:00Z"]


def test_the_page_shows_the_tenants_currency_and_only_to_admins(rt) -> None:
    _deck(rt, "EUR")
    org = make_org(rt, kinds=("helpdesk", "nobody"), currency="EUR", country="FR", billing_country="FR")
    other = make_org(rt, "Contoso", kinds=("global",))
    client = client_for(rt)
    assert login(client, org.email("helpdesk")).status_code == 303
    r = client.get(f"/admin/t/{org.tid}/rates", params={"q": "germany"})
    assert r.status_code == 200 and "prices in EUR" in r.text and "0.07" in r.text
    assert client.get(f"/admin/t/{org.tid}/rates", params={"q": "x" * 101}).status_code == 422
    assert client.get(f"/admin/t/{other.tid}/rates").status_code == 404
    plain = client_for(rt)
    assert login(plain, org.email("nobody")).status_code == 303
    assert plain.get(f"/admin/t/{org.tid}/rates").status_code == 403
