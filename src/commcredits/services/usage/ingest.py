"""Ingesting call-record files (`commcredits cdrs ingest`): stream, batch, charge, report.

The file is read line by line with a bound on each line and never held whole
(`record_files.py`): records go into batches of `batch_size` (default 20,000), each charged
by `charging.charge_parsed` in one database transaction, so memory is bounded by the batch
whatever the file size. Every physical line ends as exactly one of: the CSV header, a blank
line, or a record charged, duplicate (its id was charged before: same result, no second
charge) or rejected; the summary counts each, so that

    lines == header_lines + blank_lines + charged + duplicate + rejected

holds for every run read to the end. Rejected lines go to the reject file with their
1-based line number, the record id, a code and the reason. A malformed line (invalid JSON,
nesting too deep, a CSV row with the wrong number of columns or an unclosed quote, bytes
that are not UTF-8, a line over the length bound) is a reject like any other and never
stops the run or costs the valid records of its batch.

One record can never fail its batch or the run: should charging a batch raise anything but
a database failure, the batch is charged again in halves, down to the one record that
raises, which is rejected (`charge_failed`, logged with its traceback) while the others are
charged as usual. A database failure (connection lost, disk full) stops the run: nothing of
that batch is stored and running the file again resumes.

Killed at any point (even SIGKILL), a run leaves whole batches committed or nothing of a
batch; running the same file again charges what is missing and answers the rest as
duplicates, so each record is charged exactly once. The reject file is rewritten by each
run.

Formats: `csv` with a header row naming the record fields (API.md; any order, optional
fields may be left out), one record per line, and `jsonl`, one JSON object per line.
"""

from __future__ import annotations

import csv
import gc
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy.exc import InterfaceError, OperationalError

from ...errors import ValidationError
from ..runtime import Runtime
from .call_records import shown_id
from .charging import Outcome, charge_parsed
from .record_files import (
    FIELDS,
    FORMATS,
    MAX_LINE_BYTES,
    LineCount,
    Lines,
    Parsed,
    check_format,
    read_records,
)

__all__ = ["DEFAULT_BATCH", "FIELDS", "FORMATS", "MAX_BATCH", "MAX_LINE_BYTES", "Summary", "check_format", "ingest"]

REJECT_COLUMNS = ("line", "id", "code", "reason")
DEFAULT_BATCH = 20_000  # records per transaction: amortizes the per-tenant reads and writes of a batch
MAX_BATCH = 100_000
GC_YOUNG = 100_000  # new container objects between young collections during a run (Python's default: 700)
# failures of the database itself, not of a record: they stop the run (a rerun resumes)
INFRASTRUCTURE = (OperationalError, InterfaceError, MemoryError)
log = logging.getLogger(__name__)


@dataclass
class Summary:
    """What a run did; the counts grow batch by batch. `lines` counts every physical line:
    header_lines + blank_lines + charged + duplicate + rejected (= records) make it up."""

    records: int = 0
    charged: int = 0
    duplicate: int = 0
    rejected: int = 0
    lines: int = 0
    header_lines: int = 0
    blank_lines: int = 0
    bytes_read: int = 0
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        rate = self.records / self.seconds if self.seconds else 0.0
        return {"lines": self.lines, "header_lines": self.header_lines, "blank_lines": self.blank_lines,
                "records": self.records, "charged": self.charged, "duplicate": self.duplicate,
                "rejected": self.rejected, "bytes": self.bytes_read, "seconds": round(self.seconds, 3),
                "records_per_second": round(rate)}

    def read(self, count: LineCount, started: float) -> None:
        self.lines, self.header_lines, self.blank_lines = count.lines, count.header, count.blank
        self.bytes_read, self.seconds = count.bytes, time.perf_counter() - started


def ingest(
    rt: Runtime, stream: IO[bytes], *, format_: str, rejects: IO[str], batch_size: int = DEFAULT_BATCH,
    progress: Callable[[Summary], None] | None = None, workers: int = 1,
) -> Summary:
    """Charge every record of `stream` batch by batch; write rejects to `rejects` (CSV).
    With `workers` above 1 (PostgreSQL), that many processes charge (`ingest_workers.py`)."""
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValidationError(f"batch size must be between 1 and {MAX_BATCH}")
    if workers != 1:
        from .ingest_workers import ingest_with_workers  # spawns processes: loaded only when asked for

        return ingest_with_workers(rt, stream, format_=format_, rejects=rejects, batch_size=batch_size,
                                   workers=workers, progress=progress)
    summary, started = Summary(), time.perf_counter()
    lines = Lines(stream)
    writer = csv.writer(rejects)
    writer.writerow(REJECT_COLUMNS)
    parsed = read_records(lines, format_)
    with fewer_collections():
        while batch := list(itertools.islice(parsed, batch_size)):
            for (line, _), outcome in zip(batch, charge_batch(rt, batch), strict=True):
                if outcome.status == "charged":  # most records: counted here, without a call
                    summary.charged += 1
                else:
                    count_outcome(summary, writer, line, outcome)
            rejects.flush()
            summary.records += len(batch)
            summary.read(lines.count, started)
            if progress is not None:
                progress(summary)
    summary.read(lines.count, started)
    return summary


@contextmanager
def fewer_collections(young: int = GC_YOUNG) -> Iterator[None]:
    """Run with the cyclic garbage collector's first threshold raised to `young` (restored
    after). A batch keeps everything it makes (records, rows, outcomes) until it is charged,
    so the collector's default rhythm (a young collection every 700 new objects, a full one
    whenever the survivors grow by a quarter) traversed the batch again and again and found
    nothing: about 0.5 s of every 50,000 records, a tenth of the run. Outcomes do not
    depend on when cycles are collected; memory barely moves (same peak RSS)."""
    saved = gc.get_threshold()
    gc.set_threshold(max(saved[0], young), *saved[1:])
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def count_outcome(summary: Summary, writer: Any, line: int, outcome: Outcome) -> None:
    if outcome.status == "charged":
        summary.charged += 1
    elif outcome.status == "duplicate":
        summary.duplicate += 1
    else:
        summary.rejected += 1
        error = outcome.error or {}
        writer.writerow((line, shown_id(outcome.id), error.get("code", ""), error.get("detail", "")))


def charge_batch(rt: Runtime, batch: list[Parsed]) -> list[Outcome]:
    """The outcomes of a batch, in order. A batch whose charging raises is charged again in
    halves, so the one record that raises is rejected alone; each try is one transaction
    (all or nothing), and record ids make the retries charge nothing twice."""
    try:
        return charge_parsed(rt, [record for _, record in batch])
    except INFRASTRUCTURE:
        raise
    except Exception as exc:
        if len(batch) > 1:
            half = len(batch) // 2
            return charge_batch(rt, batch[:half]) + charge_batch(rt, batch[half:])
        line, record = batch[0]
        log.exception("call record on line %d could not be charged; rejected", line)
        detail = f"the record could not be charged ({type(exc).__name__}: {str(exc)[:200]})"
        return [Outcome(record.id, "rejected", error={"code": "charge_failed", "detail": detail})]
