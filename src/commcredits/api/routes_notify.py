"""Notifications and webhooks of a tenant."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from ..services.notify import notifications
from ..views import notify as views
from .deps import Cursor, Limit, PrincipalDep, RuntimeDep
from .schemas import Code

router = APIRouter(prefix="/v1/tenants/{tid}", tags=["notifications"])


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2000, description="absolute http(s) URL receiving the POSTs")
    events: list[Code] = Field(max_length=32,
                               description="event types, e.g. [\"balance_depleted\", \"auto_recharge_failed\"]")


@router.get("/notifications")
def list_notifications(
    tid: str, rt: RuntimeDep, who: PrincipalDep, limit: Limit = 100, cursor: Cursor = None
) -> dict[str, Any]:
    return views.notification_page_out(notifications.list_notifications(rt, who, tid, cursor=cursor, limit=limit))


@router.post("/webhooks", status_code=201)
def register_webhook(tid: str, body: WebhookIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    return views.new_webhook_out(notifications.register_webhook(rt, who, tid, url=body.url, events=body.events))


@router.get("/webhooks")
def list_webhooks(tid: str, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    return views.webhook_list_out(notifications.list_webhooks(rt, who, tid))


@router.get("/webhooks/{wid}/deliveries")
def list_deliveries(
    tid: str, wid: str, rt: RuntimeDep, who: PrincipalDep, limit: Limit = 100, cursor: Cursor = None
) -> dict[str, Any]:
    return views.delivery_page_out(notifications.list_deliveries(rt, who, tid, wid, cursor=cursor, limit=limit))


@router.delete("/webhooks/{wid}", status_code=204)
def delete_webhook(tid: str, wid: str, rt: RuntimeDep, who: PrincipalDep) -> Response:
    notifications.delete_webhook(rt, who, tid, wid)
    return Response(status_code=204)
