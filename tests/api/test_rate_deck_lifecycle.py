"""The rate deck lifecycle over HTTP: updates, dry runs, the coverage guard, versions and
rollback, override decks, and quotes that agree with charges after every step.

The service clock is 2026-01-15 10:00 UTC (tests/conftest.py START).
"""

from __future__ import annotations

import uuid

HEADER = ("category,prefix,destination,rate_per_minute,connection_fee,initial_increment,"
          "next_increment,effective_from,effective_to\n")
BASE = (HEADER + "outbound,44,United Kingdom,0.10,0,60,60,2026-01-01,\n"
        "outbound,33,France,0.05,0,60,60,2026-01-01,\n"
        "outbound,49,Germany,0.07,0,60,60,2026-01-01,\n")
UK, FR, DE, ES = "+442079460000", "+33142278186", "+4930123456", "+34911234567"


def upload(api, text: str, name: str = "card.csv", **form: str):  # type: ignore[no-untyped-def]
    return api.call("POST", "/v1/rate-decks", data={"format": "ratecard", "currency": "USD", **form},
                    files=[("files", (name, text.encode(), "text/csv"))])


def quote(api, number: str, *, seconds: int = 60, tid: str | None = None,  # type: ignore[no-untyped-def]
          at: str = "2026-01-15T10:00:00Z", key: str = "USD"):
    params = {"category": "outbound", "destination": number, "duration_seconds": seconds, "started_at": at}
    params |= {"tenant_id": tid} if tid else {"rating_key": key}
    return api.call("GET", "/v1/rates/quote", params=params)


class Tenant:
    """A funded tenant with one user who may pay calls from credits."""

    def __init__(self, api) -> None:  # type: ignore[no-untyped-def]
        self.api = api
        self.id = api.tenant()
        self.user, self.token = api.user(self.id, ["global_administrator"])
        r = api.fund(self.id, "100.00", api.card(self.id))
        assert r.status_code == 201, r.text

    def call(self, number: str, seconds: int = 60, at: str = "2026-01-15T10:00:00Z") -> dict:
        rec = {"id": uuid.uuid4().hex, "tenant_id": self.id, "call_type": "user_out",
               "caller": "+12025550100", "callee": number, "started_at": at,
               "duration_seconds": seconds, "user_id": self.user}
        r = self.api.call("POST", "/v1/cdrs", json={"records": [rec]})
        assert r.status_code == 200, r.text
        return dict(r.json()["results"][0])

    def agrees(self, number: str, seconds: int = 60) -> str:
        """Quote and charge the same call now; they must agree. Returns the charge."""
        q = quote(self.api, number, seconds=seconds, tid=self.id)
        assert q.status_code == 200, q.text
        charged = self.call(number, seconds)
        assert charged["status"] == "charged", charged
        assert charged["charge"] == q.json()["charge"], (charged, q.json())
        return str(charged["charge"])


def test_an_update_changes_one_uk_price_and_france_keeps_its_rate(api) -> None:
    assert upload(api, BASE).status_code == 201
    t = Tenant(api)
    assert (t.agrees(UK), t.agrees(FR)) == ("0.10", "0.05")
    r = upload(api, HEADER + "outbound,44,United Kingdom,0.20,0,60,60,2026-01-15,\n", mode="update")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["mode"], body["changed_count"], body["added_count"], body["removed_count"]) == ("update", 1, 0, 0)
    assert body["changed"][0]["old"]["rate_per_minute"] == "0.10"
    assert body["changed"][0]["new"]["rate_per_minute"] == "0.20"
    assert (t.agrees(UK), t.agrees(FR), t.agrees(DE)) == ("0.20", "0.05", "0.07")
    # a call before the change keeps the old price (the version in force at its start)
    assert quote(api, UK, at="2026-01-10T12:00:00Z").json()["charge"] == "0.10"
    decks = api.call("GET", "/v1/rate-decks").json()["items"]
    assert [(d["version"], d["mode"], d["imported_by"]) for d in decks] == [(2, "update", "operator"),
                                                                            (1, "replace", "operator")]
    assert decks[0]["counts"] == {"added": 0, "changed": 1, "removed": 0, "prefixes": 1}
    assert decks[0]["parents"] == {"USD": 1} and decks[0]["in_force_for"] == ["USD"]
    assert decks[1]["in_force_for"] == [] and decks[1]["live_for"] == ["USD"]


