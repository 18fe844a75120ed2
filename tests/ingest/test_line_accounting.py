"""Every line of an ingested file ends as header, blank, charged, duplicate or rejected (with
its line number), whatever the line holds: an unbalanced CSV quote, JSON nested too deep, a
10 MB line without a newline, a record whose charging raises. One line never fails the run."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from tests.ingest.support import make_world
from typer.testing import CliRunner

from commcredits.cli import app
from commcredits.config import Settings
from commcredits.db.schema_usage import call_records
from commcredits.services.runtime import Runtime
from commcredits.services.usage import ingest
from commcredits.services.usage.record_files import MAX_LINE_BYTES, Lines, read_records

runner = CliRunner()
HEADER = "id,tenant_id,call_type,caller,callee,started_at,duration_seconds,user_id"


def _good(world, rid: str) -> dict[str, object]:
    tid = world.tenants[0]
    return {"id": rid, "tenant_id": tid, "call_type": "user_out", "caller": "+12025550100",
            "callee": "+442079460000", "started_at": "2026-01-14T15:00:00Z", "duration_seconds": 61,
            "user_id": world.users[tid][0]}


def _csv_line(rec: dict[str, object]) -> str:
    return ",".join(str(rec[k]) for k in HEADER.split(","))


def _ingest(engine, tmp_path: Path, data: bytes, fmt: str, *args: str) -> tuple[dict, list[dict[str, str]]]:
    path = tmp_path / f"calls.{fmt}"
    path.write_bytes(data)
    env = {"COMMCREDITS_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    result = runner.invoke(app, ["cdrs", "ingest", str(path), "--format", fmt, "--no-progress", *args], env=env)
    assert result.exit_code == 0, result.output
    with open(f"{path}.rejects.csv", newline="") as f:
        return json.loads(result.stdout), list(csv.DictReader(f))


def _accounted(summary: dict) -> None:
    assert summary["lines"] == (summary["header_lines"] + summary["blank_lines"] + summary["charged"]
                                + summary["duplicate"] + summary["rejected"])
    assert summary["records"] == summary["charged"] + summary["duplicate"] + summary["rejected"]


def _stored_ids(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(call_records.c.id)).scalars())


def test_an_unbalanced_quote_costs_only_its_own_line(engine, tmp_path) -> None:
    """The probe's case: the three valid records after the bad line vanished, exit 0."""
    world = make_world(engine)
    lines = [HEADER, _csv_line(_good(world, "a")), '"b,' + _csv_line(_good(world, "b")).split(",", 1)[1],
             _csv_line(_good(world, "c")), "", _csv_line(_good(world, "d")), _csv_line(_good(world, "e")),
             f'"f ""quoted"" id",{_csv_line(_good(world, "x")).split(",", 1)[1]}']
    summary, rejects = _ingest(engine, tmp_path, ("\n".join(lines) + "\n").encode(), "csv")
    _accounted(summary)
    assert (summary["lines"], summary["blank_lines"], summary["charged"], summary["rejected"]) == (8, 1, 5, 1)
    assert [(r["line"], r["code"]) for r in rejects] == [("3", "malformed")]
    assert "unbalanced quote" in rejects[0]["reason"]
    assert _stored_ids(engine) == {"a", "c", "d", "e", 'f "quoted" id'}


