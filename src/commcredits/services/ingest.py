"""Ingesting call-record files (`commcredits cdrs ingest`): stream, batch, charge, report.

The file is read line by line and never held whole: records go into batches of
`batch_size` (default 20,000), each charged by `charging.charge_parsed` in one database
transaction, so memory is bounded by the batch whatever the file size. Every line ends as
charged, duplicate (its id was charged before: same result, no second charge) or rejected;
rejected lines go to the reject file with their 1-based line number, the record id, a code
and the reason. A malformed line (invalid JSON, a CSV row with the wrong number of
columns, bytes that are not UTF-8) is a reject like any other and never stops the run or
costs the valid records of its batch.

Killed at any point (even SIGKILL), a run leaves whole batches committed or nothing of a
batch; running the same file again charges what is missing and answers the rest as
duplicates, so each record is charged exactly once. The reject file is rewritten by each
run.

Formats: `csv` with a header row naming the record fields (API.md; any order, optional
fields may be left out) and `jsonl`, one JSON object per line; blank lines are skipped.
"""

from __future__ import annotations

import csv
import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from ..errors import ValidationError
from .call_records import CallRecord, Rejected, parse_record
from .charging import charge_parsed
from .runtime import Runtime

FORMATS = ("csv", "jsonl")
FIELDS = ("id", "tenant_id", "call_type", "caller", "callee", "started_at", "duration_seconds",
          "user_id", "organizer_id", "call_id", "conference_id")
REJECT_COLUMNS = ("line", "id", "code", "reason")
DEFAULT_BATCH = 20_000  # records per transaction: amortizes the per-tenant reads and writes of a batch
MAX_BATCH = 100_000
Parsed = tuple[int, CallRecord | Rejected]  # (1-based line number, the record or why not)


@dataclass
class Summary:
    """What a run did; `bytes_read` and the counts grow batch by batch."""

    records: int = 0
    charged: int = 0
    duplicate: int = 0
    rejected: int = 0
    bytes_read: int = 0
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        rate = self.records / self.seconds if self.seconds else 0.0
        return {"records": self.records, "charged": self.charged, "duplicate": self.duplicate,
                "rejected": self.rejected, "bytes": self.bytes_read, "seconds": round(self.seconds, 3),
                "records_per_second": round(rate)}


class _Counted:
    """The binary lines of a stream, counting the bytes read."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream, self.bytes = stream, 0

    def __iter__(self) -> Iterator[bytes]:
        for line in self.stream:
            self.bytes += len(line)
            yield line


def check_format(format_: str) -> str:
    if format_ not in FORMATS:
        raise ValidationError(f"unknown format {format_!r}: use {' or '.join(FORMATS)}")
    return format_


def read_records(lines: Iterable[bytes], format_: str) -> Iterator[Parsed]:
    """Parse the lines of a file into checked records (or rejects), with line numbers."""
    if check_format(format_) == "jsonl":
        return _jsonl(lines)
    return _csv(lines)


def _malformed(line: int, record_id: str, detail: str) -> Parsed:
    return line, Rejected(record_id, "malformed", detail)


def _jsonl(lines: Iterable[bytes]) -> Iterator[Parsed]:
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
            yield _malformed(number, "", f"not a JSON object: {exc}")
            continue
        if not isinstance(value, dict):
            yield _malformed(number, "", f"not a JSON object but {type(value).__name__}")
            continue
        yield number, parse_record(value)


def _csv(lines: Iterable[bytes]) -> Iterator[Parsed]:
    undecodable: set[int] = set()

    def text() -> Iterator[str]:
        for number, raw in enumerate(lines, 1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                undecodable.add(number)
                yield "\n"  # an empty row stands in for the line; reported below

    reader = csv.reader(text())
    header = next(reader, None)
    if header is None:
        return
    columns = [h.strip().lstrip("\ufeff") for h in header]
    unknown = [c for c in columns if c not in FIELDS]
    if unknown or "id" not in columns or len(set(columns)) != len(columns):
        raise ValidationError(f"the CSV header must name record fields ({', '.join(FIELDS)}) once each, "
                              f"id among them; got {', '.join(columns)}")
    where_id = columns.index("id")
    done = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _malformed(done + 1, "", f"unreadable CSV: {exc}")
            done = reader.line_num
            continue
        first, done = done + 1, reader.line_num
        if first in undecodable:
            yield _malformed(first, "", "the line is not UTF-8 text")
        elif not row:
            continue
        elif len(row) != len(columns):
            rid = row[where_id].strip() if where_id < len(row) else ""
            yield _malformed(first, rid[:100], f"expected {len(columns)} columns, found {len(row)}")
        else:
            yield first, parse_record(dict(zip(columns, row, strict=True)))


def ingest(
    rt: Runtime, stream: IO[bytes], *, format_: str, rejects: IO[str], batch_size: int = DEFAULT_BATCH,
    progress: Callable[[Summary], None] | None = None,
) -> Summary:
    """Charge every record of `stream` batch by batch; write rejects to `rejects` (CSV)."""
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValidationError(f"batch size must be between 1 and {MAX_BATCH}")
    summary, started = Summary(), time.perf_counter()
    counted = _Counted(stream)
    writer = csv.writer(rejects)
    writer.writerow(REJECT_COLUMNS)
    parsed = read_records(counted, format_)
    while batch := list(itertools.islice(parsed, batch_size)):
        outcomes = charge_parsed(rt, [record for _, record in batch])
        for (line, _), outcome in zip(batch, outcomes, strict=True):
            if outcome.status == "charged":
                summary.charged += 1
            elif outcome.status == "duplicate":
                summary.duplicate += 1
            else:
                summary.rejected += 1
                error = outcome.error or {}
                writer.writerow((line, outcome.id, error.get("code", ""), error.get("detail", "")))
        rejects.flush()
        summary.records += len(batch)
        summary.bytes_read, summary.seconds = counted.bytes, time.perf_counter() - started
        if progress is not None:
            progress(summary)
    summary.bytes_read, summary.seconds = counted.bytes, time.perf_counter() - started
    return summary