def test_an_update_adds_and_ends_rates_by_date(api) -> None:
    upload(api, BASE)
    r = upload(api, HEADER + "outbound,34,Spain,0.06,0,60,60,2026-01-15,\n"
               "outbound,49,Germany,0.07,0,60,60,2026-01-01,2026-02-01\n", mode="update")
    assert r.status_code == 201, r.text
    assert quote(api, ES).json()["charge"] == "0.06"
    assert quote(api, DE, at="2026-01-31T23:59:00Z").json()["charge"] == "0.07"
    late = quote(api, DE, at="2026-02-01T00:00:00Z")
    assert late.status_code == 422 and late.json()["code"] == "no_rate"
    assert quote(api, FR, at="2026-03-01T00:00:00Z").json()["charge"] == "0.05"


def test_a_replacement_is_not_shadowed_by_an_older_scheduled_change(api) -> None:
    upload(api, BASE)
    upload(api, HEADER + "outbound,44,United Kingdom,0.20,0,60,60,2026-02-01,\n", mode="update")
    assert quote(api, UK, at="2026-02-05T00:00:00Z").json()["charge"] == "0.20"
    whole = HEADER + ("outbound,44,United Kingdom,0.11,0,60,60,2026-01-20,\n"
                      "outbound,33,France,0.06,0,60,60,2026-01-20,\n")
    r = upload(api, whole, force="true")
    assert r.status_code == 201, r.text
    assert quote(api, UK, at="2026-01-19T00:00:00Z").json()["charge"] == "0.10"  # before it: as it was
    assert quote(api, UK, at="2026-02-05T00:00:00Z").json()["charge"] == "0.11"  # not the older 0.20
    assert quote(api, DE, at="2026-02-05T00:00:00Z").json()["code"] == "no_rate"  # replaced: not in the deck


def test_dry_run_numbers_match_a_hand_count_and_the_guard_refuses(api) -> None:
    upload(api, BASE)
    t = Tenant(api)
    for number, day in ((FR, 2), (FR, 10), (FR, 14), (DE, 5), (DE, 6), (UK, 14)):
        assert t.call(number, 60, at=f"2026-01-{day:02d}T09:00:00Z")["status"] == "charged"
    t.call(FR, 60, at="2025-12-01T09:00:00Z")  # older than 30 days: not counted (no rate then)
    new = HEADER + ("outbound,44,United Kingdom,0.12,0,60,60,2026-01-01,\n"
                    "outbound,49,Germany,0.07,0,60,60,2026-01-01,\n"
                    "outbound,34,Spain,0.06,0,60,60,2026-01-01,\n")
    r = upload(api, new, dry_run="true")
    assert r.status_code == 200, r.text
    d = r.json()
    # by hand: Spain added, UK 0.10 -> 0.12, France removed, Germany unchanged;
    # France was called 3 times in the last 30 days
    assert d["dry_run"] is True
    assert [(a["prefix"], a["new"]["rate_per_minute"]) for a in d["added"]] == [("34", "0.06")]
    assert [(c["prefix"], c["old"]["rate_per_minute"], c["new"]["rate_per_minute"]) for c in d["changed"]] == [
        ("44", "0.10", "0.12")]
    assert [(x["prefix"], x["old"]["destination"]) for x in d["removed"]] == [("33", "France")]
    assert d["by_category"] == {"outbound": {"added": 1, "changed": 1, "removed": 1}}
    assert d["unrated_recent_calls"] == 3
    assert d["unrated"] == [{"category": "outbound", "prefix": "33", "destination": "France", "calls": 3}]
    assert len(api.call("GET", "/v1/rate-decks").json()["items"]) == 1  # nothing applied
    refused = upload(api, new)
    assert refused.status_code == 409 and refused.json()["code"] == "coverage_loss"
    assert refused.json()["unrated"][0]["prefix"] == "33" and refused.json()["unrated_recent_calls"] == 3
    assert t.agrees(FR) == "0.05"  # still priced: nothing was applied
    forced = upload(api, new, force="true")
    assert forced.status_code == 201, forced.text
    assert quote(api, FR).json()["code"] == "no_rate"
    assert t.agrees(ES) == "0.06"


