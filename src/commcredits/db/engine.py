"""Engines and the one unit of work every write goes through.

SQLite runs in WAL mode with `synchronous=FULL`; PostgreSQL at READ COMMITTED, where use
cases lock the tenant row (`db.tenants.lock`) for their short transaction.

`write_tx(engine)` is one write transaction, and `unit_of_work(engine)` the primitive every
use case writes through (`write_tx`, re-run as a whole on failures a re-run may cure):

- **One queue.** On SQLite one writer holds the database at a time. Writers of this
  process wait for the engine's writer gate (a lock) BEFORE they take a pooled connection
  and issue `BEGIN IMMEDIATE`, so no thread ever holds the database, or a connection,
  while it waits for another writer; they never queue in SQLite's busy handler, whose
  back-off sleeps starve callers under load. Other processes on the same file (the CLI
  beside a server) still meet at the database lock: `BEGIN IMMEDIATE` that finds it busy
  is retried with back-off before any statement ran. PostgreSQL needs no gate.
- **No nesting.** A write transaction opened while the same thread holds one would wait
  for itself; it raises `NestedWrite` at once instead of deadlocking.
- **After-commit hooks.** `after_commit(conn, fn)` registers work (the auto-recharge
  check of `balance_changed`, waking the outbox) that runs only once the transaction has
  committed, outside it and outside the gate; a rollback drops the hooks.
- **Retries.** Use cases write through `unit_of_work(engine)` (or `run_write(engine, fn)`),
  which runs the block in `write_tx` and re-runs the whole use case on a serialization
  failure, a deadlock (PostgreSQL) or a busy database (SQLite, another process), with a
  short jittered back-off. `write_tx` alone is one try: only the call desk, which retries
  its batches itself on a connection it holds, uses it directly
  (`tests/services/test_unit_of_work.py` keeps it so).
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError

from .raw import Raw

T = TypeVar("T")
# a serialization failure, a deadlock, and a prepared statement the server no longer has (after a
# DEALLOCATE ALL from outside: db/pg_wire.py forgets its statements and the next try prepares them)
_RETRY_SQLSTATES = {"40001", "40P01", "26000"}
_HOOKS = "commcredits_after_commit"
_local = threading.local()
log = logging.getLogger("commcredits.db")


class NestedWrite(RuntimeError):
    """A write transaction was opened inside another one on the same thread."""


def normalise_url(url: str) -> str:
    """Accept `postgresql://` (psycopg 3 is the driver) and plain SQLite paths."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **kwargs)
    # psycopg never prepares statements itself: it clears every prepared statement of the
    # connection after a ROLLBACK or a DROP (DEALLOCATE ALL), and that would take the hot path's
    # own prepared statements with it (db/pg_wire.py prepares them)
    connect = {"prepare_threshold": None, **kwargs.pop("connect_args", {})}
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect, **kwargs)
    event.listen(engine, "before_cursor_execute", _send_kept_writes)
    event.listen(engine, "commit", _commit_kept_writes)
    event.listen(engine, "rollback", _drop_kept_writes)
    return engine


def _send_kept_writes(conn: Connection, *_: Any) -> None:
    """Writes that `Raw.deferred_writes` keeps go to the server before any other statement and
    before the commit, so nothing on the connection reads around them (db/raw.py)."""
    raw = conn.info.get("commcredits_raw")
    if raw is not None and raw.pending:
        raw.flush()


def _commit_kept_writes(conn: Connection) -> None:
    """Send the kept writes with the COMMIT, in one round trip; SQLAlchemy's own commit that
    follows finds the transaction over and sends nothing. A failure (a duplicate key in a
    kept write) is raised as SQLAlchemy raises a failed commit, so callers handle it alike."""
    raw = conn.info.get("commcredits_raw")
    if raw is None or not raw.pending:
        return
    import psycopg  # only PostgreSQL engines have this listener

    try:
        raw.flush(commit=True)
    except psycopg.Error as exc:
        raise DBAPIError.instance("COMMIT", None, exc, psycopg.Error) from exc


