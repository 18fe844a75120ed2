"""Reports > PSTN usage: the calls of a period newest first with totals, a chart of calls and
charges per day by what paid for them, the funding advice with the balance forecast, and
the CSV and Excel downloads.

The period is days in the tenant's time zone, "from" and "to" both included; without one it
is this month so far, and the page says so. A period that ends before it starts is an
error next to the "To" field, never an empty report.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from ..domain.funding import CALL_TYPES
from ..errors import CommCreditsError, ValidationError
from ..services.access import tenants as tenant_svc
from ..services.usage import reports, usage_view
from ..services.usage import usage_export as exports
from ..views.usage import funding_advice_out, usage_overview_out
from .charts import calls_chart, charges_chart, forecast
from .feedback import FormProblem, explain, form_error
from .render import CALL_TYPE_NAMES, page
from .session import TenantPage, ViewDep

router = APIRouter(prefix="/t/{tid}")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FromQ = Annotated[str, Query(alias="from", max_length=40)]
ToQ = Annotated[str, Query(alias="to", max_length=40)]
Short = Annotated[str, Query(max_length=100)]


def _day(text: str, field: str, label: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise FormProblem(field, f"The {label} date is not a date",
                          "choose a date, or type it as year-month-day such as 2026-01-31") from None


def period(p: TenantPage, start: str, end: str) -> tuple[date, date]:
    """The report's days: as asked, or this month so far; refused when reversed."""
    today = p.rt.clock.now().astimezone(ZoneInfo(p.tenant.timezone)).date()
    first = _day(start, "usage-from", "start") if start.strip() else today.replace(day=1)
    last = _day(end, "usage-to", "end") if end.strip() else max(today, first)
    if last < first:
        raise FormProblem("usage-to", "The period ends before it starts",
                          f"choose a “To” date on or after {first.strftime('%d %b %Y')}")
    if (last - first).days > 366:
        raise FormProblem("usage-to", "The period is too long", "choose at most a year; download longer periods")
    return first, last


def _bounds(p: TenantPage, first: date, last: date) -> tuple[datetime, datetime]:
    zone = ZoneInfo(p.tenant.timezone)
    end = last + timedelta(days=1)
    return (datetime(first.year, first.month, first.day, tzinfo=zone),
            datetime(end.year, end.month, end.day, tzinfo=zone))


@router.get("/usage")
def usage(p: ViewDep, start: FromQ = "", end: ToQ = "", user_id: Short = "", call_type: Short = "",
          cursor: Short = "") -> Response:
    rt, who, tid = p.rt, p.who, p.tenant.id
    filters = {"from": start, "to": end, "user_id": user_id, "call_type": call_type}
    report: dict[str, Any] | None = None
    error, status, defaulted = None, 200, not (start.strip() or end.strip())
    try:
        first, last = period(p, start, end)
        filters.update({"from": first.isoformat(), "to": last.isoformat()})
        lo, hi = _bounds(p, first, last)
        report = usage_overview_out(usage_view.usage_overview(
            rt, who, tid, start=lo, end=hi, user_id=user_id or None, call_type=call_type or None,
            cursor=cursor or None, limit=50))
    except FormProblem as exc:
        error, status, first, last = form_error("Usage report", exc), 422, None, None
    except CommCreditsError as exc:
        error, status, first, last = explain("Usage report", exc, {"call_type": "usage-type"}), exc.status, None, None
    advice = funding_advice_out(reports.funding_advice(rt, who, tid))
    today = rt.clock.now().astimezone(ZoneInfo(p.tenant.timezone)).date()
    return page("usage.html", status, **p.context(
        "usage", report=report, filters=filters, first=first, last=last, defaulted=defaulted,
        query=urlencode({k: v for k, v in filters.items() if v}), error=error,
        users=tenant_svc.list_users(rt, who, tid, after=None, limit=500),
        call_types=[(c, CALL_TYPE_NAMES[c]) for c in CALL_TYPES], advice=advice,
        calls_chart=calls_chart(report["days"]) if report else None,
        charges_chart=charges_chart(report["days"], p.tenant.currency) if report else None,
        forecast=forecast(advice.get("available", "0"), advice["daily_spend"], advice["days_until_zero"], today),
    ))


@router.get("/usage/export")
def usage_export(p: ViewDep, format: Short = "csv", start: FromQ = "", end: ToQ = "", user_id: Short = "",
                 call_type: Short = "") -> Response:
    if format not in ("csv", "xlsx"):
        raise ValidationError("the download is CSV or Excel (format=csv or format=xlsx)")
    try:
        first, last = period(p, start, end)
    except FormProblem as exc:
        raise ValidationError(exc.detail) from None
    lo, hi = _bounds(p, first, last)
    export = exports.open_export(p.rt, p.who, p.tenant.id, start=lo, end=hi, user_id=user_id or None,
                                 call_type=call_type or None)
    name = f"pstn-usage-{first.isoformat()}-to-{last.isoformat()}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "csv":
        body = exports.csv_stream(export, bom=True)
        return StreamingResponse(exports.threaded(body), media_type="text/csv; charset=utf-8", headers=headers)
    body = exports.xlsx_stream(export, zone=p.tenant.timezone)
    return StreamingResponse(exports.threaded(body), media_type=XLSX, headers=headers)
