"""Rate decks over HTTP: import both formats (all-or-nothing), list versions, quote."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SHARED

TESTDATA = SHARED / "testdata"


def upload_folder(api, folder: Path, **form: str):  # type: ignore[no-untyped-def]
    files = [("files", (p.name, p.read_bytes(), "text/csv")) for p in sorted(folder.glob("*.csv"))]
    return api.call("POST", "/v1/rate-decks", data={"format": "cgrates", **form}, files=files)


def test_import_cgrates_and_quote_the_worked_examples(api) -> None:
    r = upload_folder(api, TESTDATA / "cgrates-tutorial")
    assert r.status_code == 201, r.text
    assert r.json()["rating_keys"] == ["cgrates.com", "cgrates.org"] and r.json()["format"] == "cgrates"
    for duration, charge in ((120, "0.70"), (130, "0.7167")):
        q = api.call("GET", "/v1/rates/quote", params={
            "rating_key": "cgrates.org", "category": "call", "subject": "1001", "destination": "1002",
            "started_at": "2026-01-05T10:00:00Z", "duration_seconds": duration})
        assert q.status_code == 200, q.text
        body = q.json()
        assert body["charge"] == charge
        assert (body["destination_id"], body["prefix"], body["rate_id"]) == ("DST_1002", "1002", "RT_20CNT")
        assert body["connect_fee"] == "0.40" and body["billed_seconds"] == duration
        assert [s["billed_s"] for s in body["spans"]] == [60, duration - 60]


def test_ratecard_import_and_tenant_quote(api) -> None:
    card = (TESTDATA / "sample-ratecard.csv").read_bytes()
    r = api.call("POST", "/v1/rate-decks", data={"format": "ratecard", "currency": "USD"},
                 files=[("files", ("sample-ratecard.csv", card, "text/csv"))])
    assert r.status_code == 201, r.text
    assert r.json()["rows"] == 23 and r.json()["rating_keys"] == ["USD"]
    tid = api.tenant()
    _, admin = api.user(tid, ["helpdesk_administrator"])
    # UK mobile, 60/1 at 0.12/min: 61 s -> 0.122 -> half_up to 2 decimals = 0.12
    q = api.call("GET", "/v1/rates/quote", admin, params={
        "category": "outbound", "destination": "+447911123456", "duration_seconds": 61,
        "started_at": "2026-03-01T12:00:00Z"})
    assert q.status_code == 200, q.text
    assert (q.json()["charge"], q.json()["prefix"], q.json()["billed_seconds"]) == ("0.12", "447", 61)
    listed = api.call("GET", "/v1/rate-decks").json()["items"]
    assert [d["version"] for d in listed] == [1]
    assert api.call("GET", "/v1/rate-decks", admin).status_code == 403


def test_bad_row_names_file_line_and_reason_and_applies_nothing(api) -> None:
    bad = b"category,prefix,destination,rate_per_minute,connection_fee,initial_increment,next_increment,effective_from\n" \
          b"outbound,44,UK,0.02,0,60,1,2026-01-01\noutbound,49,DE,abc,0,60,1,2026-01-01\n"
    r = api.call("POST", "/v1/rate-decks", data={"format": "ratecard", "currency": "USD"},
                 files=[("files", ("bad.csv", bad, "text/csv"))])
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    assert r.json()["file"] == "bad.csv" and r.json()["line"] == 3
    assert "bad.csv:3" in r.json()["detail"]
    assert api.call("GET", "/v1/rate-decks").json()["items"] == []


def test_quote_errors(api) -> None:
    upload_folder(api, TESTDATA / "cgrates-tutorial")
    q = api.call("GET", "/v1/rates/quote", params={
        "rating_key": "cgrates.org", "category": "call", "subject": "1001", "destination": "+999",
        "duration_seconds": 10})
    assert q.status_code == 422 and q.json()["code"] == "invalid_number"
    q = api.call("GET", "/v1/rates/quote", params={
        "rating_key": "nobody", "category": "call", "destination": "1002", "duration_seconds": 10})
    assert q.status_code == 422 and q.json()["code"] == "no_rate"


def test_cgrates_binary_or_non_utf8_files_are_422_naming_the_file(api) -> None:
    folder = TESTDATA / "cgrates-tutorial"
    for name, content in (("Rates.csv", b"PK\x03\x04\x14\x00\x00\x00"), ("Rates.csv", "RT_1,0,0.1,60s,60s,0s\n\u00e9".encode("latin-1")),
                          ("Destinations.csv", b"DST_1,10\x00\n")):
        files = [("files", (p.name, content if p.name == name else p.read_bytes(), "text/csv"))
                 for p in sorted(folder.glob("*.csv"))]
        r = api.call("POST", "/v1/rate-decks", data={"format": "cgrates"}, files=files)
        assert r.status_code == 422 and r.json()["file"] == name, r.text
    assert api.call("GET", "/v1/rate-decks").json()["items"] == []
