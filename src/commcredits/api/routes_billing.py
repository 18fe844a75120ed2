"""Billing mode (the move to post-paid) and post-paid statements."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from ..services.billing import statements
from ..views.billing import billing_mode_out, statement_out
from .deps import Period, PrincipalDep, RuntimeDep
from .schemas import Code

router = APIRouter(prefix="/v1/tenants/{tid}", tags=["billing"])


class BillingModeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Code


@router.post("/billing-mode")
def change_billing_mode(tid: str, body: BillingModeIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    """Move to post-paid: refused while auto-recharge is on; credits left are spent first."""
    return billing_mode_out(statements.change_billing_mode(rt, who, tid, mode=body.mode))


@router.get("/statements")
def get_statement(tid: str, rt: RuntimeDep, who: PrincipalDep, period: Period = None) -> dict[str, Any]:
    """The post-paid statement of a month (default: the current one, still open)."""
    return statement_out(statements.statement(rt, who, tid, period=period))
