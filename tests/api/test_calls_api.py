"""Call control over HTTP: authorize, reserve, extend, end, expire."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from tests.conftest import SHARED

from commcredits.app import create_app
from commcredits.services.access.principal import OPERATOR
from commcredits.services.ledger import audit
from commcredits.services.rating import rating

AT = "2026-01-20T15:00:00Z"
MAX_COST_DECK = {
    "Destinations.csv": b"#Id,Prefix\nDST_UK,44\n",
    "Rates.csv": b"#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\nRT_1CNT_S,0,0.01,1s,1s,0s\n",
    "DestinationRates.csv": b"#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy\n"
                            b"DR_UK,DST_UK,RT_1CNT_S,*up,4,0.12,*disconnect\n",
    "RatingPlans.csv": b"#Id,DestinationRatesId,TimingTag,Weight\nRP_UK,DR_UK,*any,10\n",
    "RatingProfiles.csv": b"#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject\n"
                          b"EUR,outbound,*any,2020-01-01T00:00:00Z,RP_UK,\n",
}


@pytest.fixture
def calls(api, rt):
    card = (SHARED / "testdata" / "sample-ratecard.csv").read_bytes()
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files={"card.csv": card}))
    return Calls(api)


class Calls:
    def __init__(self, api) -> None:
        self.api = api
        r = api.call("POST", "/v1/tokens", json={"kind": "switch"})
        self.switch = r.json()["token"]

    def setup(self, funds: str | None = "10.00", licenses: tuple[str, ...] = ("communications_credits",), **tenant):
        tid = self.api.tenant(**tenant)
        uid, _ = self.api.user(tid, [])
        self.api.call("PATCH", f"/v1/tenants/{tid}/users/{uid}", json={"licenses": list(licenses)})
        if funds:
            assert self.api.fund(tid, "50.00", self.api.card(tid)).status_code == 201
            if funds != "50.00":  # spend down to the wanted balance with a usage record
                from commcredits.domain.money import parse_micros
                from commcredits.services.usage.usage_charges import charge_usage

                charge_usage(self.api.rt, tid, amount=50_000_000 - parse_micros(funds), reference_id=f"spend-{tid}")
        return tid, uid

    def authorize(self, tid: str, uid: str | None, callee: str, call_id: str | None = None, **kw):
        body = {"tenant_id": tid, "call_id": call_id or uuid.uuid4().hex, "call_type": "user_out",
                "caller": "+12025550100", "callee": callee, "user_id": uid, "started_at": AT, **kw}
        return self.api.call("POST", "/v1/calls/authorize", self.switch, json=body)

    def end(self, call_id: str, seconds: int):
        return self.api.call("POST", f"/v1/calls/{call_id}/end", self.switch, json={"duration_seconds": seconds})

    def balance(self, tid: str) -> dict:
        return self.api.balance(tid)


def test_a_funded_call_holds_a_chunk_and_settles_the_real_duration(calls) -> None:
    tid, uid = calls.setup()
    r = calls.authorize(tid, uid, "+442079460000", call_id="c1")
    body = r.json()
    assert r.status_code == 200 and body["decision"] == "allow" and body["funding"] == "credits"
    assert body["max_seconds"] == 300 and body["reservation"]["amount"] == "0.13"  # 5 min x 0.025
    assert calls.balance(tid)["reserved"] == "0.13" and calls.balance(tid)["available"] == "9.87"
    again = calls.authorize(tid, uid, "+442079460000", call_id="c1")
    assert again.json() == body and calls.balance(tid)["reserved"] == "0.13"
    end = calls.end("c1", 61)
    assert end.status_code == 200, end.text
    assert (end.json()["charge"], end.json()["released"], end.json()["status"]) == ("0.03", "0.13", "charged")
    assert calls.end("c1", 61).json()["status"] == "duplicate"
    bal = calls.balance(tid)
    assert (bal["balance"], bal["reserved"]) == ("9.97", "0.00")


def test_denials_name_their_reason(calls, api) -> None:
    tid, uid = calls.setup(funds=None)
    assert calls.authorize(tid, uid, "+442079460000").json()["reason"] == "insufficient_balance"
    tid2, uid2 = calls.setup(licenses=())
    assert calls.authorize(tid2, uid2, "+442079460000").json()["reason"] == "license_required"
    abroad, uid3 = calls.setup(funds=None, billing_country="DE")
    assert calls.authorize(abroad, uid3, "+442079460000").json()["reason"] == "purchase_blocked"
    r = calls.authorize(tid, uid, "+81312345678", call_type="conf_out", organizer_id=uid, user_id=None)
    assert r.json()["decision"] == "deny"
    nowhere = calls.authorize(tid, uid, "+33142685300", call_type="conf_out", organizer_id=uid, user_id=None)
    assert nowhere.json()["reason"] == "no_rate"


def test_free_postpaid_and_pool_calls_have_no_time_limit(calls, api) -> None:
    tid, uid = calls.setup(funds=None)
    r = calls.authorize(tid, uid, "911").json()
    assert (r["decision"], r["funding"], r["max_seconds"]) == ("allow", "free", None)
    r = calls.authorize(tid, uid, "+12025550123", call_type="user_in").json()
    assert (r["decision"], r["funding"], r["max_seconds"]) == ("allow", "free", None)
    post, puid = calls.setup(funds=None, billing_mode="postpaid")
    r = calls.authorize(post, puid, "+442079460000").json()
    assert (r["decision"], r["funding"], r["max_seconds"]) == ("allow", "postpaid", None)
    api.call("POST", f"/v1/tenants/{tid}/subscriptions", json={"product": "domestic_calling_plan", "quantity": 1})
    api.call("PATCH", f"/v1/tenants/{tid}/users/{uid}", json={"licenses": ["domestic_calling_plan", "communications_credits"]})
    r = calls.authorize(tid, uid, "+12025550123", call_id="pool-1").json()
    assert (r["decision"], r["funding"], r["max_seconds"]) == ("allow", "pool", None)
    assert calls.end("pool-1", 125).json()["pool_minutes"] == 3


def test_concurrent_callers_share_the_balance(calls, api, rt) -> None:
    rt.settings = replace(rt.settings, call_chunk_seconds=60)
    tid, uid = calls.setup(funds="0.06")  # US at 0.015/min, 60/60: three one-minute holds of 0.02
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda i: calls.authorize(tid, uid, "+12025550123", call_id=f"cc-{i}").json(), range(10)))
    allowed = [a for a in answers if a["decision"] == "allow"]
    assert len(allowed) == 3 and {a["reason"] for a in answers if a["decision"] == "deny"} == {"insufficient_balance"}
    for a in allowed:
        assert calls.end(a["call_id"], 10).json()["charge"] == "0.02"
    assert (calls.balance(tid)["balance"], calls.balance(tid)["reserved"]) == ("0.00", "0.00")
    assert audit.audit(rt)[1] == []


def test_extend_grants_more_until_nothing_is_affordable(calls, rt) -> None:
    rt.settings = replace(rt.settings, call_chunk_seconds=60)
    tid, uid = calls.setup(funds="0.05")  # 2 minutes of UK fixed at 0.025
    first = calls.authorize(tid, uid, "+442079460000", call_id="x1").json()
    assert first["max_seconds"] == 60
    more = calls.api.call("POST", "/v1/calls/x1/extend", calls.switch).json()
    assert (more["max_seconds"], more["reservation"]["amount"]) == (120, "0.05")
    # half_up to 2 decimals: 131 s cost 0.0546 -> 0.05, 132 s cost 0.055 -> 0.06
    edge = calls.api.call("POST", "/v1/calls/x1/extend", calls.switch).json()
    assert (edge["max_seconds"], edge["reservation"]["amount"]) == (131, "0.05")
    last = calls.api.call("POST", "/v1/calls/x1/extend", calls.switch).json()
    assert (last["max_seconds"], last["reason"]) == (131, "limit_reached")
    assert calls.end("x1", 118).json()["charge"] == "0.05"


def test_full_reservation_and_max_cost_disconnect(calls, api, rt) -> None:
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="cgrates", files=MAX_COST_DECK, currency="EUR"))
    tid, uid = calls.setup(funds=None, currency="EUR", country="GB", billing_country="GB")
    api.call("POST", f"/v1/tenants/{tid}/grants", json={"amount": "10.00", "expires_at": "2030-01-01T00:00:00Z",
                                                        "reason": "test"})
    r = calls.authorize(tid, uid, "+442079460000", reserve="full").json()
    assert (r["decision"], r["max_seconds"], r["reservation"]["amount"]) == ("allow", 12, "0.12")


def test_unsettled_reservations_expire_and_a_late_end_still_charges(calls, api, clock) -> None:
    tid, uid = calls.setup(funds="0.10")
    calls.authorize(tid, uid, "+442079460000", call_id="lost")
    assert calls.balance(tid)["reserved"] == "0.10"
    api.call("POST", "/v1/sandbox/clock", json={"advance": "PT10M"})
    assert calls.balance(tid)["reserved"] == "0.00"
    late = calls.end("lost", 600)  # 10 min x 0.025 = 0.25, more than was there
    assert late.json()["charge"] == "0.25"
    assert calls.balance(tid)["balance"] == "-0.15"


def test_switch_tokens_are_scoped_and_users_cannot_authorize(calls, api) -> None:
    tid, uid = calls.setup()
    other = api.tenant(name="Other")
    scoped = api.call("POST", "/v1/tokens", json={"kind": "switch", "tenant_id": other}).json()["token"]
    body = {"tenant_id": tid, "call_id": "s1", "call_type": "user_out", "caller": "+12025550100",
            "callee": "+442079460000", "user_id": uid}
    assert api.call("POST", "/v1/calls/authorize", scoped, json=body).status_code == 404
    _, admin = api.user(tid, ["global_administrator"])
    assert api.call("POST", "/v1/calls/authorize", admin, json=body).status_code == 403


def test_emergency_calls_are_allowed_when_the_database_is_down(calls, rt) -> None:
    dead = replace(rt, engine=create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none",
                                            connect_args={"connect_timeout": 1}))
    client = TestClient(create_app(dead))
    body = {"tenant_id": "t", "call_id": "e1", "call_type": "user_out", "caller": "+12025550100", "callee": "911"}
    r = client.post("/v1/calls/authorize", json=body, headers={"Authorization": f"Bearer {calls.switch}"})
    assert r.status_code == 200 and (r.json()["decision"], r.json()["funding"]) == ("allow", "free")
    r = client.post("/v1/calls/authorize", json={**body, "callee": "+442079460000"},
                    headers={"Authorization": f"Bearer {calls.switch}"})
    assert r.status_code == 503 and r.json()["code"] == "unavailable"


@pytest.mark.parametrize("field, value", [("started_at", "not-a-date"), ("started_at", "2026-13-45T99:00:00Z"),
                                          ("call_type", 7), ("caller", "+1\x00"), ("reserve", "half")])
def test_a_malformed_authorize_is_a_422_problem(calls, field, value) -> None:
    tid, uid = calls.setup()
    r = calls.authorize(tid, uid, "+442079460000", **{field: value})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "validation_error" and field in r.json()["detail"]


@pytest.mark.parametrize("body", [{"duration_seconds": 30, "ended_at": "yesterday"}, {"duration_seconds": "60"},
                                  {"duration_seconds": 30.0}, {"duration_seconds": True}, {"duration_seconds": -1},
                                  {}])
def test_a_malformed_end_is_a_422_problem_and_settles_nothing(calls, body) -> None:
    tid, uid = calls.setup()
    calls.authorize(tid, uid, "+442079460000", call_id="m1")
    r = calls.api.call("POST", "/v1/calls/m1/end", calls.switch, json=body)
    assert r.status_code == 422 and r.json()["code"] == "validation_error", r.text
    assert calls.balance(tid)["reserved"] == "0.13"  # the hold is still there: nothing settled
    assert calls.end("m1", 30).json()["status"] == "charged"


def test_an_emergency_call_is_allowed_whatever_else_is_wrong(calls) -> None:
    tid, uid = calls.setup()
    for extra in ({"started_at": "not-a-date"}, {"tenant_id": "no-such-tenant"}, {"call_type": "nonsense"},
                  {"unexpected": 1}):
        r = calls.authorize(tid, uid, "911", **extra)
        assert r.status_code == 200 and (r.json()["decision"], r.json()["reason"]) == ("allow", "emergency"), r.text
    bad_token = calls.api.call("POST", "/v1/calls/authorize", "not-a-token",
                               json={"tenant_id": tid, "call_id": "e9", "call_type": "user_out", "callee": "112"})
    assert bad_token.status_code == 200 and bad_token.json()["funding"] == "free"


def test_a_repeated_end_with_another_duration_is_a_conflict(calls) -> None:
    tid, uid = calls.setup()
    calls.authorize(tid, uid, "+442079460000", call_id="r1")
    first = calls.end("r1", 61).json()
    assert first["status"] == "charged"
    again = calls.end("r1", 61).json()
    assert (again["status"], again["charge"], again["duration_seconds"]) == ("duplicate", first["charge"], 61)
    other = calls.end("r1", 120)
    assert other.status_code == 409 and other.json()["code"] == "end_conflict"
    assert calls.balance(tid)["balance"] == "9.97"  # charged once


def test_many_ends_and_authorizations_at_once_settle_each_call_once(calls) -> None:
    """Concurrent requests are decided in shared batches: every call settles exactly once."""
    tid, uid = calls.setup(funds="50.00")
    ids = [f"b{i}" for i in range(40)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        allowed = list(pool.map(lambda c: calls.authorize(tid, uid, "+442079460000", call_id=c).json(), ids))
        assert all(a["decision"] == "allow" for a in allowed)
        ends = list(pool.map(lambda c: calls.end(c, 60).json(), ids + ids))
    assert sorted(e["status"] for e in ends) == ["charged"] * 40 + ["duplicate"] * 40
    view = calls.balance(tid)
    assert (view["reserved"], view["balance"]) == ("0.00", "48.80")  # 40 one-minute calls, 0.025 -> 0.03 each
    assert audit.audit(calls.api.rt)[1] == []


def test_dial_out_policies_deny_at_authorize_before_any_money_is_held(calls, api) -> None:
    tid, uid = calls.setup()
    api.call("PUT", f"/v1/tenants/{tid}/spend-controls", json={"dial_out_policy": "domestic_only"})
    r = calls.authorize(tid, uid, "+442079460000").json()  # international from a US user
    assert (r["decision"], r["reason"], r["reservation"]) == ("deny", "policy_blocked", None)
    assert calls.authorize(tid, uid, "+12025550123").json()["decision"] == "allow"  # domestic
    assert calls.authorize(tid, uid, "911").json()["reason"] == "emergency"  # never blocked
    api.call("PATCH", f"/v1/tenants/{tid}/users/{uid}", json={"dial_out_policy": "all"})  # the user's own wins
    assert calls.authorize(tid, uid, "+442079460000").json()["decision"] == "allow"
    api.call("PATCH", f"/v1/tenants/{tid}/users/{uid}", json={"dial_out_policy": "none"})
    assert calls.authorize(tid, uid, "+12025550123").json()["reason"] == "policy_blocked"
    assert calls.balance(tid)["reserved"] == "0.21"  # the two allowed calls' holds only (0.08 + 0.13)


def test_a_daily_cap_limits_the_grant_and_denies_at_the_cap(calls, api, clock) -> None:
    tid, uid = calls.setup(funds="50.00")
    api.call("PUT", f"/v1/tenants/{tid}/spend-controls", json={"daily_limit": "0.20"})
    at = clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    first = calls.authorize(tid, uid, "+442079460000", call_id="cap1", started_at=at).json()
    assert (first["decision"], first["reservation"]["amount"]) == ("allow", "0.13")  # a 5-minute chunk fits
    second = calls.authorize(tid, uid, "+442079460000", call_id="cap2", started_at=at).json()
    assert (second["decision"], second["max_seconds"]) == ("allow", 179)  # 0.07 left under the cap: 179 s cost 0.07
    third = calls.authorize(tid, uid, "+442079460000", call_id="cap3", started_at=at).json()
    assert (third["decision"], third["reason"]) == ("deny", "spend_cap_reached")
    calls.authorize(tid, uid, "+442079460000", call_id="cap4", started_at=at)
    told = api.call("GET", f"/v1/tenants/{tid}/notifications").json()["items"]
    assert [n["event"] for n in told].count("spend_cap_reached") == 1  # once per period
