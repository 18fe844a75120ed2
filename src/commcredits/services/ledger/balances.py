"""Read models: a tenant's balance with its lots, and its journal, as typed values (amounts
as `Money`, instants as datetimes); the edges format them (views/ledger.py, the pages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ...db import ledger, tenants
from ...db import receipts as receipt_db
from ...db.engine import read_tx
from ...domain.access import VIEW_BILLING
from ...domain.lots import Lot
from ...domain.lots import balance as lots_balance
from ...domain.money import Money
from ...errors import NotFound, ValidationError
from ..access.principal import Principal, require_tenant
from ..payments import recharge_settings
from ..payments.recharge_settings import RechargeSummary
from ..runtime import Runtime


@dataclass(frozen=True, slots=True)
class LotView:
    """A lot as the balance shows it: what is left of it now (nothing once expired or used)."""

    id: str
    source: str
    amount: Money
    remaining: Money
    purchased_at: datetime
    expires_at: datetime
    status: str  # active | expired | used


@dataclass(frozen=True, slots=True)
class BalanceView:
    """A tenant's balance at `as_of`: what it holds, what calls in progress reserve, what is
    available, the deficit it owes, its lots and its auto-recharge."""

    tenant_id: str
    balance: Money
    reserved: Money
    available: Money
    deficit: Money
    billing_mode: str
    as_of: datetime
    lots: tuple[LotView, ...]
    auto_recharge: RechargeSummary

    @property
    def currency(self) -> str:
        return self.balance.currency

    @property
    def has_deficit(self) -> bool:
        return not self.deficit.is_zero


def _lot_view(lot: Lot, currency: str, now: datetime) -> LotView:
    usable = lot.usable_at(now)
    return LotView(lot.id, lot.source, Money(lot.amount, currency), Money(lot.remaining if usable else 0, currency),
                   lot.purchased_at, lot.expires_at,
                   "active" if usable else ("expired" if now >= lot.expires_at else "used"))


def balance_view(rt: Runtime, who: Principal, tenant_id: str) -> BalanceView:
    require_tenant(who, tenant_id, VIEW_BILLING)
    now = rt.clock.now()
    with read_tx(rt.engine) as conn:
        tenant = tenants.get(conn, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        lots = ledger.tenant_lots(conn, tenant_id)
        recharge = recharge_settings.summary(conn, tenant)
    currency = tenant.currency
    balance = lots_balance(lots, tenant.deficit, now)
    return BalanceView(
        tenant_id=tenant_id, balance=Money(balance, currency), reserved=Money(tenant.reserved, currency),
        available=Money(balance - tenant.reserved, currency), deficit=Money(tenant.deficit, currency),
        billing_mode=tenant.billing_mode, as_of=now, lots=tuple(_lot_view(lot, currency, now) for lot in lots),
        auto_recharge=recharge,
    )


@dataclass(frozen=True, slots=True)
class JournalLine:
    """One journal transaction; `receipt_id` is looked up for card charges only
    (`has_receipt`): purchases and auto-recharges."""

    id: int
    type: str
    amount: Money
    balance_after: Money
    created_at: datetime
    reference: str
    receipt_id: str | None

    @property
    def has_receipt(self) -> bool:
        return self.type in ("purchase", "auto_recharge")


@dataclass(frozen=True, slots=True)
class JournalPage:
    items: tuple[JournalLine, ...]
    next_cursor: str | None


def transactions_view(
    rt: Runtime, who: Principal, tenant_id: str, *, cursor: str | None, limit: int
) -> JournalPage:
    require_tenant(who, tenant_id, VIEW_BILLING)
    try:
        before = int(cursor) if cursor else None
    except ValueError:
        raise ValidationError("cursor is not one this service returned") from None
    with read_tx(rt.engine) as conn:
        tenant = tenants.get(conn, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        rows = ledger.list_transactions(conn, tenant_id, before=before, limit=limit + 1)
        receipt_ids = receipt_db.ids_for_transactions(conn, (t.id for t in rows[:limit]))
    currency = tenant.currency
    items = tuple(
        JournalLine(t.id, t.type, Money(t.amount, currency), Money(t.balance_after, currency), t.created_at,
                    t.reference, receipt_ids.get(t.id))
        for t in rows[:limit]
    )
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return JournalPage(items, next_cursor)