def _drop_kept_writes(conn: Connection) -> None:
    try:
        raw = conn.info.get("commcredits_raw")
    except Exception:  # an invalidated connection: nothing is kept for it any more
        return
    if raw is not None:
        raw.drop_pending()


STATEMENT_CACHE = 1024
# the write-ahead log is copied into the database once it holds this many pages (about 40 MB;
# SQLite's default is 1,000): the same hot pages (the tenants, the indexes' upper levels) are
# copied once per checkpoint instead of ten times, and the committing writer (the call desk,
# under load) checkpoints a tenth as often. Measured: docs/performance.md
WAL_CHECKPOINT_PAGES = 10_000


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 80)
    # the driver's prepared-statement cache: the hot paths' IN lists take a text per list
    # length, so a batch's ~25 statements come in hundreds of texts (the default keeps 128)
    connect = {"timeout": 30, "check_same_thread": False, "cached_statements": STATEMENT_CACHE}
    engine = create_engine(url, connect_args=connect, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")  # another process (the CLI) holds the database
        cur.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # on the driver's connection: SQLAlchemy's statement execution (events, context,
        # result) cost more than the BEGIN itself, once per transaction (the call desk's too)
        mode = "DEFERRED" if conn.get_execution_options().get("readonly") else "IMMEDIATE"
        try:
            conn.connection.driver_connection.execute(f"BEGIN {mode}")  # type: ignore[union-attr]
        except sqlite3.Error as exc:  # as SQLAlchemy would raise it: callers retry a busy database
            raise DBAPIError.instance(f"BEGIN {mode}", (), exc, sqlite3.Error) from exc

    return engine


def is_sqlite(conn_or_engine: Connection | Engine) -> bool:
    return conn_or_engine.dialect.name == "sqlite"


_GATES: dict[str, threading.Lock] = {}
_GATES_LOCK = threading.Lock()


def writer_gate(engine: Engine) -> Any:
    """The lock every writer of this process queues on (SQLite: one per database file, shared
    by every engine on it), or a no-op (PostgreSQL)."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    key = str(engine.url)
    gate = _GATES.get(key)
    if gate is None:
        with _GATES_LOCK:
            gate = _GATES.setdefault(key, threading.Lock())
    return gate


def after_commit(conn: Connection, hook: Callable[[], Any]) -> None:
    """Run `hook()` once the write transaction of `conn` has committed (never on rollback)."""
    hooks = conn.info.get(_HOOKS)
    if hooks is None:
        raise RuntimeError("after_commit needs a connection opened by write_tx")
    hooks.append(hook)


@contextmanager
def write_tx(engine: Engine, *, durable: bool = True, on: Connection | None = None) -> Iterator[Connection]:
    """The write transaction (see the module doc): one queue, no nesting, hooks after commit.

    `durable=False` commits without waiting for the disk (SQLite `synchronous=NORMAL`,
    PostgreSQL `synchronous_commit=off`): for a group-commit writer that answers nobody
    before `sync_to_disk` has made the commit durable. Such a writer may run its
    transactions `on` a connection it holds (`relaxed_connection`): no pool checkout, no
    liveness ping and no setting changed per transaction."""
    if getattr(_local, "writing", False):
        raise NestedWrite("a write transaction is already open on this thread")
    if on is not None and durable:
        raise ValueError("a held connection commits without waiting for the disk: pass durable=False")
    hooks: list[Callable[[], Any]] = []
    _local.writing = True
    try:
        with writer_gate(engine), (_begin(engine, durable) if on is None else _begin_on(on)) as conn:
            conn.info[_HOOKS] = hooks
            try:
                yield conn
            finally:
                conn.info.pop(_HOOKS, None)
    finally:
        _local.writing = False
    for hook in hooks:
        try:
            hook()
        except Exception:  # a hook's failure must not turn a committed write into an error
            log.exception("after-commit hook failed")


@contextmanager
def _begin(engine: Engine, durable: bool = True) -> Iterator[Connection]:
    """`engine.begin()`, retrying a busy database at BEGIN (nothing has run yet)."""
    sqlite = engine.dialect.name == "sqlite"
    for attempt in range(3):
        conn = engine.connect()
        if sqlite and not durable:
            _sqlite_pragma(conn, "PRAGMA synchronous=NORMAL")
        try:
            conn.begin()
        except OperationalError as exc:
            _restore(conn, sqlite and not durable)
            conn.close()
            if not _busy(exc) or attempt == 2:
                raise
            time.sleep(0.05 * (0.5 + random.random()))
            continue
        with conn:
            try:
                if not sqlite and not durable:
                    conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                yield conn
            except BaseException:
                conn.rollback()
                raise
            else:
                conn.commit()
            finally:
                _restore(conn, sqlite and not durable)
        return


# PostgreSQL settings of a connection that runs only key lookups (`relaxed_connection`)
KEY_LOOKUP_PLANS = ("SET plan_cache_mode TO force_generic_plan", "SET enable_seqscan TO off")


def relaxed_connection(engine: Engine) -> Connection:
    """A connection for one thread's `write_tx(durable=False, on=...)` transactions, set once to
    commit without waiting for the disk (the holder makes its commits durable with
    `sync_to_disk` before it tells anyone). When done, or after a database error, invalidate
    and close it: it must not go back to the pool with that setting.

    On PostgreSQL its plans are also fixed for key lookups (`KEY_LOOKUP_PLANS`). The holder
    runs the same few statements thousands of times a second, each finding rows by their key
    or an index; the driver prepares them and the server keeps one plan per statement. A plan
    made while a table was small (a new installation, a fresh day's partition of work) is a
    sequential scan, and it was kept as the table grew: every batch then read every
    reservation and call record (measured: the server's CPU per batch of 2 settlements and 2
    authorizations went from 1.4 ms at the 100th batch to 2.0 ms at the 1,000th, and on).
    With sequential scans ruled out where an index exists, the kept plan is an index lookup
    whatever the table's size when it was made; with one generic plan per statement,
    nothing is planned again per execution."""
    conn = engine.connect()
    try:
        if engine.dialect.name == "sqlite":
            _sqlite_pragma(conn, "PRAGMA synchronous=NORMAL")
        else:
            conn.exec_driver_sql("SET synchronous_commit TO OFF")
            for setting in KEY_LOOKUP_PLANS:
                conn.exec_driver_sql(setting)
            conn.commit()
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def _begin_on(conn: Connection) -> Iterator[Connection]:
    """A transaction on a held connection, retrying a busy database at BEGIN (as `_begin`)."""
    for attempt in range(3):
        try:
            conn.begin()
        except OperationalError as exc:
            if conn.in_transaction():
                conn.rollback()
            if not _busy(exc) or attempt == 2:
                raise
            time.sleep(0.05 * (0.5 + random.random()))
            continue
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
        return


def _restore(conn: Connection, relaxed: bool) -> None:
    """Put a pooled SQLite connection back to `synchronous=FULL` after a relaxed transaction."""
    if not relaxed or conn.closed:
        return
    if conn.in_transaction():
        conn.rollback()
    _sqlite_pragma(conn, "PRAGMA synchronous=FULL")


def _sqlite_pragma(conn: Connection, statement: str) -> None:
    """Run a PRAGMA on the driver's connection, outside SQLAlchemy's transaction bookkeeping."""
    driver = conn.connection.driver_connection
    if driver is None:  # only a connection that was invalidated and closed has none
        raise RuntimeError("the database connection is closed")
    driver.execute(statement)


def sync_to_disk(engine: Engine, on: Connection | None = None) -> None:
    """Make every transaction committed so far durable (after `write_tx(durable=False)`):
    on SQLite an fdatasync of the write-ahead log (its data and its size, as SQLite syncs it
    itself; not its times); on PostgreSQL a commit that waits for the WAL
    to be flushed, which covers every earlier commit (the WAL is flushed in order): one
    round trip `on` a connection held for it (`sync_connection`)."""
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        if not path or path == ":memory:":
            return
        fd = os.open(f"{path}-wal", os.O_RDONLY)
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)
        return
    if on is not None:  # autocommit: the statement is its own transaction, with a commit record
        Raw.of(on).rows("SELECT txid_current()")  # the driver's own path: 45 µs less CPU than SQLAlchemy's
        return
    with engine.connect() as conn, conn.begin():
        conn.exec_driver_sql("SELECT txid_current()")  # a commit record, flushed before COMMIT returns


def sync_connection(engine: Engine) -> Connection | None:
    """A connection for one thread's `sync_to_disk(engine, on=...)` (PostgreSQL, in autocommit
    mode, waiting for the WAL flush at each commit); None on SQLite, which needs none."""
    if engine.dialect.name == "sqlite":
        return None
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    conn.exec_driver_sql("SET synchronous_commit TO ON")
    return conn


def _busy(exc: DBAPIError) -> bool:
    return "database is locked" in str(exc.orig) or "database is busy" in str(exc.orig)


def retryable(exc: BaseException) -> bool:
    """A failure that re-running the whole transaction may cure."""
    if not isinstance(exc, DBAPIError):
        return False
    return getattr(exc.orig, "sqlstate", None) in _RETRY_SQLSTATES or _busy(exc)


@contextmanager
def read_tx(engine: Engine) -> Iterator[Connection]:
    with engine.connect().execution_options(readonly=True) as conn, conn.begin():
        yield conn


class WriteAttempt:
    """One try of a unit of work (`unit_of_work`): `with attempt as conn:` runs the block in
    `write_tx`. A failure that re-running may cure (`retryable`), raised by the block or by
    the commit, is kept instead of raised while tries remain: the transaction was rolled
    back, its after-commit hooks dropped, and the loop runs the block again."""

    def __init__(self, engine: Engine, last: bool, durable: bool) -> None:
        self.engine, self.last, self.durable = engine, last, durable
        self.entered = self.done = False
        self.failure: BaseException | None = None
        self._tx: Any = None

    def __enter__(self) -> Connection:
        if self.entered:
            raise RuntimeError("an attempt of a unit of work runs once: loop over unit_of_work()")
        self.entered = True
        self._tx = write_tx(self.engine, durable=self.durable)
        conn: Connection = self._tx.__enter__()
        return conn

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        failure = exc
        try:
            self._tx.__exit__(typ, exc, tb)  # commits, or rolls back and hands `exc` back
        except BaseException as raised:  # the commit failed (a deadlock or busy database found late)
            if raised is not exc and (self.last or not retryable(raised)):
                raise
            failure = raised
        if failure is None:
            self.done = True
            return False
        if self.last or not retryable(failure):
            return False  # the block's own exception goes on (a failed commit was raised above)
        self.failure = failure
        return True


def unit_of_work(engine: Engine, *, attempts: int = 6, durable: bool = True) -> Iterator[WriteAttempt]:
    """The unit of work every write goes through: `write_tx` (one queue, no nesting, hooks
    after commit), re-run as a whole on a serialization failure, a deadlock (PostgreSQL) or a
    busy database (SQLite, another process), with a short jittered back-off::

        for tx in unit_of_work(rt.engine):
            with tx as conn:
                ...  # the whole use case: it may run again, so no side effect outside `conn`

    What leaves the database (a card gateway, an e-mail) belongs before the loop or in an
    `after_commit` hook, never inside the block. After the last try the failure is raised."""
    for number in range(attempts):
        attempt = WriteAttempt(engine, number == attempts - 1, durable)
        yield attempt
        if attempt.done:
            return
        if not attempt.entered:
            raise RuntimeError("each attempt of a unit of work must be used: `with tx as conn:`")
        log.info("write transaction re-run (try %d of %d): %s", number + 2, attempts, attempt.failure)
        time.sleep(0.005 * 2**number * (0.5 + random.random()))


def run_write(engine: Engine, fn: Callable[..., T], *args: Any, attempts: int = 6, **kwargs: Any) -> T:
    """Run `fn(conn, *args, **kwargs)` as a unit of work (`unit_of_work`): re-run on a
    serialization failure, a deadlock or a busy database, with a short jittered back-off."""
    for tx in unit_of_work(engine, attempts=attempts):
        with tx as conn:
            return fn(conn, *args, **kwargs)
    raise AssertionError("unreachable: the last try returns or raises")
