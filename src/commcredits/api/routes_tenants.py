"""Tenants, users and tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from ..domain.money import Money
from ..errors import ValidationError
from ..services.access import tenants as svc
from ..views.tenants import token_out
from . import routes_spend
from .deps import Cursor, Limit, PrincipalDep, RuntimeDep
from .schemas import SwitchTokenIn, TenantIn, TenantPatch, UserIn, tenant_out, user_out

router = APIRouter(prefix="/v1", tags=["tenants"])


@router.post("/tenants", status_code=201)
def create_tenant(body: TenantIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    tenant = svc.create_tenant(rt, who, **body.model_dump())
    return tenant_out(tenant, Money(0, tenant.currency), svc.purchase_status(rt, tenant))


@router.get("/tenants")
def list_tenants(
    rt: RuntimeDep, who: PrincipalDep, limit: Limit = 100, cursor: Cursor = None
) -> dict[str, Any]:
    rows = svc.tenant_summaries(rt, who, after=cursor, limit=limit + 1)
    items = [tenant_out(s.tenant, s.balance, s.purchase) for s in rows[:limit]]
    return {"items": items, "next_cursor": rows[limit - 1].tenant.id if len(rows) > limit else None}


@router.get("/tenants/{tid}")
def get_tenant(tid: str, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    tenant = svc.get_tenant(rt, who, tid)
    return tenant_out(tenant, purchase_status=svc.purchase_status(rt, tenant))


@router.patch("/tenants/{tid}")
def patch_tenant(tid: str, body: TenantPatch, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    tenant = svc.update_tenant(rt, who, tid, body.model_dump(exclude_unset=True))
    return tenant_out(tenant, purchase_status=svc.purchase_status(rt, tenant))


@router.post("/tenants/{tid}/users", status_code=201)
def create_user(tid: str, body: UserIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    return user_out(svc.create_user(rt, who, tid, **body.model_dump()))


@router.get("/tenants/{tid}/users")
def list_users(
    tid: str, rt: RuntimeDep, who: PrincipalDep, limit: Limit = 100, cursor: Cursor = None
) -> dict[str, Any]:
    users = svc.list_users(rt, who, tid, after=cursor, limit=limit + 1)
    return {"items": [user_out(u) for u in users[:limit]],
            "next_cursor": users[limit - 1].id if len(users) > limit else None}


@router.patch("/tenants/{tid}/users/{uid}")
def patch_user(tid: str, uid: str, body: routes_spend.UserPatchIn, rt: RuntimeDep, who: PrincipalDep
               ) -> dict[str, Any]:
    return routes_spend.patch_user(rt, who, tid, uid, body.model_dump(exclude_unset=True))


@router.post("/tenants/{tid}/users/{uid}/tokens", status_code=201)
def user_token(tid: str, uid: str, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    return token_out(svc.issue_user_token(rt, who, tid, uid))


@router.post("/tokens", status_code=201)
def switch_token(body: SwitchTokenIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    if body.kind != "switch":
        raise ValidationError(
            "only switch tokens are issued here; user tokens come from /v1/tenants/{tid}/users/{uid}/tokens"
        )
    return token_out(svc.issue_switch_token(rt, who, tenant_id=body.tenant_id))


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: str, rt: RuntimeDep, who: PrincipalDep) -> Response:
    svc.revoke_token(rt, who, token_id)
    return Response(status_code=204)


router.include_router(routes_spend.router)  # /v1/tenants/{tid}/spend-controls, /v1/purchase-limits/{currency}
