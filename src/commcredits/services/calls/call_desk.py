"""The call desk: group commit for real-time call control.

The switch asks before every call and reports every end; each answer must be durable before
it is given (a hold the switch was told about, a settled charge), and one durable commit
costs an fsync. The desk is one writer thread per process with one queue: requests
(`authorize`, `extend`, `end`) wait in the queue, the writer takes everything that is
waiting (up to `MAX_BATCH`), decides and writes it in ONE transaction, one try of the unit
of work (`db.engine.write_tx`: the writer gate on SQLite, tenant row locks on PostgreSQL;
the desk re-runs a batch itself, on a fresh held connection, where `unit_of_work` would
re-run a use case), and commits it without waiting for the disk. Then one `sync_to_disk`
(an fsync of SQLite's write-ahead log; on PostgreSQL a commit that waits for the WAL flush,
which covers all earlier commits) makes it durable, and only then are its requests
answered. Under load many calls share one fsync (as TigerBeetle batches transfers and
PostgreSQL groups commits); alone, a request waits for nothing but its own commit and fsync.

Who syncs (`Settings.call_desk_sync`): the writer itself, which then answers, or a second
thread, the syncer, which syncs every batch committed so far and answers them while the
writer decides the next batch. Handing a batch over costs more than a fast disk's fsync
(the two threads take turns on Python's interpreter lock): with fsyncs of 0.2-0.5 ms the
writer syncing itself answered 18 % more calls at 10 callers on SQLite and 8 % more on
PostgreSQL; with fsyncs 2 ms slower the syncer answered 30 % more (docs/performance.md).
`auto`, the default, times every sync and lets the writer sync while they take under
`WRITER_SYNCS_BELOW_S` on average, the syncer otherwise. Either way an answer follows a
sync that began after its batch committed.

What a crash can cost: nothing that was answered. An answer is given only after its batch
was committed and synced to disk, so a hold the switch knows of is stored, and a
settlement it was told of is charged. Requests
waiting or in the batch when the process dies get no answer; the switch retries them, and
authorize, extend and end are idempotent on the call id.

Failures are kept apart: a request that is refused (unknown tenant, bad callee) fails
alone during the decision, before the batch writes anything. If the batch's write fails
(a constraint, a bug), the batch is rolled back and each request is run again on its own,
so one bad request cannot take its neighbours down. Busy, serialization and deadlock
failures re-run the batch (`db.engine.retryable`).

Correctness never depends on this process's memory: every decision reads balances, holds
and pools inside the batch's transaction with the tenants' rows locked, so several server
processes on PostgreSQL share one truth. Hooks that follow a committed change of balance
(`balance_changed`: auto-recharge, which may call a card gateway) run on a separate thread,
never on the writer.

Every batch and every sync is counted on `/metrics` (`desk_metrics.py`): the requests per
batch, the writer's time per batch and the time per sync tell an operator how busy the
writer is and whether calls share their commits (docs/operations.md).

While a request is at the desk (from `submit` to its answer) the process's bulk work (a usage
export) pauses between its small steps (`priority.give_way`): a scheduling hint, nothing more.

A server process (`commcredits serve`) runs its desk in a process of its own
(`desk_process.py`): there the writer takes its requests from a socket (`take`) instead of
the queue, and the thread that synced sends each durable group's answers back in one
message (`publish`) instead of setting futures. Everything else here is the same.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from ...db.engine import relaxed_connection, retryable, sync_connection, sync_to_disk, write_tx
from ..runtime import Runtime
from . import desk_metrics
from .desk_metrics import Figures
from .priority import call_control_began, call_control_ended

MAX_BATCH = 128
IDLE_S = 2.0  # the writer and the syncer let their connections go after this long without work
WRITER_SYNCS_BELOW_S = 0.001  # `auto`: the writer syncs while a sync takes less than this on average
log = logging.getLogger("commcredits.call_desk")


@dataclass
class Job:
    """One request waiting for the desk: `kind` and its typed `request`; `bearer` is the
    caller's token, resolved inside the batch. The answer (or the refusal) arrives on
    `future`."""

    kind: str  # authorize | extend | end
    bearer: str | None
    request: Any
    future: Future[Any] = field(default_factory=Future)


# decides and writes a batch inside its transaction: one result per job (an answer, or the
# exception that refuses it), and the tenants whose balance changed
BatchHandler = Callable[[Connection, Sequence[Job]], tuple[list[Any], list[str]]]
# sends a durable group's answers (job, result or refusal), the tenants whose balance changed,
# and the desk's figures for /metrics (desk_metrics.py)
Publisher = Callable[[list[tuple[Job, Any]], list[str], Figures], None]
# the next requests (at most MAX_BATCH), waiting at most the given seconds: [] if none came, None at the end
Taker = Callable[[float], "list[Job] | None"]


@dataclass
class _Done:
    """A committed batch waiting to be made durable and answered."""

    batch: list[Job]
    results: list[Any]
    tenants: list[str]
    took_s: float  # deciding, writing and committing it


class CallDesk:
    """The queue and the writer thread of one process (see the module doc)."""

    def __init__(self, rt: Runtime, handler: BatchHandler, publish: Publisher | None = None,
                 take: Taker | None = None) -> None:
        self.rt, self.handler, self.publish, self.take = rt, handler, publish, take
        self.jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self.committed: queue.SimpleQueue[_Done | None] = queue.SimpleQueue()
        self.hooks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="commcredits-after-commit")
        # the writer's and the syncer's own connections, opened on first use and closed after a
        # database error or IDLE_S without work (the next batch opens a new one): no pool
        # checkout, ping or SET per batch
        self.conn: Connection | None = None
        self.sync_conn: Connection | None = None
        self.writer_sync_conn: Connection | None = None  # the writer's own, when it syncs (PostgreSQL)
        self.sync_mode = rt.settings.call_desk_sync
        self.sync_s = 0.0  # how long a sync took lately (moving average), whichever thread ran it
        self.writer_synced = True  # who synced the last batch (a change is logged)
        self.writer = threading.Thread(target=self._run, name="commcredits-call-desk", daemon=True)
        self.syncer = threading.Thread(target=self._sync, name="commcredits-call-desk-sync", daemon=True)
        self.writer.start()
        self.syncer.start()

    def submit(self, job: Job) -> Future[Any]:
        call_control_began()  # bulk work in the process gives way until it is answered (priority.py)
        job.future.add_done_callback(call_control_ended)
        self.jobs.put(job)
        return job.future

    def close(self) -> None:
        self.jobs.put(None)  # (a desk that takes its requests stops when `take` says so)
        self.writer.join(timeout=10)
        self.committed.put(None)
        self.syncer.join(timeout=10)
        self.hooks.shutdown(wait=True)
        for held in (self.conn, self.sync_conn, self.writer_sync_conn):
            _drop(held)
        self.conn = self.sync_conn = self.writer_sync_conn = None

    def _run(self) -> None:
        if self.take is not None:
            self._run_taking(self.take)
            return
        while True:
            try:
                first = self.jobs.get(timeout=IDLE_S)
            except queue.Empty:
                self._let_go()
                first = self.jobs.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    more = self.jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self.jobs.put(None)  # stop after this batch
                    break
                batch.append(more)
            # a request whose caller stopped waiting (its future cancelled) is dropped here, before
            # any work; the others can no longer be cancelled, so their answers always land
            batch = [job for job in batch if job.future.set_running_or_notify_cancel()]
            if batch:
                self._process(batch)

    def _run_taking(self, take: Taker) -> None:
        """The writer's loop when requests come from `take` (the desk's own process)."""
        while True:
            batch = take(IDLE_S)
            if batch is None:
                return
            if not batch:  # idle
                self._let_go()
                continue
            self._process(batch)

    def _process(self, batch: list[Job]) -> None:
        began = time.perf_counter()
        try:
            results, tenants = self._commit(batch)
        except Exception as exc:
            if len(batch) > 1:  # keep a bad request from failing its neighbours
                log.warning("call desk batch of %d failed (%r); running its requests one by one", len(batch), exc)
                for job in batch:
                    self._process([job])
                return
            results, tenants = [exc], []
        done = _Done(batch, results, tenants, time.perf_counter() - began)
        by_writer = self.sync_mode == "writer" or (self.sync_mode == "auto" and self.sync_s < WRITER_SYNCS_BELOW_S)
        if by_writer != self.writer_synced:
            self.writer_synced = by_writer
            log.info("call desk: a sync takes %.2f ms on average; the %s makes batches durable",
                     self.sync_s * 1000, "writer" if by_writer else "syncer thread")
        if by_writer:
            self._answer([done], *self._make_durable([done], by_writer=True))
        else:
            self.committed.put(done)

    def _let_go(self) -> None:
        """The writer's connections, after IDLE_S without work."""
        _drop(self.conn)
        _drop(self.writer_sync_conn)
        self.conn = self.writer_sync_conn = None

    def _make_durable(self, done: list[_Done], *, by_writer: bool) -> tuple[Exception | None, float | None]:
        """Sync every commit so far, on the calling thread's own connection, if any of `done`
        wrote. Returns None or the failure (durability unknown: the switch retries,
        idempotently), and how long the sync took (None: nothing to sync)."""
        if all(isinstance(r, BaseException) for d in done for r in d.results):
            return None, None
        conn = self.writer_sync_conn if by_writer else self.sync_conn
        try:
            if conn is None:
                conn = sync_connection(self.rt.engine)
                if by_writer:
                    self.writer_sync_conn = conn
                else:
                    self.sync_conn = conn
            began = time.perf_counter()
            sync_to_disk(self.rt.engine, conn)
            took = time.perf_counter() - began
            self.sync_s += 0.2 * (took - self.sync_s)
            return None, took
        except Exception as exc:
            log.exception("could not make call-control commits durable")
            _drop(conn)
            if by_writer:
                self.writer_sync_conn = None
            else:
                self.sync_conn = None
            return exc, None

    def _sync(self) -> None:
        """Make committed batches durable, many per fsync, then answer them (in commit order)."""
        while True:
            try:
                first = self.committed.get(timeout=IDLE_S)
            except queue.Empty:
                _drop(self.sync_conn)
                self.sync_conn = None
                first = self.committed.get()
            if first is None:
                return
            done = [first]
            while True:
                try:
                    more = self.committed.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self.committed.put(None)
                    break
                done.append(more)
            self._answer(done, *self._make_durable(done, by_writer=False))

    def _answer(self, group: list[_Done], failure: Exception | None, sync_s: float | None) -> None:
        """Answer a durable group, in commit order. A failed sync leaves durability unknown:
        every answer of the group becomes that failure."""
        answers = [(job, failure if failure is not None and not isinstance(result, BaseException) else result)
                   for done in group for job, result in zip(done.batch, done.results, strict=True)]
        tenants = [] if failure is not None else list(dict.fromkeys(t for done in group for t in done.tenants))
        figures: Figures = ([(len(done.batch), done.took_s) for done in group], sync_s)
        if self.publish is not None:  # the desk's own process: the group's answers go back in one message
            self.publish(answers, tenants, figures)
            return
        desk_metrics.observe(figures)
        for job, result in answers:
            if isinstance(result, BaseException):
                job.future.set_exception(result)
            else:
                job.future.set_result(result)
        for tenant_id in tenants:
            self.hooks.submit(run_balance_changed, self.rt, tenant_id)

    def _commit(self, batch: list[Job]) -> tuple[list[Any], list[str]]:
        for attempt in range(8):
            try:
                if self.conn is None:
                    self.conn = relaxed_connection(self.rt.engine)
                with write_tx(self.rt.engine, durable=False, on=self.conn) as conn:
                    return self.handler(conn, batch)
            except Exception as exc:
                # a duplicate key, once: another process stored a hold for one of these calls
                # after this batch looked (call_batch skips a second look for new calls)
                duplicate = attempt == 0 and getattr(getattr(exc, "orig", exc), "sqlstate", None) == "23505"
                if not isinstance(exc, DBAPIError) and not duplicate:
                    raise
                _drop(self.conn)  # a fresh connection for the next try: this one may be broken
                self.conn = None
                if not (retryable(exc) or duplicate) or attempt == 7:
                    raise
                time.sleep(0.002 * 2**attempt * (0.5 + random.random()))
        raise AssertionError("unreachable")

def run_balance_changed(rt: Runtime, tenant_id: str) -> None:
    """The after-commit hook of a tenant whose balance a batch changed (auto-recharge, notices),
    on a hooks thread: a failure is logged, never raised into the desk."""
    from ..ledger.balance_events import balance_changed

    try:
        balance_changed(rt, tenant_id)
    except Exception:
        log.exception("balance_changed failed for tenant %s", tenant_id)


def _drop(conn: Connection | None) -> None:
    """Close a held connection for good: its relaxed durability setting must never reach the
    pool's other users, and after a failure it may be broken (closing it may fail too)."""
    if conn is not None:
        try:
            conn.invalidate()
            conn.close()
        except Exception:
            log.warning("could not close a call desk connection", exc_info=True)


_START = threading.Lock()


def desk_of(rt: Runtime, handler: BatchHandler) -> CallDesk:
    """This runtime's desk, started on first use."""
    desk = rt.caches.get("call_desk")
    if desk is None:
        with _START:
            desk = rt.caches.get("call_desk")
            if desk is None:
                desk = rt.caches["call_desk"] = CallDesk(rt, handler)
    return desk
