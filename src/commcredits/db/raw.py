"""Driver-level SQL for the hot paths (call control, batch charging, ingest).

SQLAlchemy Core builds, caches and binds a statement in 20-1,000 µs (an IN list of ids
costs most); the driver executes a prepared one in 2-20 µs (measured: docs/performance.md).
The few statements every call or record runs are therefore written once as SQL text here,
inside the same transaction as everything else (`Raw.of(conn)` borrows the connection's
DBAPI connection), with these conventions:

- placeholders are written `?` and become `%s` on PostgreSQL (psycopg prepares a statement
  after a few runs of the same text);
- an id list is `IN (?, ...)` on SQLite and `= ANY(?)` with one array on PostgreSQL, so the
  text does not depend on the list's length there; arrays go as PostgreSQL's array literal
  (`pg_array`), which the server reads as the type the statement needs: the driver's own
  conversion of a Python list ran per element in Python, 12-15 µs more per list of five ids
  (33 lists in a call desk's batch);
- instants are aware UTC datetimes in Python and stored as SQLAlchemy's `UTCDateTime`
  stores them (naive UTC; on SQLite its fixed-width text form), so both layers read and
  compare the same values.

Round trips on PostgreSQL. Each statement sent alone waits for its answer: a round trip to
a server process that, on a busy machine, must first be scheduled (0.1 ms on a quiet
machine, 0.4 ms with both cores busy: docs/performance.md). A writer that batches (the call
desk) therefore sends many statements per round trip with libpq's pipeline mode, straight
through psycopg's libpq handle (`db/pg_wire.py`: psycopg's own cursors cost five times the
client CPU per statement there):

- `deferred_writes()`: `many` (and `copy` of a few rows) is kept and sent with the next
  statement that needs an answer, or with the COMMIT; a rollback drops what is kept. Any
  SQLAlchemy statement on the connection sends them first, and a commit sends them with
  its COMMIT (listeners in `engine.py`), so nothing reads around a kept write.
- `gather()` with `later(...)`: reads sent inside the block go in one round trip, together
  with the kept writes before them; each `later` returns a function that gives its rows once
  the block has ended. Loaders that a batch runs together are written as "send now, read
  later" (`*_later`), with the one-call form kept for everyone else.

On SQLite every statement runs at once (a function call, no round trip), so these change
nothing there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection

from .pg_wire import Answer, Wire, naive_utc

CHUNK = 900  # ids per IN (...) list on SQLite (its parameter limit is 32,766; keep statements small)
COPY_FROM = 8  # rows from which `Raw.copy` uses COPY on PostgreSQL (ten rows: 0.62 vs 0.78 ms)


def pg_array(values: Iterable[Any]) -> str:
    """`values` as a PostgreSQL array literal, `{"a","b",NULL}`, sent as text of no declared
    type so that the server reads it as the array the statement needs (`= ANY(?)`, or
    `?::bigint[]` in an `unnest`). Every element is quoted, with backslashes and quotes
    escaped, so any text survives (commas, braces, spaces, quotes); integers and instants
    are written as PostgreSQL reads them."""
    out = []
    for v in values:
        if v is None:
            out.append("NULL")
        elif isinstance(v, str):
            out.append('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"')
        elif isinstance(v, bool):
            out.append("t" if v else "f")
        elif isinstance(v, int):
            out.append(str(v))
        elif isinstance(v, datetime):  # the columns hold naive UTC (`instant`)
            out.append('"' + naive_utc(v).isoformat(" ") + '"')
        else:
            raise TypeError(f"no array literal for {type(v).__name__}")
    return "{" + ",".join(out) + "}"


@lru_cache(maxsize=512)
def _pg(text: str) -> str:
    return text.replace("?", "%s")


def _rows(answer: Answer) -> list[tuple[Any, ...]]:
    if answer.error is not None:
        raise answer.error
    assert answer.rows is not None
    return answer.rows


class Raw:
    """The DBAPI side of a SQLAlchemy connection, for statements written as SQL text."""

    __slots__ = ("column_types", "dbapi", "deferring", "pending", "pg", "piping", "wire")

    def __init__(self, conn: Connection) -> None:
        self.dbapi: Any = conn.connection.driver_connection
        self.pg = conn.dialect.name != "sqlite"
        self.wire = Wire(cast(Any, self.dbapi)) if self.pg else None  # libpq's pipeline, straight (db/pg_wire.py)
        self.deferring = False  # inside deferred_writes() (PostgreSQL only)
        self.pending: list[tuple[str, Sequence[Sequence[Any]]]] = []  # kept writes, in order
        self.piping = False  # inside gather() (PostgreSQL only)
        self.column_types: dict[str, dict[str, int]] = {}  # table -> column -> type oid (binary COPY)

    @classmethod
    def of(cls, conn: Connection) -> Raw:
        """The `Raw` of a connection, made once per DBAPI connection (kept in its `info`, which
        lives exactly as long as that DBAPI connection)."""
        info = conn.info
        raw: Raw | None = info.get("commcredits_raw")
        if raw is None:
            raw = info["commcredits_raw"] = cls(conn)
        return raw

    def sql(self, text: str) -> str:
        return _pg(text) if self.pg else text

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.wire is not None:  # with the kept writes (or what `gather` has queued), one round trip
            return _rows(self._at_once(text, params))
        cur = self.dbapi.cursor()
        try:
            cur.execute(self.sql(text), params)
            return list(cur.fetchall())
        finally:
            cur.close()

    def run(self, text: str, params: Sequence[Any] = ()) -> int:
        """Execute one statement; return the number of rows it changed."""
        if self.piping:
            raise RuntimeError("run() needs its answer at once: not inside gather()")
        if self.wire is not None:
            answer = self._at_once(text, params)
            _rows(answer)  # raises its failure
            return answer.rowcount
        cur = self.dbapi.cursor()
        try:
            cur.execute(self.sql(text), params)
            return int(cur.rowcount)
        finally:
            cur.close()

    def many(self, text: str, params: Sequence[Sequence[Any]]) -> None:
        if not params:
            return
        if self.deferring and not self.piping:
            self.pending.append((text, params))
            return
        if self.wire is not None:
            self._queue_pending()
            for row in params:
                self.wire.send(text, row)
            if not self.piping:
                self.wire.exchange()
            return
        cur = self.dbapi.cursor()
        try:
            cur.executemany(self.sql(text), params)
        finally:
            cur.close()

    def copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert many rows: a binary `COPY ... FROM STDIN` on PostgreSQL (several times faster
        than an executemany of INSERTs there for a batch, measured in docs/ingest.md),
        executemany on SQLite and for the few rows of a call desk's batch (a one-row COPY was
        about 50 µs slower than its INSERT). Same constraints, same errors (a duplicate key
        fails the statement either way).

        The binary format is told each column's type as the table declares it (read from the
        catalog once per connection), so values go as the columns' own types: client CPU per
        27-column call record went from 7-10 µs in text to 1-2 µs (docs/performance.md). A
        value of the wrong Python type fails the COPY with a DataError, as in text."""
        if not self.pg or len(rows) < COPY_FROM:
            self.many(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)
            return
        if self.piping:  # it would overtake what the block has queued
            raise RuntimeError("a COPY goes on its own, not inside gather()")
        self.flush()  # COPY cannot go in a pipeline: the kept writes go first, on their own
        types = self._types(table)
        oids = [types[c] for c in columns]
        cur = self.dbapi.cursor()
        try:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(oids)
                write = copy.write_row
                for row in rows:
                    write(row)
        finally:
            cur.close()

    def _types(self, table: str) -> dict[str, int]:
        """`table`'s columns and their type oids (PostgreSQL), read once per connection."""
        found = self.column_types.get(table)
        if found is None:
            cur = self.dbapi.cursor()
            try:
                cur.execute("SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass "
                            "AND attnum > 0 AND NOT attisdropped", (table,))
                found = self.column_types[table] = {name: int(oid) for name, oid in cur.fetchall()}
            finally:
                cur.close()
        return found

    def later(self, text: str, params: Sequence[Any] = ()) -> Callable[[], list[tuple[Any, ...]]]:
        """Send a read now; the function returned gives its rows (inside `gather()`, once the
        block has ended). Kept writes are sent first, in the same round trip."""
        if self.wire is None or not self.piping:
            found = self.rows(text, params)
            return lambda: found
        wire = self.wire
        answer = wire.send(text, params)

        def fetch() -> list[tuple[Any, ...]]:
            if answer.rows is None and answer.error is None:  # asked for inside the block: send now
                wire.exchange()
            return _rows(answer)
        return fetch

    @contextmanager
    def gather(self) -> Iterator[None]:
        """Send the kept writes and every statement of the block in one round trip (PostgreSQL
        pipeline mode); see the module doc."""
        if self.wire is None or self.piping:
            yield
            return
        self.piping = True
        wire = self.wire
        try:
            self._queue_pending()
            yield
        except BaseException:
            self.piping = False
            wire.drop()  # nothing of the block was sent yet: the block's error goes on, and its rollback
            raise
        self.piping = False
        wire.exchange()

    @contextmanager
    def deferred_writes(self) -> Iterator[None]:
        """Keep `many` writes until a statement needs an answer or the block ends (PostgreSQL);
        on an error they are dropped with the transaction's rollback."""
        if not self.pg or self.deferring:
            yield
            return
        self.deferring = True
        try:
            yield  # what is still kept goes with the commit (engine.py), or any statement before it
        except BaseException:
            self.pending.clear()
            raise
        finally:
            self.deferring = False

    def flush(self, *, commit: bool = False) -> None:
        """Send the kept writes now, in one round trip (`commit`: with the COMMIT).

        The COMMIT is the exchange's last statement, before its one Sync (psycopg's own
        `commit()` inside a pipeline synced twice: a second round trip for nothing). The
        driver reads the transaction's end from the connection's state, so the `commit()`
        that follows sends nothing."""
        if self.pending and not self.piping and self.wire is not None:
            self._queue_pending()
            self.wire.exchange(end=b"COMMIT" if commit else None)

    def drop_pending(self) -> None:
        """Forget the kept writes, and what the wire queued and did not send (after a rollback)."""
        self.pending.clear()
        if self.wire is not None:
            self.wire.drop()

    def _at_once(self, text: str, params: Sequence[Any]) -> Answer:
        """Send a statement now, after the kept writes and what is queued (PostgreSQL)."""
        assert self.wire is not None
        self._queue_pending()
        answer = self.wire.send(text, params)
        self.wire.exchange()
        return answer

    def _queue_pending(self) -> None:
        """Put the kept writes on the wire, ahead of what comes next (PostgreSQL)."""
        pending, self.pending = self.pending, []
        assert self.wire is not None or not pending
        for text, rows in pending:
            for row in rows:
                self.wire.send(text, row)  # type: ignore[union-attr]

    def insert_id(self, text: str, params: Sequence[Any]) -> int:
        """Insert one row and return its generated integer id (`RETURNING id` on both)."""
        return int(self.rows(text + " RETURNING id", params)[0][0])

    def among(self, column: str, ids: Sequence[Any]) -> tuple[str, list[Any]]:
        """A condition `column` in `ids`, with its parameters (at most CHUNK ids on SQLite)."""
        if self.pg:
            return f"{column} = ANY(?)", [pg_array(ids)]
        return f"{column} IN ({', '.join('?' * len(ids))})", list(ids)

    def conditions(self, column: str, ids: Iterable[Any]) -> list[tuple[str, list[Any]]]:
        """`among` for each of `chunks(ids)`."""
        return [self.among(column, chunk) for chunk in self.chunks(ids)]

    def chunks(self, ids: Iterable[Any]) -> list[list[Any]]:
        """`ids` (deduplicated, sorted) in lists that `among` accepts."""
        ordered = sorted(set(ids))
        if self.pg:
            return [ordered] if ordered else []
        return [ordered[i:i + CHUNK] for i in range(0, len(ordered), CHUNK)]

    def instant(self, value: datetime) -> Any:
        """What the database stores for an aware instant."""
        if value.tzinfo is UTC:  # nearly always: skip the conversion (same value, same text)
            return value.replace(tzinfo=None) if self.pg else value.isoformat(" ", "microseconds")[:-6]
        naive = value.astimezone(UTC).replace(tzinfo=None)
        return naive.isoformat(" ", "microseconds") if not self.pg else naive

    def read_instant(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
