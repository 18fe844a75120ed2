"""Post-paid: moving a tenant to post-paid billing, and its monthly statements.

Migration (DOMAIN.md "Post-paid (NCE) and migration"): refused while auto-recharge is on
(`409 auto_recharge_on`: the balance would refill forever). A tenant with credit left becomes
`migrating` and spends it first; charging switches it to `postpaid` at the first call the
credits cannot cover. A tenant with nothing left becomes `postpaid` at once; a deficit it
owed moves to its first statement (an `adjustment` transaction clears it from the balance),
so nothing is lost or charged twice.

A statement is the month's post-paid call charges (in the tenant's time zone) plus items
such as a carried deficit. It is `open` during the month and `issued` once the month has
ended; the jobs then tell the admins (`statement_issued`, once per month).

`statement` returns a `Statement` (amounts as `Money`); the edges format it. The event
`statement_issued` carries the statement as JSON in the event's own format (`_payload`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from ...db import ledger, recharge
from ...db import tenants as tenant_db
from ...db.engine import read_tx, unit_of_work
from ...db.rows import new_id
from ...db.schema import tenants as tenants_table
from ...db.schema_usage import call_records, statement_items
from ...domain.access import MANAGE_BILLING, VIEW_BILLING
from ...domain.journal import Entry, Posting
from ...domain.money import Money
from ...errors import AutoRechargeOn, NotFound, ValidationError
from ...formatting import iso
from ...notify.outbox import enqueue
from ..access.principal import OPERATOR, Principal, require_tenant
from ..ledger.ledger_ops import balance_of
from ..runtime import Runtime


@dataclass(frozen=True, slots=True)
class BillingMode:
    """A tenant's billing mode after a change: `migrating` (spending its credits first) or
    `postpaid`; unchanged if it had moved before."""

    tenant_id: str
    billing_mode: str


@dataclass(frozen=True, slots=True)
class StatementLine:
    """The month's post-paid calls of one category and capability."""

    category: str
    capability: str
    calls: int
    seconds: int
    amount: Money


@dataclass(frozen=True, slots=True)
class StatementItem:
    """A charge that is not a call, such as a deficit carried over from prepaid credits."""

    description: str
    amount: Money


@dataclass(frozen=True, slots=True)
class Statement:
    tenant_id: str
    period: str
    currency: str
    status: str  # open | issued
    issued_at: datetime | None
    total: Money
    lines: tuple[StatementLine, ...]
    items: tuple[StatementItem, ...]


def change_billing_mode(rt: Runtime, who: Principal, tenant_id: str, *, mode: str) -> BillingMode:
    require_tenant(who, tenant_id, MANAGE_BILLING)
    if mode != "postpaid":
        raise ValidationError("only a move to post-paid is offered: mode must be 'postpaid'")
    now = rt.clock.now()
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            tenant = tenant_db.lock(conn, tenant_id)
            if tenant is None:
                raise NotFound(f"tenant {tenant_id} not found")
            if tenant.billing_mode != "prepaid":
                return BillingMode(tenant_id, tenant.billing_mode)
            settings = recharge.get(conn, tenant_id)
            if settings is not None and settings.policy.enabled:
                raise AutoRechargeOn("turn auto-recharge off first, or the balance would refill forever")
            balance = balance_of(conn, tenant, now)
            new_mode = "migrating" if balance > 0 else "postpaid"
            if balance < 0:
                _carry_deficit(conn, tenant_id, -balance, now)
            tenant_db.set_fields(conn, tenant_id, billing_mode=new_mode)
    return BillingMode(tenant_id, new_mode)


def period_of(instant: datetime, zone: str) -> str:
    return instant.astimezone(ZoneInfo(zone)).strftime("%Y-%m")


def period_bounds(period: str, zone: str) -> tuple[datetime, datetime]:
    try:
        year, month = int(period[:4]), int(period[5:7])
        if len(period) != 7 or period[4] != "-" or not period.isascii() \
                or not (period[:4] + period[5:]).isdigit() \
                or not 1 <= month <= 12 or not 1900 <= year <= 9998:
            raise ValueError
    except ValueError:
        raise ValidationError("period must look like YYYY-MM, a month of the years 1900 to 9998") from None
    tz = ZoneInfo(zone)
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    return start, end


