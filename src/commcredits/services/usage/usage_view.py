"""The admin center's view of PSTN usage for one period: a page of calls newest first, the
period's totals, and calls and charges per day (the tenant's days) by what paid for them.

What paid: plan minutes (`pool`), credits (`credits`, and the credit part of `mixed` calls,
which used up a pool and went on in credits), free calls, and post-paid. A mixed call counts
once, under credits. Money is in micros of the tenant's currency; the page shows it
(`views.usage.usage_overview_out`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from ...db import report_stream, usage_pages
from ...db import tenants as tenant_db
from ...db.engine import read_tx
from ...domain.access import VIEW_BILLING
from ...errors import NotFound, ValidationError
from ..access.principal import Principal, require_tenant
from ..runtime import Runtime
from .reports import GroupTotals, UsageRow, _filters, group_totals, usage_row

PAYERS = ("pool", "credits", "free", "postpaid")
_PAYER_OF = {"pool": "pool", "credits": "credits", "mixed": "credits", "free": "free", "postpaid": "postpaid"}


class _Where(TypedDict):
    """The report's filter, as the keyword arguments of the page, totals and chart queries."""
    start: datetime | None
    end: datetime | None
    user_id: str | None
    call_type: str | None


@dataclass(frozen=True, slots=True)
class PeriodTotals:
    """The period's calls, seconds and Charge, and what of it credits paid and what goes on
    the post-paid statement (micros)."""

    calls: int
    seconds: int
    charge: int
    credits: int
    postpaid: int


@dataclass(frozen=True, slots=True)
class DayUsage:
    """One of the tenant's days: calls by what paid (`PAYERS`), and micros charged to credits
    and to the statement."""

    day: date
    calls: dict[str, int]
    credits: int
    postpaid: int


@dataclass(frozen=True, slots=True)
class UsageOverview:
    rows: tuple[UsageRow, ...]
    next_cursor: str | None
    totals: PeriodTotals
    days: tuple[DayUsage, ...]
    currency: str
    totals_by: dict[str, tuple[GroupTotals, ...]]


def _cursor(text: str | None) -> tuple[datetime, str] | None:
    if not text:
        return None
    when, _, rid = text.partition("|")
    try:
        return datetime.fromisoformat(when), rid
    except ValueError:
        raise ValidationError("cursor is not one this page made") from None


def usage_overview(rt: Runtime, who: Principal, tenant_id: str, *, start: datetime, end: datetime,
                   user_id: str | None, call_type: str | None, cursor: str | None, limit: int) -> UsageOverview:
    """Calls in [start, end) newest first (a page), totals and the per-day series."""
    require_tenant(who, tenant_id, VIEW_BILLING)
    _filters(call_type, start, end)
    if end <= start:
        raise ValidationError("the period ends before it starts")
    where: _Where = {"start": start, "end": end, "user_id": user_id, "call_type": call_type}
    with read_tx(rt.engine) as conn:
        tenant = tenant_db.get(conn, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        rows = usage_pages.newest_first(conn, tenant_id, **where, before=_cursor(cursor), limit=limit + 1)
        sums = usage_pages.totals(conn, tenant_id, **where)
        by = report_stream.totals_by(conn, tenant_id, **where)
        days = _days(usage_pages.chart_facts(conn, tenant_id, **where), start, end, ZoneInfo(tenant.timezone))
    last = rows[limit - 1] if len(rows) > limit else None
    return UsageOverview(
        rows=tuple(usage_row(r) for r in rows[:limit]),
        next_cursor=f"{last['started_at'].isoformat()}|{last['id']}" if last else None,
        totals=PeriodTotals(**sums),
        days=days,
        currency=tenant.currency,
        totals_by=group_totals(by),
    )


def _days(facts: Any, start: datetime, end: datetime, zone: ZoneInfo) -> tuple[DayUsage, ...]:
    first, last = start.astimezone(zone).date(), (end - timedelta(microseconds=1)).astimezone(zone).date()
    span = min((last - first).days + 1, 400)
    days = [first + timedelta(days=i) for i in range(span)]
    calls = {d: dict.fromkeys(PAYERS, 0) for d in days}
    credits, postpaid = dict.fromkeys(days, 0), dict.fromkeys(days, 0)
    for started, funding, credit_part, postpaid_part in facts:
        d = started.astimezone(zone).date()
        if d not in calls:
            continue
        calls[d][_PAYER_OF.get(funding, "credits")] += 1
        credits[d] += credit_part
        postpaid[d] += postpaid_part
    return tuple(DayUsage(d, calls[d], credits[d], postpaid[d]) for d in days)
