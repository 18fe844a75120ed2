"""Exports give way to call control: `priority.give_way` waits while a request is at the call
desk and returns at once otherwise, never longer than its bound; an export made while call
control is busy pauses between its slices and still writes the same file; alone it never
waits; the export's rows come from the index in order (no sort before the first row), in
pages that each continue after the last row of the one before."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from tests.api.test_reports_api import seeded

from commcredits.db import report_stream
from commcredits.db.engine import read_tx
from commcredits.db.raw import Raw
from commcredits.db.usage import RECORD_COLUMNS, insert_record_rows
from commcredits.services.access.principal import OPERATOR
from commcredits.services.calls import priority
from commcredits.services.calls.call_desk import CallDesk, Job
from commcredits.services.usage import usage_export


@pytest.fixture(autouse=True)
def no_calls_in_flight() -> None:
    """Start from an idle desk (a test elsewhere may have closed a desk with a request queued)."""
    with priority._calls_lock:
        priority._calls["in_flight"] = 0
        priority._idle.set()


def _idle() -> None:
    """Call control goes idle (after the last answer's done callback and the grace)."""
    deadline = time.monotonic() + 2
    while priority.call_control_busy() and time.monotonic() < deadline:
        time.sleep(0.001)
    assert not priority.call_control_busy()


def test_give_way_returns_at_once_when_call_control_is_idle() -> None:
    _idle()
    began = time.monotonic()
    assert all(priority.give_way() == 0.0 for _ in range(1_000))
    assert time.monotonic() - began < 0.05


def test_give_way_waits_for_the_last_answer_and_no_longer_than_its_bound() -> None:
    began = time.monotonic()
    priority.call_control_began()
    priority.call_control_began()
    threading.Timer(0.02, priority.call_control_ended).start()
    threading.Timer(0.05, priority.call_control_ended).start()
    waited = priority.give_way(2.0)
    assert time.monotonic() - began >= 0.05 and waited < 1.0  # until the second answer, not the first
    _idle()
    priority.call_control_began()
    try:
        assert 0.03 <= priority.give_way(0.03) < 0.5  # busy throughout: the bound
    finally:
        priority.call_control_ended()
    priority.call_control_ended()  # one too many is harmless: the count stays at zero
    _idle()


def test_a_request_at_the_desk_makes_call_control_busy_until_it_is_answered(rt) -> None:
    _idle()
    release = threading.Event()

    def handler(conn, jobs):  # type: ignore[no-untyped-def]
        release.wait(10)
        return ["answer"] * len(jobs), []

    desk = CallDesk(rt, handler)
    try:
        answer = desk.submit(Job("authorize", None, None))
        assert priority.call_control_busy() and priority.give_way(0.02) >= 0.02
        release.set()
        assert answer.result(10) == "answer"
        _idle()
    finally:
        desk.close()


def _export(rt, tid: str, fmt: str) -> bytes:  # type: ignore[no-untyped-def]
    export = usage_export.open_export(rt, OPERATOR, tid, start=None, end=None, user_id=None, call_type=None)
    stream = usage_export.csv_stream(export) if fmt == "csv" else usage_export.xlsx_stream(export)
    return b"".join(stream)


def _recording(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    real = priority.give_way

    def recorded(max_wait_s: float | None = None) -> float:
        waits.append(real(max_wait_s))
        return waits[-1]

    monkeypatch.setattr(usage_export, "give_way", recorded)
    monkeypatch.setattr(usage_export, "ROWS", 3)  # the four rows in two reads,
    monkeypatch.setattr(usage_export, "SLICE", 2)  # formatted two at a time
    monkeypatch.setattr(priority, "MAX_WAIT_S", 0.01)
    return waits


def test_an_export_alone_never_waits(api, rt, monkeypatch: pytest.MonkeyPatch) -> None:
    tid, _ = seeded(api, rt)
    waits = _recording(monkeypatch)
    _idle()
    csv_file = _export(rt, tid, "csv")
    assert csv_file.count(b"\n") == 5 and len(waits) >= 4 and not any(waits)
    _export(rt, tid, "xlsx")
    assert not any(waits)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_pauses_while_call_control_is_busy_and_still_completes(api, rt, monkeypatch: pytest.MonkeyPatch,
                                                                          fmt: str) -> None:
    tid, _ = seeded(api, rt)
    waits = _recording(monkeypatch)
    _idle()
    alone = _export(rt, tid, fmt)
    waits.clear()
    priority.call_control_began()
    try:
        during = _export(rt, tid, fmt)
    finally:
        priority.call_control_ended()
    assert len(waits) >= 4 and all(w >= 0.01 for w in waits)  # each step waited its bound, then went on
    if fmt == "csv":
        assert during == alone
    else:  # the same sheet (the zip's timestamps may differ)
        assert len(during) == pytest.approx(len(alone), abs=64)


@pytest.mark.parametrize("page", ["first", "next"])
def test_the_export_reads_the_index_in_order_without_a_sort(engine, page: str) -> None:
    with read_tx(engine) as conn:
        raw = Raw.of(conn)
        after = (raw.instant(datetime(2026, 1, 10, tzinfo=UTC)), "x") if page == "next" else None
        sql, params = report_stream.export_query(raw, "t", start=datetime(2026, 1, 1, tzinfo=UTC), end=None,
                                                 user_id=None, call_type=None, after=after, limit=1_024)
        cur = raw.dbapi.cursor()
        if raw.pg:
            cur.execute("SET LOCAL enable_seqscan = off")  # an empty table: ask for the index's plan
            cur.execute("EXPLAIN " + sql, params)
        else:
            cur.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = "\n".join(str(row) for row in cur.fetchall())
        cur.close()
    assert "call_records_tenant_id_started_at_id" in plan
    assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan


def test_pages_continue_after_the_last_row_across_equal_start_times(api, rt) -> None:
    tid = api.tenant()
    at = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
    rows = []
    for i in range(23):  # five start times shared by several calls, ids out of order
        values = {c: None for c in RECORD_COLUMNS} | {
            "id": f"{(i * 7919) % 97:04d}-{i}", "tenant_id": tid, "call_type": "user_out", "caller": "+12025550100",
            "callee": "+12025550123", "destination_country": "US", "number_type": "geographic", "domestic": 1,
            "started_at": at + timedelta(minutes=i % 5), "duration_s": 60, "funding": "credits",
            "capability": "communications_credits", "pool_minutes": 0, "charge": 0, "credits_charge": 0,
            "postpaid_charge": 0, "connect_fee": 0, "currency": "USD", "policy_blocked": False, "created_at": at}
        rows.append(tuple(values[c] for c in RECORD_COLUMNS))
    with rt.engine.begin() as conn:
        insert_record_rows(conn, rows)
    where = {"start": at - timedelta(days=1), "end": at + timedelta(days=1), "user_id": None, "call_type": None}
    with read_tx(rt.engine) as conn:
        whole = [r for chunk in report_stream.export_chunks(conn, tid, **where) for r in chunk]
    paged: list[tuple[object, ...]] = []
    after = None
    while True:
        with read_tx(rt.engine) as conn:
            page = [r for chunk in report_stream.export_chunks(conn, tid, chunk=2, after=after, limit=4, **where)
                    for r in chunk]
        paged += page
        if len(page) < 4:
            break
        after = report_stream.resume_after(page[-1])
    assert len(whole) == 23 and paged == whole
    assert [r[0] for r in whole] == [r[0] for r in sorted(whole, key=lambda r: (r[13], r[0]))]


def test_an_export_in_pages_writes_the_same_file(api, rt, monkeypatch: pytest.MonkeyPatch) -> None:
    tid, _ = seeded(api, rt)
    whole = _export(rt, tid, "csv")
    monkeypatch.setattr(usage_export, "PAGE", 1)  # every row read in a transaction of its own
    monkeypatch.setattr(usage_export, "ROWS", 1)
    assert _export(rt, tid, "csv") == whole
    monkeypatch.setattr(usage_export, "PAGE", 4)  # a full last page, then an empty one
    assert _export(rt, tid, "csv") == whole