def _carry_deficit(conn: Connection, tenant_id: str, deficit: int, now: datetime) -> None:
    tenant = tenant_db.get(conn, tenant_id)
    assert tenant is not None
    entry = Entry("adjustment", (Posting("deficit", deficit), Posting("adjustments", -deficit)),
                  "deficit moved to the post-paid statement")
    ledger.post(conn, tenant_id=tenant_id, entry=entry, now=now, balance_after=balance_of(conn, tenant, now) + deficit)
    conn.execute(statement_items.insert().values(
        id=new_id(), tenant_id=tenant_id, period=period_of(now, tenant.timezone),
        description="deficit carried over from prepaid credits", amount=deficit, created_at=now))


def statement(rt: Runtime, who: Principal, tenant_id: str, *, period: str | None) -> Statement:
    require_tenant(who, tenant_id, VIEW_BILLING)
    now = rt.clock.now()
    with read_tx(rt.engine) as conn:
        tenant = tenant_db.get(conn, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        period = period or period_of(now, tenant.timezone)
        start, end = period_bounds(period, tenant.timezone)
        lines = conn.execute(
            select(call_records.c.capability, call_records.c.category, func.count(),
                   func.sum(call_records.c.duration_s), func.sum(call_records.c.postpaid_charge))
            .where(call_records.c.tenant_id == tenant_id, call_records.c.postpaid_charge != 0,
                   call_records.c.started_at >= start, call_records.c.started_at < end)
            .group_by(call_records.c.capability, call_records.c.category)
            .order_by(call_records.c.category)
        ).all()
        items = conn.execute(select(statement_items.c.description, statement_items.c.amount)
                             .where(statement_items.c.tenant_id == tenant_id, statement_items.c.period == period)
                             .order_by(statement_items.c.created_at)).all()
    currency = tenant.currency
    total = sum(int(line[4]) for line in lines) + sum(int(i[1]) for i in items)
    return Statement(
        tenant_id=tenant_id, period=period, currency=currency, status="issued" if end <= now else "open",
        issued_at=end if end <= now else None, total=Money(total, currency),
        lines=tuple(StatementLine(cat, cap, int(n), int(sec or 0), Money(int(amount), currency))
                    for cap, cat, n, sec, amount in lines),
        items=tuple(StatementItem(d, Money(int(a), currency)) for d, a in items),
    )


def _payload(stmt: Statement, *, max_lines: int) -> dict[str, Any]:
    """The `statement_issued` event's payload: the statement as JSON, its first lines only."""
    return {
        "tenant_id": stmt.tenant_id, "period": stmt.period, "currency": stmt.currency, "status": stmt.status,
        "issued_at": None if stmt.issued_at is None else iso(stmt.issued_at), "total": stmt.total.text,
        "lines": [{"category": x.category, "capability": x.capability, "calls": x.calls, "seconds": x.seconds,
                   "amount": x.amount.text} for x in stmt.lines[:max_lines]],
        "items": [{"description": i.description, "amount": i.amount.text} for i in stmt.items],
    }


def issue_statements(rt: Runtime, now: datetime) -> int:
    """Tell admins of post-paid tenants about last month's statement (once per month)."""
    told = 0
    with read_tx(rt.engine) as conn:
        rows = conn.execute(select(tenants_table.c.id, tenants_table.c.timezone)
                            .where(tenants_table.c.billing_mode.in_(("postpaid", "migrating")))).all()
    for tenant_id, zone in rows:
        local = now.astimezone(ZoneInfo(zone))
        previous = f"{local.year - (local.month == 1)}-{(local.month - 2) % 12 + 1:02d}"
        stmt = statement(rt, OPERATOR, tenant_id, period=previous)
        if not stmt.lines and not stmt.items:
            continue
        for tx in unit_of_work(rt.engine):
            with tx as conn:
                done = enqueue(conn, tenant_id=tenant_id, event="statement_issued", now=now,
                               dedupe_key=f"statement:{previous}", payload=_payload(stmt, max_lines=20))
        told += done is not None
    return told


def next_month_start(rt: Runtime, after: datetime) -> datetime | None:
    """The next local month start of any post-paid tenant (for the sandbox clock)."""
    with read_tx(rt.engine) as conn:
        zones = conn.execute(select(tenants_table.c.timezone).distinct()
                             .where(tenants_table.c.billing_mode.in_(("postpaid", "migrating")))).scalars().all()
    starts = []
    for zone in zones:
        local = after.astimezone(ZoneInfo(zone))
        starts.append(datetime(local.year + local.month // 12, local.month % 12 + 1, 1, tzinfo=ZoneInfo(zone)))
    return min(starts, default=None)

