"""Driver SQL on PostgreSQL straight through libpq's pipeline mode (`db/raw.py` uses it).

psycopg's cursors cost about 55 µs of client CPU per statement in pipeline mode, against
about 10 µs for the same statement sent with libpq's own calls (measured: docs/performance.md,
"A leaner driver path"): after every statement psycopg polls the socket and exchanges what it
can, builds a cursor and its adapters, and looks the statement up for preparing. A call desk
batch sends about 30 statements, so that was over a millisecond of a batch's CPU.

`Wire` queues statements on the connection's libpq handle (psycopg's `pgconn`), sends them
with one Sync and reads every answer in order:

- parameters go as text of no declared type, so the server reads each as the type its place in
  the statement needs (as it reads psycopg's strings and the array literals of `pg_array`);
  instants as naive UTC, as the columns store them;
- answers are turned into Python values by psycopg's own loaders (`Transformer`, in C): the
  same types as its cursors give;
- a statement text seen twice is prepared under a name of its own (`_cc_<n>`, apart from
  psycopg's) and run by that name after; at most `PREPARED` texts are kept;
- when the connection is outside a transaction (and not in autocommit), the exchange starts
  with the connection's BEGIN, as psycopg would send it;
- a failed statement is raised as SQLAlchemy raises a driver's error (`DBAPIError.instance`,
  the psycopg error as its `orig`), so the unit of work re-runs a deadlock or a serialization
  failure whichever layer met it; the statements after it in the same exchange were skipped
  by the server.

Waiting for the server happens in `poll`, which lets other threads run (libpq's own blocking
calls would hold Python's interpreter lock). A failure of the connection itself (the server
gone) closes it, so nothing reuses it half-read.
"""

from __future__ import annotations

import re
import select
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import Transformer
from sqlalchemy.exc import DBAPIError

PREPARED = 512  # statement texts kept prepared per connection
_PLACEHOLDER = re.compile(r"\?")
_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK, pq.ExecStatus.EMPTY_QUERY)


def numbered(text: str) -> bytes:
    """`?` placeholders as libpq's `$1, $2, ...`."""
    count = iter(range(1, 100_000))
    return _PLACEHOLDER.sub(lambda _: f"${next(count)}", text).encode()


