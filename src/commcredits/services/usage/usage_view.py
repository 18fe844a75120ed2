"""The admin center's view of PSTN usage for one period: a page of calls newest first, the
period's totals, and calls and charges per day (the tenant's days) by what paid for them.

What paid: plan minutes (`pool`), credits (`credits`, and the credit part of `mixed` calls,
which used up a pool and went on in credits), free calls, and post-paid. A mixed call counts
once, under credits.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from ...db import report_stream, usage_pages
from ...db import tenants as tenant_db
from ...db.engine import read_tx
from ...domain.access import VIEW_BILLING
from ...domain.money import format_micros, minor_units
from ...errors import NotFound, ValidationError
from ..access.principal import Principal, require_tenant
from ..runtime import Runtime
from .reports import COLUMNS, _filters, _money_sums, _row

PAYERS = ("pool", "credits", "free", "postpaid")
_PAYER_OF = {"pool": "pool", "credits": "credits", "mixed": "credits", "free": "free", "postpaid": "postpaid"}


class _Where(TypedDict):
    """The report's filter, as the keyword arguments of the page, totals and chart queries."""
    start: datetime | None
    end: datetime | None
    user_id: str | None
    call_type: str | None


def _cursor(text: str | None) -> tuple[datetime, str] | None:
    if not text:
        return None
    when, _, rid = text.partition("|")
    try:
        return datetime.fromisoformat(when), rid
    except ValueError:
        raise ValidationError("cursor is not one this page made") from None


def usage_overview(rt: Runtime, who: Principal, tenant_id: str, *, start: datetime, end: datetime,
                   user_id: str | None, call_type: str | None, cursor: str | None, limit: int) -> dict[str, Any]:
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
    digits = minor_units(tenant.currency)
    last = rows[limit - 1] if len(rows) > limit else None
    return {
        "items": [dict(zip(COLUMNS, _row(r, digits), strict=True)) for r in rows[:limit]],
        "next_cursor": f"{last['started_at'].isoformat()}|{last['id']}" if last else None,
        "totals": {"calls": sums["calls"], "seconds": sums["seconds"],
                   **{k: format_micros(sums[k], digits) for k in ("charge", "credits", "postpaid")}},
        "days": [{**d, "credits": format_micros(d["credits"], digits),
                  "postpaid": format_micros(d["postpaid"], digits)} for d in days],
        "currency": tenant.currency,
        "totals_by": {key: [_money_sums(g, digits) for g in groups] for key, groups in by.items()},
    }


def _days(facts: Any, start: datetime, end: datetime, zone: ZoneInfo) -> list[dict[str, Any]]:
    first, last = start.astimezone(zone).date(), (end - timedelta(microseconds=1)).astimezone(zone).date()
    span = min((last - first).days + 1, 400)
    days: dict[date, dict[str, Any]] = {
        first + timedelta(days=i): {"day": (first + timedelta(days=i)).isoformat(), "calls": dict.fromkeys(PAYERS, 0),
                                    "credits": 0, "postpaid": 0}
        for i in range(span)
    }
    for started, funding, credits, postpaid in facts:
        d = days.get(started.astimezone(zone).date())
        if d is None:
            continue
        d["calls"][_PAYER_OF.get(funding, "credits")] += 1
        d["credits"] += credits
        d["postpaid"] += postpaid
    return list(days.values())
