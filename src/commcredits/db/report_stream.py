"""Driver-level reads behind the usage exports and the report's totals by call type and by
what paid.

An export reads every row of a month; SQLAlchemy's row objects and result processing cost
several times the database's own time there, so the rows come from one SQL text statement on
the DBAPI cursor, fetched in chunks (`fetchmany`). The export reads a page of rows at a time
(`limit`), each page continuing after the last row of the one before (`after`: its
started_at and id, keyset pagination on the index in the export's order), so the caller can
read each page in a short transaction of its own: a month's export never holds one snapshot
for its whole length (which would keep SQLite from resetting its write-ahead log, and
PostgreSQL from pruning the row versions call control leaves, for as long as an export
that gives way to call control takes). A page is small (the process holds at most one),
and SQLite's cursor is lazy. Instants come back as the driver gives them: naive UTC
datetimes on PostgreSQL, the fixed-width text `UTCDateTime` stores on SQLite; `after` takes
them back as they came.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select

from .raw import Raw
from .schema_usage import call_records

# The order the exports read: the report's columns up to "Destination Number", then the
# values it derives the rest from.
EXPORT_COLUMNS = (
    "r.id", "COALESCE(r.call_id, '')", "COALESCE(r.conference_id, '')", "COALESCE(u.usage_location, '')",
    "COALESCE(r.user_id, '')", "COALESCE(u.email, '')", "COALESCE(u.display_name, '')", "r.caller",
    "r.call_type", "r.number_type", "r.domestic", "r.destination_country", "r.callee", "r.started_at",
    "r.duration_s", "r.connect_fee", "r.charge", "r.currency", "r.capability",
    "CASE WHEN r.policy_blocked THEN 'Yes' ELSE '' END",
)
CHUNK = 2_000
_NAMES = itertools.count()


def _where(raw: Raw, tenant_id: str, start: datetime | None, end: datetime | None, user_id: str | None,
           call_type: str | None) -> tuple[str, list[Any]]:
    parts, params = ["r.tenant_id = ?"], [tenant_id]
    for cond, value in (("r.started_at >= ?", start), ("r.started_at < ?", end)):
        if value is not None:
            parts.append(cond)
            params.append(raw.instant(value))
    for cond, value2 in (("r.user_id = ?", user_id), ("r.call_type = ?", call_type)):
        if value2:
            parts.append(cond)
            params.append(value2)
    return " AND ".join(parts), params


def export_query(raw: Raw, tenant_id: str, *, start: datetime | None, end: datetime | None, user_id: str | None,
                 call_type: str | None, after: tuple[Any, str] | None = None,
                 limit: int | None = None) -> tuple[str, list[Any]]:
    """The export's statement, in the driver's parameter style, and its parameters: the rows
    after `after` (started_at, id), at most `limit`. The index on (tenant_id, started_at, id)
    gives them in order, from the first row after `after`: no sort, no rows skipped over."""
    where, params = _where(raw, tenant_id, start if after is None else None, end, user_id, call_type)
    if after is not None:  # the page's lower bound on started_at, stated apart: SQLite seeks the index to it
        where += " AND r.started_at >= ? AND (r.started_at, r.id) > (?, ?)"
        params += [after[0], *after]
    tail = f" LIMIT {int(limit)}" if limit else ""
    return raw.sql(f"SELECT {', '.join(EXPORT_COLUMNS)} FROM call_records r LEFT JOIN users u ON u.id = r.user_id "
                   f"WHERE {where} ORDER BY r.started_at, r.id{tail}"), params


def resume_after(row: tuple[Any, ...]) -> tuple[Any, str]:
    """Where the next page starts: a row's (started_at, id), as `export_chunks` gave them."""
    return row[13], row[0]


def export_chunks(conn: Connection, tenant_id: str, *, start: datetime | None, end: datetime | None,
                  user_id: str | None, call_type: str | None, chunk: int = CHUNK, after: tuple[Any, str] | None = None,
                  limit: int | None = None) -> Iterator[list[tuple[Any, ...]]]:
    """The tenant's call records in (started_at, id) order as tuples in `EXPORT_COLUMNS`
    order, in lists of at most `chunk`: all of them, or the page of at most `limit` after
    `after` (`resume_after` of the last row of the page before). Run it inside a read
    transaction. Without `limit` the PostgreSQL cursor is a server-side one, so the server
    hands the rows over a chunk at a time."""
    raw = Raw.of(conn)
    sql, params = export_query(raw, tenant_id, start=start, end=end, user_id=user_id, call_type=call_type,
                               after=after, limit=limit)
    if raw.pg and not limit:  # a server-side cursor: rows arrive a chunk at a time
        cur = raw.dbapi.cursor(name=f"usage_export_{next(_NAMES)}")
        cur.itersize = chunk
    else:
        cur = raw.dbapi.cursor()
    try:
        cur.execute(sql, params)
        while rows := cur.fetchmany(chunk):
            yield rows
    finally:
        cur.close()


def count(conn: Connection, tenant_id: str, *, start: datetime | None, end: datetime | None,
          user_id: str | None, call_type: str | None) -> int:
    """How many rows `export_chunks` would give."""
    raw = Raw.of(conn)
    where, params = _where(raw, tenant_id, start, end, user_id, call_type)
    return int(raw.rows(f"SELECT COUNT(*) FROM call_records r WHERE {where}", params)[0][0])


def totals_by(conn: Connection, tenant_id: str, *, start: datetime | None, end: datetime | None,
              user_id: str | None, call_type: str | None) -> dict[str, list[dict[str, Any]]]:
    """Calls, seconds, Charge and its credits and post-paid parts per call type and per
    capability (what paid), summed by the database (GROUP BY) over the report's filter."""
    c = call_records.c
    cond = [c.tenant_id == tenant_id]
    if start is not None:
        cond.append(c.started_at >= start)
    if end is not None:
        cond.append(c.started_at < end)
    if user_id:
        cond.append(c.user_id == user_id)
    if call_type:
        cond.append(c.call_type == call_type)
    sums = (func.count(), func.coalesce(func.sum(c.duration_s), 0), func.coalesce(func.sum(c.charge), 0),
            func.coalesce(func.sum(c.credits_charge), 0), func.coalesce(func.sum(c.postpaid_charge), 0))
    out: dict[str, list[dict[str, Any]]] = {}
    for name, column in (("call_type", c.call_type), ("capability", c.capability)):
        stmt = select(column, *sums).where(and_(*cond)).group_by(column).order_by(column)
        out[name] = [{name: key, "calls": int(n), "seconds": int(s), "charge": int(ch), "credits": int(cr),
                      "postpaid": int(pp)} for key, n, s, ch, cr, pp in conn.execute(stmt)]
    return out
