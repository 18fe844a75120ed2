"""Payment methods, funds, grants, balance and transactions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from ..services.ledger import balances, funds
from ..services.payments import payment_methods
from ..views.ledger import balance_out, credit_out, journal_page_out
from .deps import Cursor, IdempotencyKey, Limit, PrincipalDep, RuntimeDep
from .schemas import FundsIn, GrantIn, PaymentMethodIn, payment_method_out

router = APIRouter(prefix="/v1/tenants/{tid}", tags=["money"])


@router.post("/payment-methods", status_code=201, responses={402: {"description": "the card was refused"}})
def add_payment_method(tid: str, body: PaymentMethodIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    return payment_method_out(payment_methods.add_payment_method(rt, who, tid, **body.model_dump()))


@router.get("/payment-methods")
def list_payment_methods(tid: str, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    items = [payment_method_out(pm) for pm in payment_methods.list_payment_methods(rt, who, tid)]
    return {"items": items, "next_cursor": None}


@router.delete("/payment-methods/{pmid}", status_code=204)
def remove_payment_method(tid: str, pmid: str, rt: RuntimeDep, who: PrincipalDep) -> Response:
    payment_methods.remove_payment_method(rt, who, tid, pmid)
    return Response(status_code=204)


@router.post("/funds", status_code=201, responses={402: {"description": "card declined"}})
def add_funds(tid: str, body: FundsIn, rt: RuntimeDep, who: PrincipalDep, key: IdempotencyKey = None) -> JSONResponse:
    credit = funds.add_funds(rt, who, tid, amount=body.amount, payment_method_id=body.payment_method_id,
                             idempotency_key=key or "")  # a declined card raises PaymentDeclined: 402 problem
    return JSONResponse(credit_out(credit), status_code=201, media_type="application/json")


@router.post("/grants", status_code=201)
def grant(tid: str, body: GrantIn, rt: RuntimeDep, who: PrincipalDep, key: IdempotencyKey = None) -> dict[str, Any]:
    return credit_out(funds.grant_credit(rt, who, tid, amount=body.amount, expires_at=body.expires_at,
                                         reason=body.reason, idempotency_key=key))


@router.get("/balance")
def balance(tid: str, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    return balance_out(balances.balance_view(rt, who, tid))


@router.get("/transactions")
def transactions(
    tid: str, rt: RuntimeDep, who: PrincipalDep, limit: Limit = 100, cursor: Cursor = None
) -> dict[str, Any]:
    return journal_page_out(balances.transactions_view(rt, who, tid, cursor=cursor, limit=limit))
