"""Licenses and minute pools, the PSTN usage report with its downloads and the funding
advice, the notifications list, and post-paid billing (the move and the monthly statement).

Report dates are days in the tenant's time zone: "from" is the start of its day, "to" the
end of its day (both included).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query
from fastapi.responses import Response, StreamingResponse

from ..domain.funding import CALL_TYPES
from ..errors import CommCreditsError, ValidationError
from ..services import notifications, recharge_settings, reports, statements, subscriptions
from ..services import tenants as tenant_svc
from ..services.tenants import LICENSES
from .forms import done, flash, problem
from .render import page
from .session import FormDep, TenantPage, ViewDep

router = APIRouter(prefix="/t/{tid}")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DONE = {
    "licenses": "Licenses saved.",
    "postpaid": "The move to post-paid has started: credits left are spent first, then usage goes on the "
                "monthly statement.",
}


def licenses_page(p: TenantPage, *, status: int = 200, error: dict[str, Any] | None = None, done_code: str = "",
                  after: str = "") -> Response:
    rt, who, tid = p.rt, p.who, p.tenant.id
    users = tenant_svc.list_users(rt, who, tid, after=after or None, limit=101)
    return page("licenses.html", status, **p.context(
        "licenses", users=users[:100], next_after=users[99].id if len(users) > 100 else None,
        licenses=LICENSES, subs=subscriptions.list_subscriptions(rt, who, tid)["items"],
        pools=subscriptions.minute_pools(rt, who, tid, period=None), error=error, flash=flash(done_code, DONE),
    ))


@router.get("/licenses")
def licenses(p: ViewDep, done: str = "", after: str = "") -> Response:
    return licenses_page(p, done_code=done, after=after)


@router.post("/licenses/{uid}")
def save_licenses(p: FormDep, uid: str, licenses: Annotated[list[str] | None, Form()] = None) -> Response:
    try:
        tenant_svc.update_user(p.rt, p.who, p.tenant.id, uid, {"licenses": licenses or []})
    except CommCreditsError as exc:
        return licenses_page(p, status=exc.status, error=problem("Licenses", exc))
    return done(p, "licenses", "licenses")


def _day_start(text: str, zone: str, field: str, plus_days: int = 0) -> datetime | None:
    if not text.strip():
        return None
    try:
        d = date.fromisoformat(text.strip()) + timedelta(days=plus_days)
    except ValueError:
        raise ValidationError(f"{field} must be a date such as 2026-01-31") from None
    return datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(zone))


def _filters(p: TenantPage, start: str, end: str, user_id: str, call_type: str) -> dict[str, Any]:
    zone = p.tenant.timezone
    return {"start": _day_start(start, zone, "From"), "end": _day_start(end, zone, "To", plus_days=1),
            "user_id": user_id or None, "call_type": call_type or None}


FromQ = Annotated[str, Query(alias="from")]
ToQ = Annotated[str, Query(alias="to")]


@router.get("/usage")
def usage(p: ViewDep, start: FromQ = "", end: ToQ = "", user_id: str = "", call_type: str = "",
          cursor: str = "") -> Response:
    rt, who, tid = p.rt, p.who, p.tenant.id
    query = {"from": start, "to": end, "user_id": user_id, "call_type": call_type}
    report: dict[str, Any] = {"items": [], "next_cursor": None}
    error, status = None, 200
    try:
        report = reports.usage_page(rt, who, tid, **_filters(p, start, end, user_id, call_type),
                                    cursor=cursor or None, limit=50)
    except CommCreditsError as exc:
        error, status = problem("Usage report", exc), exc.status
    return page("usage.html", status, **p.context(
        "usage", report=report, filters=query, query=urlencode({k: v for k, v in query.items() if v}),
        users=tenant_svc.list_users(rt, who, tid, after=None, limit=500), call_types=CALL_TYPES,
        advice=reports.funding_advice(rt, who, tid), error=error,
    ))


@router.get("/usage/export")
def usage_export(p: ViewDep, format: str = "csv", start: FromQ = "", end: ToQ = "", user_id: str = "",
                 call_type: str = "") -> Response:
    if format not in ("csv", "xlsx"):
        raise ValidationError("format must be csv or xlsx")
    _, rows = reports.usage_export(p.rt, p.who, p.tenant.id, **_filters(p, start, end, user_id, call_type))
    name = f"pstn-usage-{p.rt.clock.now().date().isoformat()}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "csv":
        return StreamingResponse(reports.as_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(reports.as_xlsx(rows), media_type=XLSX, headers=headers)


@router.get("/notifications")
def notifications_page(p: ViewDep, cursor: str = "") -> Response:
    listing = notifications.list_notifications(p.rt, p.who, p.tenant.id, cursor=cursor or None, limit=50)
    return page("notifications.html", **p.context("notifications", listing=listing))


def postpaid_page(p: TenantPage, *, period: str = "", status: int = 200, error: dict[str, Any] | None = None,
                  done_code: str = "") -> Response:
    statement, statement_error = None, None
    try:
        statement = statements.statement(p.rt, p.who, p.tenant.id, period=period.strip() or None)
    except ValidationError as exc:
        statement_error = problem("Statement", exc)
    recharge_on = p.can_billing and bool(recharge_settings.settings_view(p.rt, p.who, p.tenant.id)["enabled"])
    return page("postpaid.html", status, **p.context(
        "postpaid", statement=statement, period=period, error=error or statement_error,
        recharge_on=recharge_on, flash=flash(done_code, DONE),
    ))


@router.get("/postpaid")
def postpaid(p: ViewDep, period: str = "", done: str = "") -> Response:
    return postpaid_page(p, period=period, done_code=done)


@router.post("/postpaid/move")
def move_to_postpaid(p: FormDep, confirm: Annotated[str, Form()] = "") -> Response:
    try:
        if confirm != "yes":
            raise ValidationError("tick the box to confirm the move to post-paid billing")
        statements.change_billing_mode(p.rt, p.who, p.tenant.id, mode="postpaid")
    except CommCreditsError as exc:
        return postpaid_page(p, status=exc.status, error=problem("Move to post-paid", exc))
    return done(p, "postpaid", "postpaid")
