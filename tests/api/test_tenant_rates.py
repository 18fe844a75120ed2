"""Prices for tenants (GET /v1/tenants/{tid}/rates) and CGRateS folders loaded as updates."""

from __future__ import annotations

import csv
import io

from tests.api.test_rate_deck_lifecycle import BASE, upload
from tests.api.test_rating_api import TESTDATA, upload_folder


def test_admins_look_up_prices_by_number_name_or_csv(api) -> None:
    upload(api, BASE + "outbound,447,United Kingdom mobile,0.15,0.01,60,1,2026-01-01,\n")
    tid = api.tenant()
    _, admin = api.user(tid, ["helpdesk_administrator"])
    r = api.call("GET", f"/v1/tenants/{tid}/rates", admin, params={"destination": "+447911123456"})
    assert r.status_code == 200, r.text
    assert r.json()["currency"] == "USD"
    assert r.json()["items"] == [{
        "prefix": "447", "destination": "United Kingdom mobile", "category": "outbound",
        "rate_per_minute": "0.15", "connection_fee": "0.01", "currency": "USD",
        "effective_from": "2026-01-01T00:00:00Z", "initial_increment": 60, "next_increment": 1}]
    landline = api.call("GET", f"/v1/tenants/{tid}/rates", admin, params={"destination": "+442079460000"})
    assert [i["prefix"] for i in landline.json()["items"]] == ["44"]
    names = api.call("GET", f"/v1/tenants/{tid}/rates", admin, params={"q": "united KINGDOM"}).json()["items"]
    assert [i["prefix"] for i in names] == ["44", "447"]
    france = api.call("GET", f"/v1/tenants/{tid}/rates", admin, params={"q": "france"}).json()["items"]
    assert [(i["prefix"], i["rate_per_minute"]) for i in france] == [("33", "0.05")]
    digits = api.call("GET", f"/v1/tenants/{tid}/rates", admin, params={"q": "+4"}).json()["items"]
    assert [i["prefix"] for i in digits] == ["44", "447", "49"]
    page = api.call("GET", f"/v1/tenants/{tid}/rates", admin, params={"limit": 3}).json()
    rest = api.call("GET", f"/v1/tenants/{tid}/rates", admin,
                    params={"limit": 3, "cursor": page["next_cursor"]}).json()
    assert len(page["items"]) == 3 and [i["prefix"] for i in rest["items"]] == ["49"]
    assert rest["next_cursor"] is None
    exported = api.call("GET", f"/v1/tenants/{tid}/rates", admin, params={"format": "csv"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == ["prefix", "destination", "category", "rate_per_minute", "connection_fee",
                       "currency", "effective_from"]
    assert rows[1:] == [["33", "France", "outbound", "0.05", "0.00", "USD", "2026-01-01T00:00:00Z"],
                        ["44", "United Kingdom", "outbound", "0.10", "0.00", "USD", "2026-01-01T00:00:00Z"],
                        ["447", "United Kingdom mobile", "outbound", "0.15", "0.01", "USD", "2026-01-01T00:00:00Z"],
                        ["49", "Germany", "outbound", "0.07", "0.00", "USD", "2026-01-01T00:00:00Z"]]
    assert api.call("GET", f"/v1/tenants/{tid}/rates").status_code == 200  # the operator


def test_who_may_see_prices_and_bounded_inputs(api) -> None:
    upload(api, BASE)
    tid, other = api.tenant(), api.tenant()
    _, plain = api.user(tid, [])
    _, stranger = api.user(other, ["global_administrator"])
    assert api.call("GET", f"/v1/tenants/{tid}/rates", plain).status_code == 403
    assert api.call("GET", f"/v1/tenants/{tid}/rates", stranger).status_code == 404
    assert api.call("GET", f"/v1/tenants/{tid}/rates", "nope").status_code == 401
    for params in ({"q": "x" * 101}, {"destination": "+" + "4" * 40}, {"limit": 0}, {"limit": 1001},
                   {"cursor": "abc"}, {"format": "xml"}, {"destination": "+999"}, {"q": "\x00"}):
        r = api.call("GET", f"/v1/tenants/{tid}/rates", params=params)
        assert r.status_code == 422, (params, r.text)
    assert api.call("GET", "/v1/tenants/nope/rates").status_code == 404


def test_a_cgrates_folder_loads_as_an_update_by_ids(api) -> None:
    assert upload_folder(api, TESTDATA / "cgrates-tutorial").status_code == 201
    params = {"rating_key": "cgrates.org", "category": "call", "subject": "1001", "destination": "1002",
              "started_at": "2026-01-05T10:00:00Z", "duration_seconds": 120}
    assert api.call("GET", "/v1/rates/quote", params=params).json()["charge"] == "0.70"
    rates = "#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\n" \
            "RT_20CNT,0.5,0.2,60s,60s,0s\nRT_20CNT,0,0.1,60s,1s,60s\n"
    r = api.call("POST", "/v1/rate-decks", data={"format": "cgrates", "mode": "update", "rating_key": "cgrates.org"},
                 files=[("files", ("Rates.csv", rates.encode(), "text/csv"))])
    assert r.status_code == 201, r.text
    assert r.json()["mode"] == "update" and r.json()["rating_keys"] == ["cgrates.com", "cgrates.org"]
    assert api.call("GET", "/v1/rates/quote", params=params).json()["charge"] == "0.80"  # connect fee 0.5
    other = {**params, "destination": "1003"}
    assert api.call("GET", "/v1/rates/quote", params=other).status_code == 200  # the rest is kept
    broken = "#Id,Rate,Rounding,Decimals,MaxCost,MaxCostStrategy\nDR_X,DST_NONE,RT_20CNT,*up,4,0,\n"
    r = api.call("POST", "/v1/rate-decks", data={"format": "cgrates", "mode": "update", "rating_key": "cgrates.org"},
                 files=[("files", ("DestinationRates.csv", broken.encode(), "text/csv"))])
    assert r.status_code == 422 and "DST_NONE" in r.json()["detail"], r.text