def test_json_nested_too_deep_and_other_non_records_are_rejects(engine, tmp_path) -> None:
    world = make_world(engine)
    fields = {k: v for k, v in _good(world, "b").items() if k != "duration_seconds"}
    big = json.dumps(fields).encode()[:-1] + b', "duration_seconds": ' + b"9" * 5000 + b"}"  # > 4,300 digits
    lines = [json.dumps(_good(world, "a")).encode(), b"[" * 60_000, b'{"id": ' * 9_000, big,
             b'"just a string"', b"  ", json.dumps(_good(world, "c")).encode()]
    summary, rejects = _ingest(engine, tmp_path, b"\r\n".join(lines) + b"\r\n", "jsonl")
    _accounted(summary)
    assert (summary["charged"], summary["rejected"], summary["blank_lines"]) == (2, 4, 1)
    assert [(r["line"], r["code"]) for r in rejects] == [("2", "malformed"), ("3", "malformed"),
                                                          ("4", "malformed"), ("5", "malformed")]
    assert "nested too deeply" in rejects[0]["reason"] and "nested too deeply" in rejects[1]["reason"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_huge_line_is_rejected_by_the_bound(engine, tmp_path, fmt: str) -> None:
    world = make_world(engine)
    good = [json.dumps(_good(world, r)) if fmt == "jsonl" else _csv_line(_good(world, r)) for r in "abc"]
    head = [HEADER] if fmt == "csv" else []
    huge = "x" * (10 * 1024 * 1024)  # 10 MB; the last one has no newline at all
    data = "\n".join([*head, good[0], huge, good[1], "y" * MAX_LINE_BYTES, good[2], huge]).encode()
    summary, rejects = _ingest(engine, tmp_path, data, fmt)
    _accounted(summary)
    first = len(head) + 1
    assert summary["charged"] == 3 and summary["bytes"] == len(data)
    assert [int(r["line"]) for r in rejects] == [first + 1, first + 3, first + 5]
    assert all(f"longer than {MAX_LINE_BYTES:,} bytes" in r["reason"] for r in rejects)


def test_reading_a_huge_line_holds_only_the_bound_in_memory() -> None:
    stream = io.BytesIO(b"x" * (10 * 1024 * 1024) + b"\n" + b"y" * (10 * 1024 * 1024))
    tracemalloc.start()
    try:
        lines = Lines(stream)
        got = [(n, raw) for n, raw in lines]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got == [(1, None), (2, None)] and lines.count.bytes == 20 * 1024 * 1024 + 1
    assert peak < 4 * MAX_LINE_BYTES, peak  # a few chunks, never the 10 MB line


def test_a_record_whose_charging_raises_is_rejected_alone(engine, tmp_path, monkeypatch) -> None:
    """Whatever charging raises for one record (a defect, an absurd rating), the others of
    its batch are charged and that record is rejected with its line number; exit 0."""
    world = make_world(engine)
    real = ingest.charge_parsed

    def fragile(rt, parsed, **kw):  # a charging defect triggered by one record
        if any(getattr(r, "id", "") == "boom" for r in parsed):
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return real(rt, parsed, **kw)

    monkeypatch.setattr(ingest, "charge_parsed", fragile)
    ids = [f"r{i}" for i in range(9)]
    ids[5] = "boom"
    data = "\n".join(json.dumps(_good(world, r)) for r in ids).encode() + b"\n"
    for _ in range(2):  # and again: the others are duplicates, "boom" is rejected again
        summary, rejects = _ingest(engine, tmp_path, data, "jsonl", "--batch-size", "4")
        _accounted(summary)
        assert summary["charged"] + summary["duplicate"] == 8 and summary["rejected"] == 1
        assert [(r["line"], r["id"], r["code"]) for r in rejects] == [("6", "boom", "charge_failed")]
        assert "OverflowError" in rejects[0]["reason"]
        assert _stored_ids(engine) == set(ids) - {"boom"}


def test_a_database_failure_stops_the_run_and_a_rerun_resumes(engine, tmp_path, monkeypatch) -> None:
    """Not a record's fault: the run stops (nothing of that batch stored) instead of
    rejecting every record; running the file again charges what is missing."""
    world = make_world(engine)
    real, calls = ingest.charge_parsed, []

    def failing(rt, parsed, **kw):
        calls.append(len(parsed))
        if len(calls) == 2:
            raise OperationalError("INSERT ...", {}, Exception("disk I/O error"))
        return real(rt, parsed, **kw)

    monkeypatch.setattr(ingest, "charge_parsed", failing)
    data = "\n".join(json.dumps(_good(world, f"r{i}")) for i in range(6)).encode() + b"\n"
    rt = Runtime.from_settings(Settings(database_url=str(engine.url)), engine=engine)
    with pytest.raises(OperationalError):
        ingest.ingest(rt, io.BytesIO(data), format_="jsonl", rejects=io.StringIO(), batch_size=3)
    assert calls == [3, 3] and _stored_ids(engine) == {"r0", "r1", "r2"}
    summary = ingest.ingest(rt, io.BytesIO(data), format_="jsonl", rejects=io.StringIO(), batch_size=3)
    assert (summary.duplicate, summary.charged, summary.rejected) == (3, 3, 0)


def test_the_cli_names_a_database_failure_in_one_line(engine, tmp_path, monkeypatch) -> None:
    world = make_world(engine)

    def failing(rt, parsed, **kw):
        raise OperationalError("INSERT ...", {}, Exception("disk I/O error\nmore detail"))

    monkeypatch.setattr(ingest, "charge_parsed", failing)
    path = tmp_path / "calls.jsonl"
    path.write_text(json.dumps(_good(world, "a")) + "\n")
    env = {"COMMCREDITS_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    result = runner.invoke(app, ["cdrs", "ingest", str(path), "--format", "jsonl", "--no-progress"], env=env)
    assert result.exit_code == 1, result.output
    assert "error (database): disk I/O error; the batches before it are stored" in result.output
    assert "Traceback" not in result.output and "more detail" not in result.output


def test_the_reader_alone_accounts_for_header_and_blank_lines() -> None:
    data = b"id,tenant_id\n\n \r\nr1,t\n\"r2,t\n\xff,t\n"
    lines = Lines(io.BytesIO(data))
    parsed = list(read_records(lines, "csv"))
    assert [n for n, _ in parsed] == [4, 5, 6]
    assert (lines.count.lines, lines.count.header, lines.count.blank) == (6, 1, 2)
