"""The PSTN usage report (JSON, CSV, Excel) and the funding advice."""

from __future__ import annotations

import csv
import io
from datetime import UTC

from openpyxl import load_workbook
from tests.conftest import SHARED
from tests.services.test_charging_stories import World

from commcredits.services.access.principal import OPERATOR
from commcredits.services.rating import rating
from commcredits.services.usage.reports import COLUMNS


def seeded(api, rt):  # type: ignore[no-untyped-def]
    card = (SHARED / "testdata" / "sample-ratecard.csv").read_bytes()
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files={"card.csv": card}))
    world = World(rt)
    tid = world.tenant(products={"domestic_calling_plan": 1})
    ann = world.user(tid, ["domestic_calling_plan", "communications_credits"], roles=["helpdesk_administrator"])
    world.fund(tid)
    for callee, seconds, day in (("+442079460000", 600, 10), ("+12025550123", 61, 11), ("+19005550100", 60, 12)):
        world.call(tid, callee, seconds, user=ann, at=f"2026-01-{day}T09:00:00Z")
    world.call(tid, "+12025550123", 30, call_type="user_in", user=ann, at="2026-01-13T09:00:00Z")
    return tid, ann


def test_usage_report_columns_filters_and_pages(api, rt) -> None:
    tid, _ann = seeded(api, rt)
    r = api.call("GET", f"/v1/tenants/{tid}/usage", params={"limit": 2})
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["columns"] == list(COLUMNS) and len(page["items"]) == 2 and page["next_cursor"]
    first = page["items"][0]
    assert (first["Destination Dialed"], first["Domestic/International"], first["Charge"], first["Capability"]) == (
        "United Kingdom", "International", "0.25", "communications_credits")
    assert first["Duration Seconds"] == 600 and first["End Time"] == "2026-01-10T09:10:00Z"
    assert first["User Location"] == "US" and first["UPN"].endswith("@contoso.example")
    rest = api.call("GET", f"/v1/tenants/{tid}/usage", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    only_in = api.call("GET", f"/v1/tenants/{tid}/usage", params={"call_type": "user_in"}).json()["items"]
    assert [i["Capability"] for i in only_in] == ["free"]
    window = api.call("GET", f"/v1/tenants/{tid}/usage", params={"from": "2026-01-11T00:00:00Z",
                                                                  "to": "2026-01-12T00:00:00Z"}).json()["items"]
    assert [i["Capability"] for i in window] == ["domestic_calling_plan"]


def test_csv_and_excel_exports(api, rt) -> None:
    tid, _ = seeded(api, rt)
    r = api.call("GET", f"/v1/tenants/{tid}/usage", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == list(COLUMNS) and len(rows) == 5
    assert rows[3][COLUMNS.index("Charge")] == "2.24"
    x = api.call("GET", f"/v1/tenants/{tid}/usage", params={"format": "xlsx"})
    assert x.status_code == 200
    sheet = load_workbook(io.BytesIO(x.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == list(COLUMNS) and len(values) == 5


def test_export_file_names_state_the_period(api, rt) -> None:
    tid, _ = seeded(api, rt)

    def name(**params: str) -> str:
        r = api.call("GET", f"/v1/tenants/{tid}/usage", params=params)
        assert r.status_code == 200, r.text
        return r.headers["content-disposition"]

    month = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}  # `to` is exclusive
    assert name(format="xlsx", **month) == f'attachment; filename="usage-{tid[:8]}-2026-11-01_2026-11-30.xlsx"'
    assert name(format="csv", **{"from": "2026-01-11T05:00:00+05:00", "to": "2026-01-12T10:00:00Z"}) == \
        f'attachment; filename="usage-{tid[:8]}-2026-01-11_2026-01-12.csv"'
    assert name(format="csv") == f'attachment; filename="usage-{tid[:8]}-until-2026-01-15.csv"'  # up to now


def test_funding_advice(api, rt, clock) -> None:
    from datetime import datetime

    tid, _ = seeded(api, rt)
    clock.set(datetime(2026, 1, 20, 9, 0, tzinfo=UTC))
    advice = api.call("GET", f"/v1/tenants/{tid}/funding-advice").json()
    # 0.25 + 2.24 of credits over the 10 days since the first credit-paid call
    assert advice["window_days"] == 10 and advice["daily_spend"] == "0.249"
    assert advice["recommended_amount"] == "50.00"  # a month is 7.47: the minimum purchase applies
    assert advice["recommended_trigger"] == "10.00"
    assert advice["days_until_zero"] == 190  # 47.51 available / 0.249 a day
    other = api.tenant(name="Quiet")
    assert api.call("GET", f"/v1/tenants/{other}/funding-advice").json()["days_until_zero"] is None
