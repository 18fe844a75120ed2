"""The same card (brand, last 4 digits, expiry) cannot be saved twice for a tenant: the API
answers 409 duplicate_card naming the saved card, like the web form. A removed card, a new
expiry or another tenant is not a duplicate."""

from __future__ import annotations

CARD = {"card_number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


def post(api, tid: str, **changes):  # type: ignore[no-untyped-def]
    return api.call("POST", f"/v1/tenants/{tid}/payment-methods", json={**CARD, **changes})


def test_the_same_card_twice_is_refused_naming_the_saved_one(api) -> None:
    tid = api.tenant()
    first = post(api, tid)
    assert first.status_code == 201, first.text
    saved = first.json()["id"]
    again = post(api, tid, cvc="999")
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    body = again.json()
    assert body["code"] == "duplicate_card" and body["payment_method_id"] == saved
    assert saved in body["detail"] and "4242" in body["detail"]
    cards = api.call("GET", f"/v1/tenants/{tid}/payment-methods").json()["items"]
    assert [c["id"] for c in cards] == [saved]


def test_other_expiry_other_tenant_or_a_removed_card_is_not_a_duplicate(api) -> None:
    tid, other = api.tenant(), api.tenant(name="Other")
    saved = post(api, tid).json()["id"]
    assert post(api, tid, exp_year=2031).status_code == 201
    assert post(api, tid, card_number="5555555555554444").status_code == 201
    assert post(api, other).status_code == 201
    assert api.call("DELETE", f"/v1/tenants/{tid}/payment-methods/{saved}").status_code == 204
    assert post(api, tid).status_code == 201
