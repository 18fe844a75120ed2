"""Licenses and minute pools, the notifications list, and post-paid billing (the move and
the monthly statement). The PSTN usage report is in `routes_usage`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from ..errors import CommCreditsError, ValidationError
from ..services.access import tenants as tenant_svc
from ..services.access.tenants import LICENSES
from ..services.billing import statements, subscriptions
from ..services.notify import notifications
from ..services.payments import recharge_settings
from ..views.notify import notification_page_out
from .feedback import explain
from .forms import done, flash
from .render import page
from .session import FormDep, TenantPage, ViewDep

router = APIRouter(prefix="/t/{tid}")
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
        licenses=LICENSES, subs=subscriptions.list_subscriptions(rt, who, tid).items,
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
        return licenses_page(p, status=exc.status, error=explain("Licenses", exc, {}))
    return done(p, "licenses", "licenses")


@router.get("/notifications")
def notifications_page(p: ViewDep, cursor: str = "") -> Response:
    listing = notification_page_out(
        notifications.list_notifications(p.rt, p.who, p.tenant.id, cursor=cursor or None, limit=50))
    return page("notifications.html", **p.context("notifications", listing=listing))


def postpaid_page(p: TenantPage, *, period: str = "", status: int = 200, error: dict[str, Any] | None = None,
                  done_code: str = "") -> Response:
    statement, statement_error = None, None
    try:
        statement = statements.statement(p.rt, p.who, p.tenant.id, period=period.strip() or None)
    except ValidationError as exc:
        statement_error = explain("Statement", exc, {"validation_error": "statement-period"})
    recharge_on = p.can_billing and recharge_settings.settings_view(p.rt, p.who, p.tenant.id).enabled
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
        fields = {"tick": "postpaid-confirm"}
        return postpaid_page(p, status=exc.status, error=explain("Move to post-paid", exc, fields))
    return done(p, "postpaid", "postpaid")
