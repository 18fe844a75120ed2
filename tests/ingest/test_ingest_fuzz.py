"""Fuzzing the CSV and JSON Lines readers: random bytes and mangled records in, every line
accounted for, nothing raised, and no rejected line charged.

Two levels:
- the readers alone (no database, thousands of inputs, a small line bound so over-long lines
  are cheap): the physical lines counted equal the lines of the input, each line is the
  header, blank or exactly one record or reject, with increasing line numbers;
- the whole ingest on a real database (SQLite; PostgreSQL too when configured), fewer inputs:
  valid records mixed with garbage and mangled copies, then `lines == header + blank +
  charged + duplicate + rejected`, every intact record stored, no rejected line's record
  stored, and the audit of the ledger clean.
"""

from __future__ import annotations

import csv
import io
import itertools
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from tests.ingest.support import make_world

from commcredits.db.schema_usage import call_records
from commcredits.errors import ValidationError
from commcredits.services.ledger import audit
from commcredits.services.usage.call_records import CallRecord, Rejected
from commcredits.services.usage.ingest import ingest
from commcredits.services.usage.record_files import Lines, read_records

HEADER = b"id,tenant_id,call_type,caller,callee,started_at,duration_seconds,user_id"
LIMIT = 160  # a small line bound for the reader-level fuzz

_csvish = st.lists(st.one_of(st.text(max_size=12), st.sampled_from(['"', '""', '"a,b"', "\r", "\x00", "\\"])),
                   max_size=10).map(lambda cells: ",".join(cells).encode("utf-8", "surrogatepass"))
_jsonish = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8).map(lambda v: json.dumps(v).encode())
_nested = st.integers(1, 80).map(lambda n: b"[" * n + b"]" * n) | st.integers(1, 5000).map(lambda n: b"{\"a\":" * n)
LINE = st.one_of(st.binary(max_size=LIMIT + 40), _csvish, _jsonish, _nested, st.just(b""), st.just(b" \r"),
                 st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")))


def _physical_lines(data: bytes) -> int:
    return data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)


def _check_reader(data: bytes, fmt: str) -> None:
    lines = Lines(io.BytesIO(data), limit=LIMIT)
    parsed = list(read_records(lines, fmt))
    numbers = [n for n, _ in parsed]
    count = lines.count
    assert numbers == sorted(set(numbers)) and all(1 <= n <= count.lines for n in numbers)
    assert all(isinstance(r, CallRecord | Rejected) for _, r in parsed)
    assert count.lines == _physical_lines(data) and count.bytes == len(data)
    assert count.lines == count.header + count.blank + len(parsed)
    assert count.header == (1 if fmt == "csv" and data else 0)


@settings(max_examples=1500, deadline=None)
@given(st.lists(LINE, max_size=25), st.sampled_from([b"\n", b"\r\n"]), st.booleans())
def test_the_csv_reader_accounts_for_every_line(body: list[bytes], end: bytes, last_newline: bool) -> None:
    data = end.join([HEADER, *body]) + (end if last_newline else b"")
    _check_reader(data, "csv")


@settings(max_examples=1500, deadline=None)
@given(st.lists(LINE, max_size=25), st.sampled_from([b"\n", b"\r\n"]), st.booleans())
def test_the_jsonl_reader_accounts_for_every_line(body: list[bytes], end: bytes, last_newline: bool) -> None:
    data = end.join(body) + (end if last_newline and body else b"")
    _check_reader(data, "jsonl")


@settings(max_examples=300, deadline=None)
@given(LINE)
def test_a_bad_csv_header_is_unusable_input_never_a_crash(header: bytes) -> None:
    """The header decides how every line reads: a bad one refuses the file (exit 1) before
    anything is charged; it never raises anything else."""
    try:
        _check_reader(header + b"\nr1,t\n", "csv")
    except ValidationError as exc:
        assert "CSV header" in str(exc)


# ---- the whole ingest, on a real database ---------------------------------------------

_ids = itertools.count()


