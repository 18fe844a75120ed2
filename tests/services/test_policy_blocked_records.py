"""A call the dial-out policy forbids that happened anyway (the switch let it through, or the
policy changed while it was up) is charged like any other, and its usage report row says
"Blocked by policy" (JSON, CSV, Excel and the admin center's table)."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select
from tests.conftest import SHARED

from commcredits.db.schema_usage import call_records
from commcredits.services.access.principal import OPERATOR
from commcredits.services.rating import rating
from commcredits.services.usage import reports

AT = "2026-01-14T15:00:00Z"
BLOCKED = "Blocked by policy"


@pytest.fixture
def world(api, rt):
    card = (SHARED / "testdata" / "sample-ratecard.csv").read_bytes()
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files={"card.csv": card}))
    tid = api.tenant()
    uid, _ = api.user(tid, [])
    assert api.fund(tid, "50.00", api.card(tid)).status_code == 201
    switch = api.call("POST", "/v1/tokens", json={"kind": "switch", "tenant_id": tid})
    assert switch.status_code == 201, switch.text
    return api, tid, uid, switch.json()["token"]


def _policy(api, tid: str, policy: str, uid: str | None = None) -> None:
    if uid is None:
        r = api.call("PUT", f"/v1/tenants/{tid}/spend-controls", json={"dial_out_policy": policy})
    else:
        r = api.call("PATCH", f"/v1/tenants/{tid}/users/{uid}", json={"dial_out_policy": policy})
    assert r.status_code == 200, r.text


def _post(api, switch: str, tid: str, uid: str, rid: str, callee: str, seconds: int = 60) -> dict:
    rec = {"id": rid, "tenant_id": tid, "call_type": "user_out", "caller": "+12025550100", "callee": callee,
           "started_at": AT, "duration_seconds": seconds, "user_id": uid}
    r = api.call("POST", "/v1/cdrs", switch, json={"records": [rec]})
    assert r.status_code == 200, r.text
    return r.json()["results"][0]


def _rows(api, tid: str) -> dict[str, dict]:
    r = api.call("GET", f"/v1/tenants/{tid}/usage?format=json&limit=100")
    assert r.status_code == 200, r.text
    assert r.json()["columns"][-2:] == ["Capability", BLOCKED]
    return {i["UsageId"]: i for i in r.json()["items"]}


def test_a_record_the_policy_blocks_is_charged_and_flagged(world, rt) -> None:
    api, tid, uid, switch = world
    _policy(api, tid, "domestic_only")
    uk = _post(api, switch, tid, uid, "uk", "+442079460000", 600)  # 10 min x 0.025 = 0.25
    us = _post(api, switch, tid, uid, "us", "+12025550123", 60)
    premium = _post(api, switch, tid, uid, "premium", "+19002001234", 60)  # domestic, premium: blocked
    sos = _post(api, switch, tid, uid, "sos", "911", 60)  # emergency: never blocked
    assert [(o["status"], o["charge"]) for o in (uk, us, premium, sos)] == \
        [("charged", "0.25"), ("charged", "0.02"), ("charged", "2.24"), ("charged", "0.00")]
    assert api.balance(tid)["balance"] == "47.49"
    rows = _rows(api, tid)
    assert {k: v[BLOCKED] for k, v in rows.items()} == {"uk": "Yes", "us": "", "premium": "Yes", "sos": ""}
    assert rows["uk"]["Charge"] == "0.25"
    with rt.engine.connect() as conn:
        stored = dict(conn.execute(select(call_records.c.id, call_records.c.policy_blocked)).all())
    assert stored == {"uk": True, "us": False, "premium": True, "sos": False}
    # the downloads carry the column last, after DOMAIN.md's columns in their order
    text = api.call("GET", f"/v1/tenants/{tid}/usage?format=csv").text
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == list(reports.COLUMNS) and table[0][-2:] == ["Capability", BLOCKED]
    assert {r[0]: r[-1] for r in table[1:]} == {"uk": "Yes", "us": "", "premium": "Yes", "sos": ""}
    book = api.call("GET", f"/v1/tenants/{tid}/usage?format=xlsx")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(book.content)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][-1] == BLOCKED
    assert {r[0]: r[-1] for r in values[1:]} == {"uk": "Yes", "us": None, "premium": "Yes", "sos": None}


def test_the_users_own_policy_decides_over_the_tenants(world) -> None:
    api, tid, uid, switch = world
    _policy(api, tid, "none")
    _post(api, switch, tid, uid, "before", "+12025550123")
    _policy(api, tid, "all", uid)  # the user's own policy: allowed everywhere
    _post(api, switch, tid, uid, "after", "+442079460000")
    _policy(api, tid, "all")
    _policy(api, tid, "no_premium", uid)
    _post(api, switch, tid, uid, "premium", "+19002001234")
    _post(api, switch, tid, uid, "abroad", "+442079460000")
    flags = {k: v[BLOCKED] for k, v in _rows(api, tid).items()}
    assert flags == {"before": "Yes", "after": "", "premium": "Yes", "abroad": ""}


def test_a_call_allowed_at_authorize_is_flagged_when_the_policy_changed_before_it_ended(world) -> None:
    api, tid, uid, switch = world
    body = {"tenant_id": tid, "call_id": "c1", "call_type": "user_out", "caller": "+12025550100",
            "callee": "+442079460000", "user_id": uid, "started_at": AT}
    auth = api.call("POST", "/v1/calls/authorize", switch, json=body)
    assert auth.status_code == 200 and auth.json()["decision"] == "allow", auth.text
    _policy(api, tid, "domestic_only")
    denied = api.call("POST", "/v1/calls/authorize", switch, json={**body, "call_id": "c2"})
    assert (denied.json()["decision"], denied.json()["reason"]) == ("deny", "policy_blocked")
    end = api.call("POST", "/v1/calls/c1/end", switch, json={"duration_seconds": 120})
    assert end.status_code == 200 and end.json()["charge"] == "0.05", end.text
    rows = _rows(api, tid)
    assert list(rows) == ["c1"] and rows["c1"][BLOCKED] == "Yes"


def test_the_web_table_marks_a_blocked_call(rt, api) -> None:
    from tests.web.support import client_for, login, make_org

    card = (SHARED / "testdata" / "sample-ratecard.csv").read_bytes()
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files={"card.csv": card}))
    org = make_org(rt, kinds=("billing",))
    tid, uid = org.tid, org.uid("billing")
    assert api.fund(tid, "50.00", api.card(tid)).status_code == 201
    _policy(api, tid, "domestic_only")
    _post(api, api.operator_token, tid, uid, "uk", "+442079460000")
    _post(api, api.operator_token, tid, uid, "us", "+12025550123")
    client = client_for(rt)
    assert login(client, org.email("billing")).status_code == 303
    html = client.get(f"/admin/t/{tid}/usage?from=2026-01-01&to=2026-01-31").text
    rows = html.split('<table id="usage">')[1].split("</tbody>")[0].split("<tr>")[2:]  # after the header row
    marked = {"+44" in r: "blocked by policy" in r for r in rows}  # by whether the number is the UK one
    assert len(rows) == 2 and marked == {True: True, False: False}
