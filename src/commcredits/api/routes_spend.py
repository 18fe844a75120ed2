"""Spend controls of a tenant and purchase limits per currency (API.md "Additions").

`PUT /v1/tenants/{tid}/spend-controls` changes the fields it names and leaves the others as
they are (null turns a limit or the low-balance alert off); every change is journaled and
the answer lists the recent changes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import Field, StrictInt

from ..domain.access import MANAGE_BILLING
from ..errors import ValidationError
from ..services.access import tenants as tenant_svc
from ..services.access.principal import Principal, require_tenant
from ..services.ledger import spend_controls as svc
from ..services.runtime import Runtime
from ..views.ledger import controls_out, limits_out
from .deps import PrincipalDep, RuntimeDep
from .schemas import In, UserPatch, user_out

router = APIRouter(tags=["spend controls"])  # paths below /v1: included by routes_tenants' /v1 router

MoneyText = Annotated[str, Field(min_length=1, max_length=40, description='a money string such as "500.00"')]
Policy = Literal["all", "no_premium", "domestic_only", "none"]
Currency = Annotated[str, Path(min_length=1, max_length=16, description="ISO 4217, e.g. JPY")]  # checked after who
TenantId = Annotated[str, Path(min_length=1, max_length=64)]


class SpendControlsIn(In):
    dial_out_policy: Policy | None = Field(None, description="the tenant's policy; users may override it")
    daily_limit: MoneyText | None = None
    monthly_limit: MoneyText | None = None
    user_daily_limit: MoneyText | None = None
    low_balance_threshold: MoneyText | None = None
    max_auto_recharges_per_day: Annotated[StrictInt, Field(ge=1, le=100)] | None = None


class PurchaseLimitsIn(In):
    minimum: MoneyText
    maximum: MoneyText


@router.get("/tenants/{tid}/spend-controls")
def get_spend_controls(tid: TenantId, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    return controls_out(svc.controls_view(rt, who, tid))


@router.put("/tenants/{tid}/spend-controls")
def put_spend_controls(tid: TenantId, body: SpendControlsIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    if changes.get("dial_out_policy", "") is None or changes.get("max_auto_recharges_per_day", 0) is None:
        raise ValidationError("dial_out_policy and max_auto_recharges_per_day cannot be null")
    return controls_out(svc.update_controls(rt, who, tid, changes))


@router.get("/purchase-limits/{currency}")
def get_purchase_limits(currency: Currency, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    return limits_out(svc.limits_view(rt, who, currency))


@router.put("/purchase-limits/{currency}")
def put_purchase_limits(currency: Currency, body: PurchaseLimitsIn, rt: RuntimeDep,
                        who: PrincipalDep) -> dict[str, Any]:
    return limits_out(svc.set_limits(rt, who, currency, minimum=body.minimum, maximum=body.maximum))


class UserPatchIn(UserPatch):
    dial_out_policy: Policy | None = Field(
        None, description="the user's own dial-out policy; null = the tenant's (billing admins)")


def patch_user(rt: Runtime, who: Principal, tid: str, uid: str, changes: dict[str, Any]) -> dict[str, Any]:
    """`PATCH /v1/tenants/{tid}/users/{uid}`: the user fields as before, and `dial_out_policy`
    (which needs the billing permission, checked before anything is written)."""
    has_policy = "dial_out_policy" in changes
    policy = changes.pop("dial_out_policy", None)
    if has_policy:
        require_tenant(who, tid, MANAGE_BILLING)
    if changes or not has_policy:
        tenant_svc.update_user(rt, who, tid, uid, changes)
    if has_policy:
        svc.set_user_policy(rt, who, tid, uid, policy)
    user, own = svc.user_with_policy(rt, who, tid, uid)
    return {**user_out(user), "dial_out_policy": own}
