"""Ingesting one file with several worker processes (`commcredits cdrs ingest --workers N`).

Charging a record is Python work (routing, pricing, splitting: about 70 µs a record) that
one process does on one core. On PostgreSQL, whose server takes any number of writers,
`workers` processes charge a file side by side; on SQLite (one writer) they would only
queue for the write lock, so more than one is refused there.

How the file is shared. This process reads and checks the file exactly as a one-process
run does (`record_files.read_records`: every line counted, malformed lines rejected here
with their line numbers) and cuts it into chunks of `batch_size` records per worker. Each chunk's
records go to the workers by tenant: a tenant's records always go to the same worker, in
file order, so each tenant is charged as a one-process run charges it (its credits first
to expire first, its pools in call order). A worker charges each part it receives in one
transaction (`ingest.charge_batch`, with its halving retry), exactly as a one-process run
charges a batch, and answers the outcomes that are not "charged". Tenants never share a
transaction across workers, so workers never wait on each other's row locks. Record ids
stay unique across tenants: a record whose id another worker stores first fails its
batch at the unique key, and the batch's retry finds it stored (`id_conflict`), as a
one-process run would.

What the caller sees is what a one-process run gives: the same summary, the reject file
in line order (chunk by chunk), progress after each chunk. Memory stays bounded: each
worker's queue holds at most `QUEUED` parts, so reading waits for the slowest worker.

Failures. A database failure in any worker stops the run: the workers are stopped and it
is raised here as the `OperationalError` it was, with its message; a worker that dies
(killed) stops the run too. As for a one-process run, what was committed stays committed,
nothing of a failed transaction is stored, and running the same file again charges what is
missing and answers the rest as duplicates. The workers build their own runtime from this
process's settings (database URL, gateway, clock mode).
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import multiprocessing
import queue
import time
import zlib
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import IO, Any

from sqlalchemy.exc import OperationalError

from ...config import Settings
from ...errors import CommCreditsError, ValidationError
from ..runtime import Runtime
from .call_records import CallRecord
from .charging import Outcome, rejected
from .ingest import REJECT_COLUMNS, Summary, charge_batch, count_outcome, fewer_collections
from .record_files import Lines, Parsed, read_records

MAX_WORKERS = 16
QUEUED = 2  # parts waiting per worker: enough to keep it busy, little memory
POLL_S = 0.2  # how often a waiting reader looks at the workers' health
Part = list[Parsed]
Answer = tuple[str, int, int, Any]  # (kind, worker, chunk, payload)


def check_workers(rt: Runtime, workers: int) -> None:
    """Refuse a worker count the database cannot use (ValidationError)."""
    if not 1 <= workers <= MAX_WORKERS:
        raise ValidationError(f"workers must be between 1 and {MAX_WORKERS}")
    if workers > 1 and rt.engine.dialect.name == "sqlite":
        raise ValidationError("more than one worker needs PostgreSQL: SQLite has one writer, so workers would "
                              "only wait for each other")


def worker_of(tenant_id: str, workers: int) -> int:
    """The worker that charges a tenant's records (stable across runs and processes)."""
    return zlib.crc32(tenant_id.encode("utf-8", "surrogatepass")) % workers


def ingest_with_workers(
    rt: Runtime, stream: IO[bytes], *, format_: str, rejects: IO[str], batch_size: int, workers: int,
    progress: Callable[[Summary], None] | None = None,
) -> Summary:
    """`ingest.ingest` with `workers` processes charging; same summary, same reject file."""
    check_workers(rt, workers)
    summary, started = Summary(), time.perf_counter()
    lines = Lines(stream)
    writer = csv.writer(rejects)
    writer.writerow(REJECT_COLUMNS)
    settings = dataclasses.replace(rt.settings, database_url=rt.engine.url.render_as_string(hide_password=False))
    crew = _Crew(settings, workers)
    done = False
    try:
        parsed = read_records(lines, format_)
        chunks = itertools.count()
        waiting: dict[int, _Chunk] = {}  # chunk number -> what is known of it so far
        next_out = 0
        while batch := list(itertools.islice(parsed, batch_size * workers)):  # about batch_size for each
            number = next(chunks)
            chunk = waiting[number] = _Chunk(len(batch), lines.count.lines, lines.count.header,
                                             lines.count.blank, lines.count.bytes)
            parts: list[Part] = [[] for _ in range(workers)]
            for line, record in batch:
                if isinstance(record, CallRecord):
                    parts[worker_of(record.tenant_id, workers)].append((line, record))
                else:  # malformed: rejected here, as charge_parsed rejects it
                    chunk.outcomes.append((line, rejected(record.id, record.code, record.detail)))
            for k, part in enumerate(parts):
                if part:
                    chunk.parts += 1
                    crew.send(k, (number, part), waiting)
            crew.take_ready(waiting)
            next_out = _write_done(waiting, next_out, summary, writer, rejects, started, progress)
        crew.finish(waiting)
        _write_done(waiting, next_out, summary, writer, rejects, started, progress)
        done = True
    finally:
        crew.stop(at_once=not done)
    summary.read(lines.count, started)
    return summary


