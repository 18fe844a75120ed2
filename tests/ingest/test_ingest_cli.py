"""`commcredits cdrs ingest`: formats, rejects with line numbers, malformed lines, stdin,
reruns, and the exit status (0 with rejects, non-zero only for unusable input)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.ingest.support import make_world, records, write_csv, write_jsonl
from typer.testing import CliRunner

from commcredits.cli import app
from commcredits.db.schema_usage import call_records

runner = CliRunner()


@pytest.fixture
def cli(engine):
    env = {"COMMCREDITS_DATABASE_URL": engine.url.render_as_string(hide_password=False)}

    def run(*args: str, code: int = 0, input: bytes | None = None) -> str:
        result = runner.invoke(app, ["cdrs", "ingest", *args, "--no-progress"], env=env, input=input)
        assert result.exit_code == code, result.output
        return result.output

    return run


def _rejects(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _stored(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(call_records)).scalar_one())


def test_csv_file_is_charged_once_and_rejects_carry_line_numbers(engine, cli, tmp_path) -> None:
    world = make_world(engine)
    recs = records(world, 400, random.Random(3))
    path = tmp_path / "calls.csv"
    write_csv(path, recs)
    summary = json.loads(cli(str(path), "--format", "csv", "--batch-size", "64"))
    assert summary["records"] == summary["charged"] + summary["duplicate"] + summary["rejected"]
    assert summary["lines"] == len(path.read_bytes().splitlines()) == summary["records"] + 1
    assert summary["header_lines"] == 1 and summary["blank_lines"] == 0
    assert summary["charged"] == _stored(engine) > 300
    assert summary["rejects_file"] == f"{path}.rejects.csv"
    rejects = _rejects(Path(summary["rejects_file"]))
    assert len(rejects) == summary["rejected"]
    lines = path.read_text().splitlines()
    for row in rejects:  # the line number points at the rejected line of the input
        line = lines[int(row["line"]) - 1]
        assert row["code"] and row["reason"]
        if row["code"] == "malformed":
            assert line == "only,three,columns" and "expected 11 columns, found 3" in row["reason"]
        else:
            assert line.startswith(row["id"] + ",")
    codes = {r["code"] for r in rejects}
    assert {"malformed", "invalid_number", "negative_duration", "license_required"} <= codes
    again = json.loads(cli(str(path), "--format", "csv"))  # a rerun charges nothing twice
    assert again["charged"] == 0 and again["duplicate"] == summary["charged"] + summary["duplicate"]
    assert _stored(engine) == summary["charged"]


def test_malformed_lines_cost_nothing_valid_in_their_batch(engine, cli, tmp_path) -> None:
    world = make_world(engine)
    good = {"tenant_id": world.tenants[0], "call_type": "user_out", "caller": "+12025550100",
            "callee": "+442079460000", "started_at": "2026-01-14T15:00:00Z", "duration_seconds": 61,
            "user_id": world.users[world.tenants[0]][0]}
    path = tmp_path / "calls.jsonl"
    path.write_bytes(b"\n".join([
        json.dumps({**good, "id": "a"}).encode(), b"{broken", b"[1, 2]", b"", b"\xff\xfe not utf-8",
        json.dumps({**good, "id": "b", "caller": "x\u0000y"}).encode(),
        json.dumps({**good, "id": "c", "started_at": "0001-01-01T00:00:00Z"}).encode(),
        json.dumps({**good, "id": "d"}).encode()]) + b"\n")
    summary = json.loads(cli(str(path), "--format", "jsonl", "--rejects", str(tmp_path / "r.csv")))
    assert (summary["charged"], summary["rejected"]) == (2, 5)
    rejects = {r["line"]: r["code"] for r in _rejects(tmp_path / "r.csv")}
    assert rejects == {"2": "malformed", "3": "malformed", "5": "malformed", "6": "invalid_field",
                       "7": "invalid_time"}


def test_csv_rows_that_are_not_text_or_not_rows_are_rejects(engine, cli, tmp_path) -> None:
    world = make_world(engine)
    tid, uid = world.tenants[0], world.users[world.tenants[0]][0]
    row = f"{tid},user_out,+442079460000,2026-01-14T15:00:00Z,61,{uid}"
    path = tmp_path / "calls.csv"
    path.write_bytes(b"\n".join([
        b"id,tenant_id,call_type,callee,started_at,duration_seconds,user_id",
        f"r1,{row}".encode(), b"r2,\xff\xff,user_out", f"r3,{row},extra".encode(), b"",
        f'"r4\nstill r4",{row}'.encode(), f"r5,{row}".encode()]) + b"\n")
    summary = json.loads(cli(str(path), "--format", "csv"))
    assert (summary["charged"], summary["rejected"]) == (2, 4)  # a quoted field never spans lines
    assert (summary["lines"], summary["header_lines"], summary["blank_lines"]) == (8, 1, 1)
    rejects = _rejects(Path(f"{path}.rejects.csv"))
    assert [(r["line"], r["id"], r["code"]) for r in rejects] == [
        ("3", "", "malformed"), ("4", "r3", "malformed"), ("6", "", "malformed"), ("7", "", "malformed")]
    assert "unbalanced quote" in rejects[2]["reason"] and "unbalanced quote" in rejects[3]["reason"]


def test_standard_input_with_the_default_reject_file(engine, cli, tmp_path, monkeypatch) -> None:
    world = make_world(engine)
    write_jsonl(tmp_path / "in.jsonl", records(world, 120, random.Random(5)))
    monkeypatch.chdir(tmp_path)
    summary = json.loads(cli("-", "--format", "jsonl", input=(tmp_path / "in.jsonl").read_bytes()))
    assert summary["rejects_file"] == "rejects.csv" and (tmp_path / "rejects.csv").exists()
    assert summary["charged"] == _stored(engine) > 0
    assert any(r["code"] == "malformed" for r in _rejects(tmp_path / "rejects.csv"))


@pytest.mark.parametrize(("args", "text", "code"), [
    (["missing.csv", "--format", "csv"], "is not a file", 2),
    (["{file}", "--format", "xml"], "unknown format", 1),
    (["{file}", "--format", "csv", "--batch-size", "0"], "--batch-size", 2),
])
def test_unusable_input_exits_non_zero(engine, cli, tmp_path, args: list[str], text: str, code: int) -> None:
    path = tmp_path / "calls.csv"
    path.write_text("id,tenant_id\n")
    out = cli(*(a.format(file=path) for a in args), code=code)
    assert text in out


def test_a_header_without_record_fields_is_unusable(engine, cli, tmp_path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text("number,when\n1,2\n")
    assert "CSV header must name record fields" in cli(str(path), "--format", "csv", code=1)