def _record(world, kind: int) -> dict[str, object]:
    tid = world.tenants[0]
    return {"id": f"fz-{next(_ids)}", "tenant_id": tid, "call_type": "user_out", "caller": "+12025550100",
            "callee": ("+442079460000", "+12025550123", "+999")[kind % 3], "started_at": "2026-01-14T15:00:00Z",
            "duration_seconds": 30 + kind, "user_id": world.users[tid][0]}


def _line(rec: dict[str, object], fmt: str) -> bytes:
    if fmt == "jsonl":
        return json.dumps(rec).encode()
    out = io.StringIO()
    csv.writer(out).writerow([rec[k] for k in HEADER.decode().split(",")])
    return out.getvalue().rstrip("\r\n").encode()


_MANGLE = st.sampled_from([
    lambda b: b[: len(b) // 2], lambda b: b'"' + b, lambda b: b + b'"', lambda b: b.replace(b",", b";", 1),
    lambda b: b.replace(b"0", b"\xff", 1), lambda b: b.replace(b"3", b"\x00", 1), lambda b: b"[" * 70 + b,
    lambda b: b + b"," + b, lambda b: b * 3,
])
# a line of the generated file: ("intact", kind) | ("mangled", kind, how) | ("garbage", bytes) | ("repeat",)
_ITEM = st.one_of(st.tuples(st.just("intact"), st.integers(0, 8)),
                  st.tuples(st.just("mangled"), st.integers(0, 8), _MANGLE),
                  st.tuples(st.just("garbage"), LINE), st.tuples(st.just("repeat")))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(items=st.lists(_ITEM, min_size=1, max_size=30), fmt=st.sampled_from(["csv", "jsonl"]),
       batch=st.integers(1, 7))
def test_ingest_never_loses_a_line_nor_charges_a_rejected_one(rt, items, fmt: str, batch: int) -> None:
    world = _world(rt)
    lines, intact, others, seen = [HEADER] if fmt == "csv" else [], set(), {}, []
    for item in items:
        if item[0] == "intact" or (item[0] == "repeat" and not seen):
            rec = _record(world, item[1] if item[0] == "intact" else 0)
            intact.add(str(rec["id"]))
            seen.append(rec)
            lines.append(_line(rec, fmt))
        elif item[0] == "repeat":
            lines.append(_line(seen[-1], fmt))
        elif item[0] == "mangled":
            rec = _record(world, item[1])
            others[len(lines) + 1] = str(rec["id"])
            lines.append(item[2](_line(rec, fmt)).replace(b"\n", b" "))
        else:
            lines.append(item[1].replace(b"\n", b" "))  # one physical line, so line numbers stay known
    data = b"\n".join(lines) + b"\n"
    rejects, before = io.StringIO(), _stored(rt, None)
    summary = ingest(rt, io.BytesIO(data), format_=fmt, rejects=rejects, batch_size=batch)
    assert summary.lines == data.count(b"\n")
    assert summary.lines == (summary.header_lines + summary.blank_lines + summary.charged + summary.duplicate
                             + summary.rejected)
    rejected = {int(row["line"]) for row in csv.DictReader(io.StringIO(rejects.getvalue()))}
    assert len(rejected) == summary.rejected
    assert _stored(rt, None) - before == summary.charged  # one stored record per charged line
    stored = _stored(rt, intact | set(others.values()))
    for rec in seen:  # an intact record is stored unless refused for a reason of its own (+999)
        assert (rec["id"] in stored) == (rec["callee"] != "+999"), rec
    for number, rid in others.items():  # a mangled line's record is never stored if the line was rejected
        assert not (number in rejected and rid in stored), (number, rid)
    assert audit.audit(rt)[1] == []


def _stored(rt, ids):
    with rt.engine.connect() as conn:
        if ids is None:
            return len(conn.execute(select(call_records.c.id)).all())
        return set(conn.execute(select(call_records.c.id).where(call_records.c.id.in_(ids))).scalars())


def _world(rt):
    """One world per database for all the examples of a test (the tenants keep their ids)."""
    if "fuzz_world" not in rt.caches:
        rt.caches["fuzz_world"] = make_world(rt.engine)
    return rt.caches["fuzz_world"]