@dataclasses.dataclass
class _Chunk:
    """One chunk of the file: its size, the reader's counts after it, and its answers."""

    records: int
    lines: int
    header: int
    blank: int
    bytes: int
    parts: int = 0  # parts sent to workers and not yet answered
    charged: int = 0
    outcomes: list[tuple[int, Outcome]] = dataclasses.field(default_factory=list)  # not charged, by line


def _write_done(waiting: dict[int, _Chunk], next_out: int, summary: Summary, writer: Any, rejects: IO[str],
                started: float, progress: Callable[[Summary], None] | None) -> int:
    """Count and write the chunks that are fully answered, in file order; the next to write."""
    while (chunk := waiting.get(next_out)) is not None and chunk.parts == 0:
        del waiting[next_out]
        summary.charged += chunk.charged
        for line, outcome in sorted(chunk.outcomes, key=lambda item: item[0]):
            count_outcome(summary, writer, line, outcome)
        rejects.flush()
        summary.records += chunk.records
        summary.lines, summary.header_lines, summary.blank_lines = chunk.lines, chunk.header, chunk.blank
        summary.bytes_read, summary.seconds = chunk.bytes, time.perf_counter() - started
        if progress is not None:
            progress(summary)
        next_out += 1
    return next_out


class _Crew:
    """The worker processes, their queues, and the answers coming back."""

    def __init__(self, settings: Settings, workers: int) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited connections
        self.answers: Any = context.Queue()
        self.inboxes: list[Any] = [context.Queue(maxsize=QUEUED) for _ in range(workers)]
        self.processes: list[BaseProcess] = [
            context.Process(target=work, args=(settings, k, self.inboxes[k], self.answers),
                            name=f"commcredits-ingest-{k}", daemon=True)
            for k in range(workers)]
        for process in self.processes:
            process.start()

    def send(self, k: int, item: tuple[int, Part], waiting: dict[int, _Chunk]) -> None:
        """Queue a part for worker `k`; while its queue is full, take answers in."""
        while True:
            try:
                self.inboxes[k].put(item, timeout=POLL_S)
                return
            except queue.Full:
                self._take(waiting, block=False)

    def take_ready(self, waiting: dict[int, _Chunk]) -> None:
        """Take in the answers that have come, without waiting."""
        self._take(waiting, block=False)

    def finish(self, waiting: dict[int, _Chunk]) -> None:
        """Tell every worker the file has ended; take answers until every part is answered."""
        for k in range(len(self.processes)):
            self.send(k, None, waiting)  # type: ignore[arg-type]
        while any(chunk.parts for chunk in waiting.values()):
            self._take(waiting, block=True)

    def _take(self, waiting: dict[int, _Chunk], *, block: bool) -> None:
        while True:
            try:
                kind, k, number, payload = self.answers.get(timeout=POLL_S if block else 0.0)
            except queue.Empty:
                self._check_alive()
                if block:
                    continue
                return
            if kind == "failed":
                text, infrastructure = payload
                if infrastructure:
                    raise OperationalError(None, None, Exception(text))
                raise CommCreditsError(f"ingest worker {k} failed: {text}; the batches before it are stored; "
                                       "run the same file again to resume", code="ingest_worker_failed")
            charged, outcomes = payload
            chunk = waiting[number]
            chunk.charged += charged
            chunk.outcomes.extend(outcomes)
            chunk.parts -= 1
            if block:
                return

    def _check_alive(self) -> None:
        for k, process in enumerate(self.processes):
            if process.exitcode not in (None, 0):
                raise CommCreditsError(f"ingest worker {k} stopped (exit code {process.exitcode}); the batches "
                                       "before it are stored; run the same file again to resume",
                                       code="ingest_worker_failed")

    def stop(self, *, at_once: bool) -> None:
        """End the workers: at once if the run failed, else once they have left."""
        for process in self.processes:
            if at_once:
                process.terminate()
            process.join(timeout=10.0)
            if process.is_alive():
                process.terminate()
                process.join()


def work(settings: Settings, k: int, inbox: Any, answers: Any) -> None:
    """A worker process: charge each part received, answer what was not charged."""
    from .ingest import INFRASTRUCTURE

    rt = Runtime.from_settings(settings)
    try:
        with fewer_collections():
            while (item := inbox.get()) is not None:
                number, part = item
                try:
                    outcomes = charge_batch(rt, part)
                except INFRASTRUCTURE as exc:
                    answers.put(("failed", k, number, (_describe(exc), True)))
                    return
                except Exception as exc:  # reported to the reader, which stops the run
                    answers.put(("failed", k, number, (_describe(exc), False)))
                    return
                charged = 0
                others: list[tuple[int, Outcome]] = []
                for (line, _), outcome in zip(part, outcomes, strict=True):
                    if outcome.status == "charged":
                        charged += 1
                    else:
                        others.append((line, outcome))
                answers.put(("done", k, number, (charged, others)))
    finally:
        rt.engine.dispose()


def _describe(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig or exc).strip()
    return text.splitlines()[0][:500] if text else type(exc).__name__
