"""Subscriptions, minute pools, allowances and call records."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from ..errors import Forbidden
from ..services.access.principal import require_operator
from ..services.billing import subscriptions
from ..services.calls import call_control
from ..services.usage import charging
from ..services.usage.call_records import parse_record
from ..views.billing import allowance_out, minute_pools_out, subscriptions_out
from .deps import Period, PrincipalDep, RuntimeDep
from .schemas import Key

router = APIRouter(prefix="/v1", tags=["usage"])


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product: Key
    quantity: StrictInt = Field(ge=0, le=1_000_000)


class AllowanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product: Key
    kind: Key
    country: str = Field(min_length=1, max_length=2, pattern=r"^([A-Za-z]{2}|\*)$")
    minutes: StrictInt = Field(ge=0, le=1_000_000)


class CdrBatchIn(BaseModel):
    records: list[dict[str, Any]] = Field(max_length=10_000)


@router.post("/tenants/{tid}/subscriptions", status_code=201)
def set_subscription(tid: str, body: SubscriptionIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    return subscriptions_out(subscriptions.set_subscription(rt, who, tid, product=body.product, quantity=body.quantity))


@router.get("/tenants/{tid}/subscriptions")
def list_subscriptions(tid: str, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    return subscriptions_out(subscriptions.list_subscriptions(rt, who, tid))


@router.get("/tenants/{tid}/minute-pools")
def minute_pools(tid: str, rt: RuntimeDep, who: PrincipalDep, period: Period = None) -> dict[str, Any]:
    return minute_pools_out(subscriptions.minute_pools(rt, who, tid, period=period))


@router.get("/minute-allowances")
def list_allowances(rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    return {"items": [allowance_out(a) for a in subscriptions.list_allowances(rt, who)], "next_cursor": None}


@router.put("/minute-allowances")
def set_allowance(body: AllowanceIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    return allowance_out(subscriptions.set_allowance(rt, who, **body.model_dump()))


@router.post("/cdrs")
async def post_cdrs(body: CdrBatchIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    """Charge up to 10,000 call records; each is charged, a duplicate, or rejected with a reason.

    The records join the call desk's queue, so concurrent posts share one transaction and
    one fsync with the switch's other requests (services/calls/call_desk.py)."""
    if who.kind == "user":
        raise Forbidden("call records come from the switch or the operator")
    if who.kind != "switch":
        require_operator(who)
    only = who.tenant_id if who.kind == "switch" else None  # a switch token bound to one tenant
    if len(body.records) > 100:  # checking many records is CPU work: off the event loop
        parsed = await run_in_threadpool(lambda: [parse_record(r) for r in body.records])
    else:
        parsed = [parse_record(r) for r in body.records]
    outcomes: list[charging.Outcome] = await call_control.ask(rt, None, call_control.RecordsRequest(parsed, only))
    results = [o.as_json() for o in outcomes]
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("charged", "duplicate", "rejected")}
    return {"results": results, **counts}
