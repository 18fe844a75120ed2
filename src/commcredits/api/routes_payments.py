"""Auto-recharge settings, card updates and receipts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from pydantic import Field, StrictBool

from ..documents.receipts import render_html, render_pdf
from ..services.access import tenants
from ..services.ledger import receipts
from ..services.payments import payment_methods, recharge_settings
from ..views.ledger import receipt_page_out
from ..views.payments import recharge_settings_out
from .deps import Cursor, Limit, PrincipalDep, RuntimeDep
from .schemas import Id, In, Month, Year, payment_method_out

router = APIRouter(prefix="/v1/tenants/{tid}", tags=["payments"])


class AutoRechargeIn(In):
    enabled: StrictBool
    amount: str | None = Field(default=None, max_length=40,
                               description='recharge amount, e.g. "100.00" (>= the minimum purchase)')
    trigger: str | None = Field(default=None, max_length=40,
                                description='recharge when the balance falls below this, e.g. "50.00"')
    payment_method_id: Id | None = None


class PaymentMethodPatch(In):
    exp_month: Month
    exp_year: Year


@router.get("/auto-recharge")
def get_auto_recharge(tid: str, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    return recharge_settings_out(recharge_settings.settings_view(rt, who, tid))


@router.put("/auto-recharge")
def put_auto_recharge(tid: str, body: AutoRechargeIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    return recharge_settings_out(recharge_settings.save_settings(rt, who, tid, **body.model_dump()))


@router.patch("/payment-methods/{pmid}", responses={402: {"description": "the card was refused"}})
def update_payment_method(
    tid: str, pmid: str, body: PaymentMethodPatch, rt: RuntimeDep, who: PrincipalDep
) -> dict[str, Any]:
    pm = payment_methods.update_payment_method(rt, who, tid, pmid, **body.model_dump())
    return payment_method_out(pm)


@router.get("/receipts")
def list_receipts(
    tid: str, rt: RuntimeDep, who: PrincipalDep, limit: Limit = 100, cursor: Cursor = None
) -> dict[str, Any]:
    return receipt_page_out(receipts.list_receipts(rt, who, tid, cursor=cursor, limit=limit))


@router.get("/receipts/{rid}", response_class=Response,
            responses={200: {"content": {"text/html": {}, "application/pdf": {}}}})
def get_receipt(
    tid: str, rid: str, rt: RuntimeDep, who: PrincipalDep,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    receipt = receipts.get_receipt(rt, who, tid, rid)
    zone = tenants.get_tenant(rt, who, tid).timezone  # as the web and CLI print it
    if accept and "application/pdf" in accept:
        headers = {"Content-Disposition": f'inline; filename="{receipt.number}.pdf"'}
        return Response(render_pdf(receipt, rt.settings, zone), media_type="application/pdf", headers=headers)
    return Response(render_html(receipt, rt.settings, zone), media_type="text/html; charset=utf-8")