def test_rollback_restores_old_prices_exactly_and_rerating_follows(api) -> None:
    upload(api, BASE)
    t = Tenant(api)
    before = {n: quote(api, n, seconds=125, tid=t.id).json() for n in (UK, FR, DE)}
    v2 = upload(api, HEADER + "outbound,44,United Kingdom,0.30,0.05,60,1,2026-01-01,\n", mode="update").json()
    assert t.agrees(UK, 125) == "0.68"  # 0.05 + 125 s at 0.30/min = 0.675 -> half up 0.68
    r = api.call("POST", "/v1/rate-decks/1/activate")
    assert r.status_code == 200, r.text
    after = {n: quote(api, n, seconds=125, tid=t.id).json() for n in (UK, FR, DE)}
    assert after == before
    assert t.agrees(UK, 125) == "0.30"  # 0.10/min in whole minutes: 125 s billed as 180 s
    decks = {d["version"]: d for d in api.call("GET", "/v1/rate-decks").json()["items"]}
    assert decks[1]["in_force_for"] == ["USD"] and decks[v2["version"]]["live_for"] == []
    # re-rating the day: the call charged 0.68 under version 2 is priced again at 0.30
    rr = api.call("POST", "/v1/rerate", json={"from": "2026-01-15T00:00:00Z", "to": "2026-01-16T00:00:00Z",
                                              "tenant_id": t.id})
    assert rr.status_code == 200, rr.text
    assert rr.json()["tenants"][0]["credits_difference"] == "-0.38"
    assert api.call("POST", f"/v1/rate-decks/{v2['version']}/activate").status_code == 200
    assert t.agrees(UK, 125) == "0.68"  # rolled forward
    assert api.call("POST", "/v1/rate-decks/99/activate").status_code == 404


def test_an_override_deck_prices_what_it_covers_and_falls_back(api) -> None:
    upload(api, BASE)
    t = Tenant(api)
    missing = upload(api, HEADER + "outbound,44,UK special,0.01,0,60,60,2026-01-01,\n",
                     rating_key="ACME", fallback_rating_key="NOPE")
    assert missing.status_code == 422 and "NOPE" in missing.json()["detail"]
    r = upload(api, HEADER + "outbound,44,UK special,0.01,0,60,60,2026-01-01,\n",
               rating_key="ACME", fallback_rating_key="USD")
    assert r.status_code == 201, r.text
    assert r.json()["fallback_rating_key"] == "USD"
    p = api.call("PATCH", f"/v1/tenants/{t.id}", json={"rating_key": "ACME"})
    assert p.status_code == 200, p.text
    assert (t.agrees(UK), t.agrees(FR), t.agrees(DE)) == ("0.01", "0.05", "0.07")
    # the base deck changes later: the override follows it for what it does not cover
    upload(api, HEADER + "outbound,33,France,0.04,0,60,60,2026-01-15,\n", mode="update")
    assert (t.agrees(UK), t.agrees(FR)) == ("0.01", "0.04")
    rates = api.call("GET", f"/v1/tenants/{t.id}/rates").json()["items"]
    assert [(x["prefix"], x["destination"], x["rate_per_minute"]) for x in rates] == [
        ("33", "France", "0.04"), ("44", "UK special", "0.01"), ("49", "Germany", "0.07")]


def test_bad_uploads_are_422_and_apply_nothing(api) -> None:
    zipped = b"PK\x03\x04" + bytes(range(256))
    r = api.call("POST", "/v1/rate-decks", data={"format": "ratecard", "currency": "USD"},
                 files=[("files", ("deck.zip", zipped, "application/zip"))])
    assert r.status_code == 422 and r.json()["file"] == "deck.zip", r.text
    latin1 = (HEADER + "outbound,33,Fran\u00e7e,0.05,0,60,60,2026-01-01,\n").encode("latin-1")
    r = api.call("POST", "/v1/rate-decks", data={"format": "ratecard", "currency": "USD"},
                 files=[("files", ("latin.csv", latin1, "text/csv"))])
    assert r.status_code == 422 and "UTF-8" in r.json()["detail"]
    for row, reason in (("outbound,44,UK,0.1,0,99999999999999999999,60,2026-01-01,", "initial_increment"),
                        ("outbound,4x4,UK,0.1,0,60,60,2026-01-01,", "prefix"),
                        ("outbound,44,UK,1e1000000,0,60,60,2026-01-01,", "rate_per_minute"),
                        ("outbound,44,UK,0.1,0,0,60,2026-01-01,", "initial_increment"),
                        ("outbound,44,UK,-0.1,0,60,60,2026-01-01,", "negative")):
        r = upload(api, HEADER + row + "\n", name="absurd.csv")
        assert r.status_code == 422 and (r.json()["file"], r.json()["line"]) == ("absurd.csv", 2), r.text
        assert reason in r.json()["detail"]
    bad_mode = api.call("POST", "/v1/rate-decks", data={"format": "ratecard", "mode": "merge"},
                        files=[("files", ("c.csv", BASE.encode(), "text/csv"))])
    assert bad_mode.status_code == 422
    assert api.call("GET", "/v1/rate-decks").json()["items"] == []