def naive_utc(value: datetime) -> datetime:
    """An instant as the columns hold it: naive UTC (a naive value is taken as UTC already)."""
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def as_text(value: Any) -> bytes | None:
    """A parameter in PostgreSQL's text form."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):
        return b"t" if value else b"f"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, datetime):
        return naive_utc(value).isoformat(" ").encode()
    if isinstance(value, (date, Decimal)):
        return str(value).encode()
    raise TypeError(f"no PostgreSQL text form for a parameter of type {type(value).__name__}")


class Answer:
    """What one queued statement gave, once its exchange has been read."""

    __slots__ = ("error", "rowcount", "rows")

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] | None = None
        self.rowcount = -1
        self.error: BaseException | None = None


class Wire:
    """The libpq side of one psycopg connection, for `Raw` (one per DBAPI connection)."""

    __slots__ = ("conn", "encoding", "names", "pg", "poll_in", "poll_out", "prepared", "queue", "seen", "texts", "tx")

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.pg = conn.pgconn
        self.tx = Transformer(conn)
        self.encoding = conn.info.encoding
        self.texts: dict[str, bytes] = {}  # statement text -> numbered
        self.seen: set[str] = set()  # texts run once, prepared on the second run
        self.prepared: OrderedDict[str, bytes] = OrderedDict()  # text -> statement name, oldest first
        # answer, statement text, parameters, and the parameters in text form
        self.queue: list[tuple[Answer, str, Sequence[Any], list[bytes | None]]] = []
        self.names = 0  # statements prepared so far (their names: _cc_1, _cc_2, ...)
        self.poll_in = select.poll()
        self.poll_in.register(self.pg.socket, select.POLLIN)
        self.poll_out = select.poll()
        self.poll_out.register(self.pg.socket, select.POLLIN | select.POLLOUT)

    def send(self, text: str, params: Sequence[Any] = ()) -> Answer:
        """Queue a statement (`?` placeholders); its answer is filled by the next `exchange`.
        A parameter of a type with no text form raises TypeError here, before anything is sent."""
        answer = Answer()
        self.queue.append((answer, text, params, [as_text(v) for v in params]))
        return answer

    def drop(self) -> None:
        """Forget what is queued and not sent (the transaction it belonged to was rolled back)."""
        self.queue.clear()

    def exchange(self, *, end: bytes | None = None) -> None:
        """Send everything queued (then `end`, a COMMIT say) with one Sync, and read every answer.
        Raises the first failure, as SQLAlchemy raises a driver's error."""
        queue, self.queue = self.queue, []
        if not queue and end is None:
            return
        pg = self.pg
        begin = pg.transaction_status == pq.TransactionStatus.IDLE and not self.conn.autocommit
        failure: BaseException | None = None
        try:
            pg.enter_pipeline_mode()
            try:
                if begin:
                    pg.send_query_params(self._start_command(), None)
                before = [self._send(text, values) for _, text, _, values in queue]
                if end is not None:
                    pg.send_query_params(end, None)
                pg.pipeline_sync()
                self._flush()
                if begin:
                    _, failure = self._read(None, "BEGIN", None)
                for (answer, text, params, _), extra in zip(queue, before, strict=True):
                    for kind, name in extra:  # a DEALLOCATE of the oldest kept, a PREPARE of this one
                        ok, found = self._read(None, text, params)
                        if kind == "prepare" and not ok and self.prepared.get(text) == name:
                            del self.prepared[text]  # not prepared after all: prepare it next time
                        failure = failure or found
                    _, found = self._read(answer, text, params)
                    failure = failure or found
                if end is not None:
                    _, found = self._read(None, end.decode(), None)
                    failure = failure or found
                result = self._next()
                if result is None or result.status != pq.ExecStatus.PIPELINE_SYNC:
                    raise psycopg.InternalError("the server's answers ended before the pipeline's Sync")
            finally:
                if pg.pipeline_status != pq.PipelineStatus.OFF:
                    pg.exit_pipeline_mode()
        except psycopg.Error as exc:  # the connection failed, or its answers made no sense: drop it
            self.conn.close()
            raise DBAPIError.instance(queue[0][1] if queue else "", None, exc, psycopg.Error) from exc
        except BaseException:
            self.conn.close()  # interrupted mid-exchange: its answers are unread
            raise
        if failure is not None:
            raise failure

    def _start_command(self) -> bytes:
        """The BEGIN psycopg would send for this connection's settings."""
        conn, parts = self.conn, [b"BEGIN"]
        if conn.isolation_level is not None:
            parts += [b"ISOLATION LEVEL", psycopg.IsolationLevel(conn.isolation_level).name.replace("_", " ").encode()]
        if conn.read_only is not None:
            parts.append(b"READ ONLY" if conn.read_only else b"READ WRITE")
        if conn.deferrable is not None:
            parts.append(b"DEFERRABLE" if conn.deferrable else b"NOT DEFERRABLE")
        return b" ".join(parts)

    def _send(self, text: str, values: list[bytes | None]) -> list[tuple[str, bytes]]:
        """Send one statement; return what was sent before it whose answers come first."""
        pg = self.pg
        name = self.prepared.get(text)
        if name is not None:
            self.prepared.move_to_end(text)
            pg.send_query_prepared(name, values)
            return []
        command = self.texts.get(text)
        if command is None:
            if len(self.texts) >= 4 * PREPARED:
                self.texts.clear()
            command = self.texts[text] = numbered(text)
        if text not in self.seen:  # run once as it is; prepared if it comes again
            if len(self.seen) >= 4 * PREPARED:
                self.seen.clear()
            self.seen.add(text)
            pg.send_query_params(command, values)
            return []
        extra = []
        if len(self.prepared) >= PREPARED:
            _, oldest = self.prepared.popitem(last=False)
            pg.send_query_params(b"DEALLOCATE " + oldest, None)
            extra.append(("deallocate", oldest))
        self.names += 1
        name = b"_cc_%d" % self.names
        pg.send_prepare(name, command)
        pg.send_query_prepared(name, values)
        self.prepared[text] = name  # the rest of this exchange runs it by name too
        extra.append(("prepare", name))
        return extra

    def _flush(self) -> None:
        pg = self.pg
        while pg.flush():  # 1: more to send; read meanwhile so the server is never stuck writing
            if any(ev & select.POLLIN for _, ev in self.poll_out.poll()):
                pg.consume_input()

    def _next(self) -> pq.abc.PGresult | None:
        pg = self.pg
        while pg.is_busy():
            self.poll_in.poll()
            pg.consume_input()
        return pg.get_result()

    def _read(self, answer: Answer | None, text: str, params: Sequence[Any] | None
              ) -> tuple[bool, BaseException | None]:
        """Read one statement's answer (and the end of it): whether it ran, and its failure
        (None when it ran, or when the server skipped it after an earlier failure)."""
        result = self._next()
        if result is None:
            raise psycopg.InternalError(f"no answer from the server for: {text[:80]}")
        failure: BaseException | None = None
        ok = result.status in _OK
        if result.status == pq.ExecStatus.TUPLES_OK and answer is not None:
            self.tx.set_pgresult(result)
            answer.rows = self.tx.load_rows(0, result.ntuples, tuple) if result.ntuples else []
            answer.rowcount = result.ntuples
        elif result.status in _OK:
            if answer is not None:
                answer.rows = []
                count = result.command_tuples
                answer.rowcount = -1 if count is None else count
        elif result.status == pq.ExecStatus.PIPELINE_ABORTED:  # an earlier failure is the one raised
            if answer is not None:
                skipped = psycopg.errors.InFailedSqlTransaction("skipped after an earlier failure in its exchange")
                answer.error = DBAPIError.instance(text, params, skipped, psycopg.Error)
        else:
            error = psycopg.errors.error_from_result(result, encoding=self.encoding)
            if error.sqlstate == "26000":  # our statements were deallocated (DEALLOCATE ALL from outside)
                self.prepared.clear()  # prepared again by the next try (the unit of work re-runs this)
            failure = DBAPIError.instance(text, params, error, psycopg.Error)
            if answer is not None:
                answer.error = failure
        while self._next() is not None:  # the statement's answers end with a null result
            pass
        return ok, failure
