"""Billing > Spend controls: the dial-out policy, spend caps, the low-balance alert and the
auto-recharge velocity limit, users' own policies, and the journal of changes.

Every admin sees the page; only Global and Billing Administrators (and the operator) get the
forms. A blank amount means "no limit". Post/redirect/get as on the other billing pages.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from ..domain.spend_controls import DIAL_OUT_POLICIES
from ..errors import CommCreditsError
from ..services.access import tenants as tenant_svc
from ..services.ledger import spend_controls as svc
from .feedback import explain
from .forms import done, flash
from .render import page, sentence
from .session import FormDep, TenantPage, ViewDep

router = APIRouter(prefix="/t/{tid}")
Field = Annotated[str, Form()]
AMOUNTS = ("daily_limit", "monthly_limit", "user_daily_limit", "low_balance_threshold")
POLICY_NAMES = {
    "all": "All calls (no restriction)",
    "no_premium": "No premium-rate numbers",
    "domestic_only": "Domestic calls only (no international, no premium-rate)",
    "none": "No outbound calls to phone numbers",
}
DONE = {"controls": "Spend controls saved.", "user": "The user's dial-out policy was saved."}
FIELDS = {name: f"sc-{name}" for name in (*AMOUNTS, "dial_out_policy", "max_auto_recharges_per_day")}


def spend_page(p: TenantPage, *, status: int = 200, error: dict[str, Any] | None = None,
               form: dict[str, str] | None = None, done_code: str = "") -> Response:
    rt, who, tid = p.rt, p.who, p.tenant.id
    controls = svc.controls_view(rt, who, tid)
    users = tenant_svc.list_users(rt, who, tid, after=None, limit=500)
    own = svc.user_policies(rt, who, tid)
    names = {u.id: f"{u.display_name or u.email} ({u.email})" for u in users}
    shown = {k: getattr(controls, k) for k in (*AMOUNTS, "max_auto_recharges_per_day")}
    values = {k: ("" if v is None else str(v)) for k, v in shown.items()}  # Money as its decimal string
    values["dial_out_policy"] = controls.dial_out_policy
    return page("spend_controls.html", status, **p.context(
        "spend", controls=controls, values={**values, **(form or {})}, policies=DIAL_OUT_POLICIES,
        policy_names=POLICY_NAMES, users=users, own=own, names=names, error=error, flash=flash(done_code, DONE),
    ))


@router.get("/spend-controls")
def spend_controls(p: ViewDep, done: str = "") -> Response:
    return spend_page(p, done_code=done)


@router.post("/spend-controls")
def save_controls(p: FormDep, dial_out_policy: Field = "all", daily_limit: Field = "", monthly_limit: Field = "",
                  user_daily_limit: Field = "", low_balance_threshold: Field = "",
                  max_auto_recharges_per_day: Field = "5") -> Response:
    form = {"dial_out_policy": dial_out_policy, "daily_limit": daily_limit, "monthly_limit": monthly_limit,
            "user_daily_limit": user_daily_limit, "low_balance_threshold": low_balance_threshold,
            "max_auto_recharges_per_day": max_auto_recharges_per_day}
    changes: dict[str, Any] = {k: (form[k].strip() or None) for k in AMOUNTS}
    changes["dial_out_policy"] = dial_out_policy
    try:
        changes["max_auto_recharges_per_day"] = int(max_auto_recharges_per_day.strip() or "5")
    except ValueError:
        changes["max_auto_recharges_per_day"] = max_auto_recharges_per_day  # refused below, by the service
    try:
        svc.update_controls(p.rt, p.who, p.tenant.id, changes)
    except CommCreditsError as exc:
        error = explain("Spend controls", exc, FIELDS)
        error["detail"] = sentence(error["detail"].split(": ", 1)[-1]) if error["field"] else error["detail"]
        return spend_page(p, status=exc.status, error=error, form=form)
    return done(p, "spend-controls", "controls")


@router.post("/spend-controls/users")
def save_user_policy(p: FormDep, user_id: Field = "", dial_out_policy: Field = "") -> Response:
    try:
        svc.set_user_policy(p.rt, p.who, p.tenant.id, user_id, dial_out_policy or None)
    except CommCreditsError as exc:
        return spend_page(p, status=exc.status, error=explain("User dial-out policy", exc, {}))
    return done(p, "spend-controls", "user", "#users")
