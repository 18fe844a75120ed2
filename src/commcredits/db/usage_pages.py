"""Queries behind the admin center's usage page: calls newest first, totals for a period,
and the per-call facts the daily chart adds up. (The API's report in `db/reports.py` keeps
its oldest-first order; its cursors stay valid.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from .reports import REPORT_COLUMNS, report_filter
from .schema import users
from .schema_usage import call_records


def newest_first(conn: Connection, tenant_id: str, *, start: datetime | None, end: datetime | None,
                 user_id: str | None, call_type: str | None, before: tuple[datetime, str] | None,
                 limit: int) -> list[dict[str, Any]]:
    """One page of calls in (started_at, id) descending order, before the cursor."""
    stmt = (
        select(*REPORT_COLUMNS, users.c.email.label("upn"), users.c.display_name, users.c.usage_location)
        .select_from(call_records.outerjoin(users, users.c.id == call_records.c.user_id))
        .order_by(call_records.c.started_at.desc(), call_records.c.id.desc())
        .limit(limit)
    )
    stmt = report_filter(stmt, tenant_id, start, end, user_id, call_type)
    if before is not None:
        stmt = stmt.where(or_(call_records.c.started_at < before[0],
                              and_(call_records.c.started_at == before[0], call_records.c.id < before[1])))
    return [dict(row._mapping) for row in conn.execute(stmt)]


def totals(conn: Connection, tenant_id: str, *, start: datetime | None, end: datetime | None,
           user_id: str | None, call_type: str | None) -> dict[str, int]:
    c = call_records.c
    stmt = select(func.count(), func.coalesce(func.sum(c.duration_s), 0), func.coalesce(func.sum(c.charge), 0),
                  func.coalesce(func.sum(c.credits_charge), 0), func.coalesce(func.sum(c.postpaid_charge), 0))
    calls, seconds, charge, credits, postpaid = conn.execute(
        report_filter(stmt, tenant_id, start, end, user_id, call_type)).one()
    return {"calls": int(calls), "seconds": int(seconds), "charge": int(charge), "credits": int(credits),
            "postpaid": int(postpaid)}


def chart_facts(conn: Connection, tenant_id: str, *, start: datetime | None, end: datetime | None,
                user_id: str | None, call_type: str | None) -> Iterator[tuple[datetime, str, int, int]]:
    """(started_at, funding, credits_charge, postpaid_charge) of every matching call, streamed:
    days are the tenant's, so they are counted in Python, not in SQL."""
    c = call_records.c
    stmt = report_filter(select(c.started_at, c.funding, c.credits_charge, c.postpaid_charge), tenant_id, start, end,
                         user_id, call_type)
    for row in conn.execution_options(yield_per=2000).execute(stmt):
        yield row[0], row[1], int(row[2]), int(row[3])
