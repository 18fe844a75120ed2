"""Queries behind the PSTN usage report and the funding advice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import Connection, Select, and_, func, or_, select

from .schema import users
from .schema_usage import call_records

REPORT_COLUMNS = [
    call_records.c[c]
    for c in (
        "id",
        "call_id",
        "conference_id",
        "user_id",
        "caller",
        "call_type",
        "number_type",
        "domestic",
        "callee",
        "destination_country",
        "started_at",
        "duration_s",
        "connect_fee",
        "charge",
        "currency",
        "capability",
        "funding",
        "category",
        "policy_blocked",
    )
]


_Columns = TypeVarTuple("_Columns")


def report_filter(stmt: Select[*_Columns], tenant_id: str, start: datetime | None, end: datetime | None,
                  user_id: str | None, call_type: str | None) -> Select[*_Columns]:
    """The usage report's filter: the tenant, [start, end) on the call's start, user, call type."""
    c = call_records.c
    stmt = stmt.where(c.tenant_id == tenant_id)
    if start is not None:
        stmt = stmt.where(c.started_at >= start)
    if end is not None:
        stmt = stmt.where(c.started_at < end)
    if user_id:
        stmt = stmt.where(c.user_id == user_id)
    if call_type:
        stmt = stmt.where(c.call_type == call_type)
    return stmt


def usage_rows(
    conn: Connection,
    tenant_id: str,
    *,
    start: datetime | None,
    end: datetime | None,
    user_id: str | None,
    call_type: str | None,
    after: tuple[datetime, str] | None = None,
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Call records of a tenant in (started_at, id) order, with the user's name and location."""
    stmt = (
        select(*REPORT_COLUMNS, users.c.email.label("upn"), users.c.display_name, users.c.usage_location)
        .select_from(call_records.outerjoin(users, users.c.id == call_records.c.user_id))
        .order_by(call_records.c.started_at, call_records.c.id)
    )
    stmt = report_filter(stmt, tenant_id, start, end, user_id, call_type)
    if after is not None:
        stmt = stmt.where(
            or_(
                call_records.c.started_at > after[0],
                and_(call_records.c.started_at == after[0], call_records.c.id > after[1]),
            )
        )
    if limit is not None:
        stmt = stmt.limit(limit)
    for row in conn.execution_options(yield_per=1000).execute(stmt):
        yield dict(row._mapping)


def credits_spent(conn: Connection, tenant_id: str, start: datetime, end: datetime) -> tuple[int, datetime | None]:
    """Credits charged to calls that started in [start, end), and the first such call."""
    total, first = conn.execute(
        select(func.coalesce(func.sum(call_records.c.credits_charge), 0), func.min(call_records.c.started_at)).where(
            call_records.c.tenant_id == tenant_id,
            call_records.c.started_at >= start,
            call_records.c.started_at < end,
            call_records.c.credits_charge > 0,
        )
    ).one()
    return int(total), first


def usage_totals(conn: Connection, tenant_id: str, *, start: datetime | None, end: datetime | None,
                 user_id: str | None, call_type: str | None) -> dict[str, int]:
    """Sums over every row of the report's filter (not one page): Charge, Connection Fee (a
    part of Charge), and what of Charge was paid from credits and goes on the statement."""
    c = call_records.c
    stmt = select(func.count(), func.coalesce(func.sum(c.charge), 0), func.coalesce(func.sum(c.connect_fee), 0),
                  func.coalesce(func.sum(c.credits_charge), 0), func.coalesce(func.sum(c.postpaid_charge), 0))
    stmt = report_filter(stmt, tenant_id, start, end, user_id, call_type)
    calls, charge, fee, credits, postpaid = conn.execute(stmt).one()
    return {"calls": int(calls), "charge": int(charge), "connection_fee": int(fee), "credits": int(credits),
            "postpaid": int(postpaid)}
