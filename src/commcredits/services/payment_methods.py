"""Saving and removing cards. The number goes to the gateway; we keep brand, last 4 and
expiry only."""

from __future__ import annotations

from typing import Any

from ..db import payments, tenants
from ..db.engine import read_tx, write_tx
from ..db.payments import PaymentMethod
from ..db.rows import new_id
from ..domain.access import MANAGE_BILLING
from ..errors import NotFound, PaymentFailed, ValidationError
from ..payments.gateway import CardRejected
from .principal import Principal, require_tenant
from .runtime import Runtime


def _check_expiry(rt: Runtime, exp_month: Any, exp_year: Any) -> tuple[int, int]:
    try:
        month, year = int(exp_month), int(exp_year)
    except (TypeError, ValueError):
        raise ValidationError("exp_month and exp_year must be numbers") from None
    if not 1 <= month <= 12:
        raise ValidationError("exp_month must be between 1 and 12")
    if year < 100:
        year += 2000
    now = rt.clock.now()
    if (year, month) < (now.year, now.month):
        raise PaymentFailed("the card has expired", code="expired_card")
    return month, year


def add_payment_method(
    rt: Runtime, who: Principal, tenant_id: str, *, card_number: str, exp_month: Any,
    exp_year: Any, cvc: str,
) -> PaymentMethod:
    require_tenant(who, tenant_id, MANAGE_BILLING)
    month, year = _check_expiry(rt, exp_month, exp_year)
    with read_tx(rt.engine) as conn:
        if tenants.get(conn, tenant_id) is None:
            raise NotFound(f"tenant {tenant_id} not found")
    try:
        card = rt.gateway.save_card(card_number=str(card_number), exp_month=month, exp_year=year,
                                    cvc=str(cvc))
    except CardRejected as exc:
        raise PaymentFailed(exc.message, code=exc.code) from None
    pm = PaymentMethod(
        id=new_id(), tenant_id=tenant_id, gateway=rt.gateway.name, gateway_ref=card.gateway_ref,
        brand=card.brand, last4=card.last4, exp_month=card.exp_month, exp_year=card.exp_year,
        created_at=rt.clock.now(),
    )
    with write_tx(rt.engine) as conn:
        payments.insert_method(conn, pm)
    return pm


def list_payment_methods(rt: Runtime, who: Principal, tenant_id: str) -> list[PaymentMethod]:
    require_tenant(who, tenant_id, MANAGE_BILLING)
    with read_tx(rt.engine) as conn:
        if tenants.get(conn, tenant_id) is None:
            raise NotFound(f"tenant {tenant_id} not found")
        return payments.list_methods(conn, tenant_id)


def remove_payment_method(rt: Runtime, who: Principal, tenant_id: str, pm_id: str) -> None:
    require_tenant(who, tenant_id, MANAGE_BILLING)
    with write_tx(rt.engine) as conn:
        if not payments.delete_method(conn, tenant_id, pm_id, rt.clock.now()):
            raise NotFound(f"payment method {pm_id} not found")
