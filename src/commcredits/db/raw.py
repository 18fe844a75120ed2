"""Driver-level SQL for the hot paths (call control, batch charging, ingest).

SQLAlchemy Core builds, caches and binds a statement in 20-1,000 µs (an IN list of ids
costs most); the driver executes a prepared one in 2-20 µs (measured: docs/performance.md).
The few statements every call or record runs are therefore written once as SQL text here,
inside the same transaction as everything else (`Raw.of(conn)` borrows the connection's
DBAPI connection), with these conventions:

- placeholders are written `?` and become `%s` on PostgreSQL (psycopg prepares a statement
  after a few runs of the same text);
- an id list is `IN (?, ...)` on SQLite and `= ANY(?)` with one array on PostgreSQL, so the
  text does not depend on the list's length there;
- instants are aware UTC datetimes in Python and stored as SQLAlchemy's `UTCDateTime`
  stores them (naive UTC; on SQLite its fixed-width text form), so both layers read and
  compare the same values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection

CHUNK = 900  # ids per IN (...) list on SQLite (its parameter limit is 32,766; keep statements small)
COPY_FROM = 8  # rows from which `Raw.copy` uses COPY on PostgreSQL (ten rows: 0.62 vs 0.78 ms)


@lru_cache(maxsize=512)
def _pg(text: str) -> str:
    return text.replace("?", "%s")


class Raw:
    """The DBAPI side of a SQLAlchemy connection, for statements written as SQL text."""

    __slots__ = ("dbapi", "pg")

    def __init__(self, conn: Connection) -> None:
        self.dbapi: Any = conn.connection.driver_connection
        self.pg = conn.dialect.name != "sqlite"

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
        cur = self.dbapi.cursor()
        try:
            cur.execute(self.sql(text), params)
            return list(cur.fetchall())
        finally:
            cur.close()

    def run(self, text: str, params: Sequence[Any] = ()) -> int:
        """Execute one statement; return the number of rows it changed."""
        cur = self.dbapi.cursor()
        try:
            cur.execute(self.sql(text), params)
            return int(cur.rowcount)
        finally:
            cur.close()

    def many(self, text: str, params: Sequence[Sequence[Any]]) -> None:
        if not params:
            return
        cur = self.dbapi.cursor()
        try:
            cur.executemany(self.sql(text), params)
        finally:
            cur.close()

    def copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert many rows: `COPY ... FROM STDIN` on PostgreSQL (several times faster than an
        executemany of INSERTs there for a batch, measured in docs/ingest.md), executemany on
        SQLite and for the few rows of a call desk's batch (a one-row COPY was about 50 µs
        slower than its INSERT). Same constraints, same errors (a duplicate key fails the
        statement either way)."""
        if not self.pg or len(rows) < COPY_FROM:
            self.many(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)
            return
        cur = self.dbapi.cursor()
        try:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                write = copy.write_row
                for row in rows:
                    write(row)
        finally:
            cur.close()

    def insert_id(self, text: str, params: Sequence[Any]) -> int:
        """Insert one row and return its generated integer id (`RETURNING id` on both)."""
        return int(self.rows(text + " RETURNING id", params)[0][0])

    def among(self, column: str, ids: Sequence[Any]) -> tuple[str, list[Any]]:
        """A condition `column` in `ids`, with its parameters (at most CHUNK ids on SQLite)."""
        if self.pg:
            return f"{column} = ANY(?)", [list(ids)]
        return f"{column} IN ({', '.join('?' * len(ids))})", list(ids)

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
