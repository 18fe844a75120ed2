"""Strict types for call records: JSON carries ids and texts as strings and durations as
integers (not "60", 60.0 or true); CSV cells are text converted explicitly. Each wrong
value is a reject with a stable code, over the API and in files, and the rest is charged."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from tests.conftest import SHARED

from commcredits.services.access.principal import OPERATOR
from commcredits.services.rating import rating
from commcredits.services.usage.call_records import (
    CallRecord,
    Rejected,
    parse_record,
    record_from_text,
)
from commcredits.services.usage.ingest import ingest

GOOD = {"id": "r1", "tenant_id": "t", "call_type": "user_out", "caller": "+12025550100",
        "callee": "+442079460000", "started_at": "2026-01-14T15:00:00Z", "duration_seconds": 61}

# (field, value, code): each was accepted by the loose checks, or could raise
BAD_JSON = [
    ("id", {"a": 1}, "invalid_field"), ("id", ["r1"], "invalid_field"), ("id", 7, "invalid_field"),
    ("id", True, "invalid_field"), ("id", "a\x00b", "invalid_field"), ("id", "a\nb", "invalid_field"),
    ("id", "\ud800", "invalid_field"), ("id", "x" * 101, "invalid_field"), ("id", "  ", "missing_field"),
    ("id", None, "missing_field"),
    ("duration_seconds", "60", "invalid_duration"), ("duration_seconds", 60.0, "invalid_duration"),
    ("duration_seconds", True, "invalid_duration"), ("duration_seconds", {"s": 60}, "invalid_duration"),
    ("duration_seconds", 10**40, "invalid_duration"), ("duration_seconds", -(10**40), "negative_duration"),
    ("duration_seconds", None, "missing_field"),
    ("caller", 12025550100, "invalid_field"), ("callee", 442079460000, "invalid_field"),
    ("callee", "+4" * 17, "invalid_field"), ("caller", "+1" * 17, "invalid_field"),
    ("tenant_id", {"id": "t"}, "invalid_field"), ("call_type", False, "invalid_field"),
    ("user_id", 5, "invalid_field"), ("call_id", ["c"], "invalid_field"),
    ("started_at", 1768921200, "invalid_time"), ("started_at", "0001-01-01T00:00:00+01:00", "invalid_time"),
    ("started_at", "9999-12-31T23:59:59-01:00", "invalid_time"), ("started_at", "2026-01-14T15:00:00" + " " * 60,
                                                                   "invalid_time"),
]


@pytest.mark.parametrize(("field", "value", "code"), BAD_JSON)
def test_json_values_of_the_wrong_type_are_rejected_with_a_code(field: str, value: object, code: str) -> None:
    out = parse_record({**GOOD, field: value})
    assert isinstance(out, Rejected) and out.code == code, out
    assert out.detail and "\x00" not in out.id and len(out.id) <= 100


def test_the_right_types_pass() -> None:
    out = parse_record(GOOD)
    assert out == CallRecord("r1", "t", "user_out", "+12025550100", "+442079460000",
                             datetime(2026, 1, 14, 15, tzinfo=UTC), 61)
    assert parse_record({**GOOD, "id": "  r1  "}) == out  # ids are trimmed as before


@pytest.mark.parametrize(("text", "result"), [
    ("60", 60), (" 60 ", 60), ("0", 0), ("-3", "negative_duration"), ("60.0", "invalid_duration"),
    ("1_000", "invalid_duration"), ("٣", "invalid_duration"), ("6e1", "invalid_duration"), ("+60", "invalid_duration"),
    ("9" * 13, "invalid_duration"), ("", "missing_field"), ("604801", "invalid_duration"),
])
def test_csv_text_is_converted_explicitly(text: str, result: int | str) -> None:
    cells = {k: str(v) for k, v in GOOD.items()} | {"duration_seconds": text}
    out = record_from_text(cells)
    if isinstance(result, int):
        assert isinstance(out, CallRecord) and out.duration_s == result
    else:
        assert isinstance(out, Rejected) and out.code == result and out.id == "r1", out


def test_the_api_rejects_wrong_types_one_by_one_and_charges_the_rest(api, rt) -> None:
    card = (SHARED / "testdata" / "sample-ratecard.csv").read_bytes()
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files={"card.csv": card}))
    tid = api.tenant()
    uid, _ = api.user(tid, [])
    api.fund(tid, "50.00", api.card(tid))
    good = {**GOOD, "tenant_id": tid, "user_id": uid}
    records = [{**good, "id": f"bad-{i}", field: value} for i, (field, value, _) in enumerate(BAD_JSON)
               if field != "id"]
    records += [{**good, "id": value} for field, value, _ in BAD_JSON if field == "id"]
    records.append(good)
    r = api.call("POST", "/v1/cdrs", content=json.dumps({"records": records}),  # "\ud800" escaped
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["charged"], body["rejected"]) == (1, len(records) - 1), body["results"][-1]
    expected = [code for field, _, code in BAD_JSON if field != "id"] + \
        [code for field, _, code in BAD_JSON if field == "id"]
    assert [x["error"]["code"] for x in body["results"][:-1]] == expected
    assert body["results"][-1]["status"] == "charged"


def test_a_jsonl_file_with_wrong_types_rejects_those_lines(rt) -> None:
    lines = [json.dumps({**GOOD, field: value}) for field, value, _ in BAD_JSON if field != "started_at"]
    summary = ingest(rt, io.BytesIO("\n".join(lines).encode()), format_="jsonl", rejects=io.StringIO())
    assert summary.rejected == summary.records == summary.lines == len(lines)
