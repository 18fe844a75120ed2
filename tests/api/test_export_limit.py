"""At most `MAX_EXPORTS` usage exports stream at once per server process; one more is refused
before its first byte with 429 `too_many_exports` and Retry-After, and every export gives its
place back: when it has been read, and when it is dropped unread."""

from __future__ import annotations

import gc

import pytest
from tests.api.test_reports_api import seeded

from commcredits.services.access.principal import OPERATOR
from commcredits.services.usage import usage_export
from commcredits.services.usage.usage_export import TooManyExports, csv_stream, open_export


def _open(rt, tid: str) -> usage_export.Export:  # type: ignore[no-untyped-def]
    return open_export(rt, OPERATOR, tid, start=None, end=None, user_id=None, call_type=None)


def test_one_export_too_many_waits_and_places_come_back(api, rt, monkeypatch: pytest.MonkeyPatch) -> None:
    tid, _ = seeded(api, rt)
    monkeypatch.setattr(usage_export, "MAX_EXPORTS", 2)
    first, second = _open(rt, tid), _open(rt, tid)
    with pytest.raises(TooManyExports) as refused:
        _open(rt, tid)
    assert refused.value.status == 429 and refused.value.extra["retry_after"] == usage_export.RETRY_AFTER_S
    assert b"".join(csv_stream(first)).count(b"\n") == 5  # read to the end: its place comes back
    third = _open(rt, tid)
    del second  # dropped unread: its place comes back too
    gc.collect()
    fourth = _open(rt, tid)
    with pytest.raises(TooManyExports):
        _open(rt, tid)
    assert third is not fourth


def test_a_refused_export_is_a_429_problem_with_retry_after(api, rt, monkeypatch: pytest.MonkeyPatch) -> None:
    tid, _ = seeded(api, rt)
    monkeypatch.setattr(usage_export, "MAX_EXPORTS", 0)  # every place taken
    for fmt in ("csv", "xlsx"):
        r = api.call("GET", f"/v1/tenants/{tid}/usage", params={"format": fmt})
        assert r.status_code == 429 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "too_many_exports" and r.headers["retry-after"] == str(usage_export.RETRY_AFTER_S)
    assert api.call("GET", f"/v1/tenants/{tid}/usage").status_code == 200  # the JSON report is no export
    monkeypatch.setattr(usage_export, "MAX_EXPORTS", 1)
    assert api.call("GET", f"/v1/tenants/{tid}/usage", params={"format": "csv"}).status_code == 200
    assert api.call("GET", f"/v1/tenants/{tid}/usage", params={"format": "csv"}).status_code == 200


def test_the_document_declares_the_429(api) -> None:
    doc = api.client.get("/openapi.json").json()
    declared = doc["paths"]["/v1/tenants/{tid}/usage"]["get"]["responses"]["429"]
    assert "too_many_exports" in declared["description"] and "application/problem+json" in declared["content"]
