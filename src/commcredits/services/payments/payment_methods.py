"""Saving, updating and removing cards. The number goes to the gateway; we keep brand,
last 4 and expiry only.

Saving a new card, or a new expiry for a card, resumes a suspended auto-recharge
(DOMAIN.md): a new card becomes the recharge's card (the old one is what failed), an
update resumes it only if it is the recharge's own card. The resume is written in the same
transaction as the card, and the trigger is checked after the commit, so a balance still
below the trigger is recharged at once. The card an enabled auto-recharge charges cannot be
removed (409): switch the recharge to another card or turn it off first.

A card that is already saved (same brand, last 4 digits and expiry, not removed) is refused
with 409 `duplicate_card` naming the saved card, so web, API and CLI agree and the
auto-recharge list never shows two identical entries. The check runs under the tenant lock
after the gateway has named the brand; the gateway's new copy is then forgotten again.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection

from ...db import payments, tenants
from ...db import recharge as recharge_db
from ...db.engine import read_tx, unit_of_work
from ...db.payments import PaymentMethod
from ...db.rows import new_id
from ...domain.access import MANAGE_BILLING
from ...domain.recharge import card_saved
from ...errors import Conflict, DuplicateCard, NotFound, PaymentFailed, ValidationError
from ...payments.gateway import CardRejected, GatewayUnavailable
from ..access.principal import Principal, require_tenant
from ..ledger.balance_events import balance_changed
from ..runtime import Runtime


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
    try:
        for tx in unit_of_work(rt.engine):
            with tx as conn:
                if tenants.lock(conn, tenant_id) is None:
                    raise NotFound(f"tenant {tenant_id} not found")
                _refuse_duplicate(conn, pm)
                payments.insert_method(conn, pm)
                resumed = _resume(rt, conn, tenant_id, pm.id, updated=False)
    except DuplicateCard:
        _forget_at_gateway(rt, pm)
        raise
    if resumed:
        balance_changed(rt, tenant_id)
    return pm


def _refuse_duplicate(conn: Connection, pm: PaymentMethod) -> None:
    key = (pm.brand, pm.last4, pm.exp_month, pm.exp_year)
    for saved in payments.list_methods(conn, pm.tenant_id):
        if (saved.brand, saved.last4, saved.exp_month, saved.exp_year) == key:
            raise DuplicateCard(
                f"this card ({saved.brand} ending in {saved.last4}, expiring {saved.exp_month:02d}/"
                f"{saved.exp_year}) is already saved as {saved.id}",
                payment_method_id=saved.id,
            )


def _forget_at_gateway(rt: Runtime, pm: PaymentMethod) -> None:
    try:
        rt.gateway.remove_card(card_ref=pm.gateway_ref)
    except (GatewayUnavailable, CardRejected) as exc:
        log.warning("duplicate card %s was not removed at the gateway: %s", pm.gateway_ref, exc)


def update_payment_method(
    rt: Runtime, who: Principal, tenant_id: str, pm_id: str, *, exp_month: Any, exp_year: Any,
) -> PaymentMethod:
    """A new expiry for a saved card (the gateway is told too)."""
    require_tenant(who, tenant_id, MANAGE_BILLING)
    month, year = _check_expiry(rt, exp_month, exp_year)
    with read_tx(rt.engine) as conn:
        pm = payments.get_method(conn, tenant_id, pm_id)
    if pm is None:
        raise NotFound(f"payment method {pm_id} not found")
    try:
        rt.gateway.update_card(card_ref=pm.gateway_ref, exp_month=month, exp_year=year)
    except CardRejected as exc:
        raise PaymentFailed(exc.message, code=exc.code) from None
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            if tenants.lock(conn, tenant_id) is None or \
                    not recharge_db.update_method_expiry(conn, tenant_id, pm_id, month, year):
                raise NotFound(f"payment method {pm_id} not found")
            resumed = _resume(rt, conn, tenant_id, pm_id, updated=True)
            updated = payments.get_method(conn, tenant_id, pm_id)
    assert updated is not None
    if resumed:
        balance_changed(rt, tenant_id)
    return updated


def _resume(rt: Runtime, conn: Connection, tenant_id: str, pm_id: str, *, updated: bool) -> bool:
    """Resume a suspended auto-recharge with this card; True if it was resumed."""
    row = recharge_db.get(conn, tenant_id)
    if row is None:
        return False
    policy = card_saved(row.policy, pm_id, updated=updated)
    if policy == row.policy:
        return False
    recharge_db.save_policy(conn, tenant_id, policy, rt.clock.now())
    return True


def list_payment_methods(rt: Runtime, who: Principal, tenant_id: str) -> list[PaymentMethod]:
    require_tenant(who, tenant_id, MANAGE_BILLING)
    with read_tx(rt.engine) as conn:
        if tenants.get(conn, tenant_id) is None:
            raise NotFound(f"tenant {tenant_id} not found")
        return payments.list_methods(conn, tenant_id)


def remove_payment_method(rt: Runtime, who: Principal, tenant_id: str, pm_id: str) -> None:
    require_tenant(who, tenant_id, MANAGE_BILLING)
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            if tenants.lock(conn, tenant_id) is None:
                raise NotFound(f"tenant {tenant_id} not found")
            pm = payments.get_method(conn, tenant_id, pm_id)
            if pm is None:
                raise NotFound(f"payment method {pm_id} not found")
            if recharge_db.uses_method(conn, tenant_id, pm_id):
                raise Conflict("auto-recharge charges this card: choose another card for it or turn it off first")
            payments.delete_method(conn, tenant_id, pm_id, rt.clock.now())
    assert pm is not None  # the loop ends only after a try that completed
    try:
        rt.gateway.remove_card(card_ref=pm.gateway_ref)
    except GatewayUnavailable as exc:  # our copy is gone; the gateway's is unusable without it
        log.warning("payment method %s removed here, but the gateway was not told: %s", pm_id, exc)


log = logging.getLogger("commcredits.payment_methods")
