"""Re-rating: price a period's calls again with the decks now in force and write the
differences as new journal transactions (never an edit of the old ones).

Each call keeps the pool minutes it drew; only the money part is priced again, the same way
charging priced it (price(duration) - price(covered seconds)). Per tenant, the net
difference of its prepaid calls becomes one transaction: a `usage` debit when the corrected
deck charges more, a `refund` when it charges less (the refund pays any deficit first, then
lands in a new lot that expires 12 months later like a purchase). Post-paid calls move their
statement amount. The records show the corrected charge, so running the same re-rating
again changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ...db import tenants as tenant_db
from ...db import usage
from ...db.engine import read_tx, unit_of_work
from ...db.schema import tenants as tenants_table
from ...domain.lots import expiry_for
from ...domain.money import Money
from ...domain.rating import NoRate, RatingIndex, price_call
from ...errors import NotFound, ValidationError
from ..access.principal import Principal, require_operator
from ..ledger.ledger_ops import credit_new_lot, debit_usage
from ..runtime import Runtime
from .rating import rating_index


@dataclass(frozen=True, slots=True)
class TenantRerate:
    """One tenant's re-rating: its calls in the period (`records`, free calls and calls
    without a category left out), how many changed price, how many found no rate now, and
    the net differences written (positive: charged more)."""

    tenant_id: str
    records: int
    changed: int
    unrated: int
    credits_difference: Money
    postpaid_difference: Money


@dataclass(frozen=True, slots=True)
class RerateReport:
    """The period [start, end) as asked, and each tenant that had calls in it."""

    start: datetime
    end: datetime
    tenants: tuple[TenantRerate, ...]


def rerate(
    rt: Runtime, who: Principal, *, start: datetime, end: datetime, tenant_id: str | None = None
) -> RerateReport:
    require_operator(who)
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise ValidationError("give an aware from < to, e.g. from=2026-01-01T00:00:00Z")
    with read_tx(rt.engine) as conn:
        if tenant_id is not None:
            if tenant_db.get(conn, tenant_id) is None:
                raise NotFound(f"tenant {tenant_id} not found")
            ids = [tenant_id]
        else:
            ids = list(conn.execute(select(tenants_table.c.id).order_by(tenants_table.c.id)).scalars())
    index = rating_index(rt)
    report = [_rerate_tenant(rt, index, tid, start, end) for tid in ids]
    return RerateReport(start, end, tuple(r for r in report if r.records))


def _rerate_tenant(rt: Runtime, index: RatingIndex, tenant_id: str, start: datetime, end: datetime) -> TenantRerate:
    now = rt.clock.now()
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            changed, unrated, net_credits, net_postpaid = 0, 0, 0, 0  # counted afresh by each try
            tenant = tenant_db.lock(conn, tenant_id)
            assert tenant is not None
            records = [
                r for r in usage.records_between(conn, tenant_id, start, end)
                if r["category"] and r["funding"] != "free"
            ]
            for rec in records:
                try:
                    new_charge = _price_again(index, tenant.rating_key, tenant.currency, tenant_id, rec)
                except NoRate:
                    unrated += 1
                    continue
                diff = new_charge - rec["charge"]
                if diff == 0:
                    continue
                changed += 1
                credits, postpaid = rec["credits_charge"], rec["postpaid_charge"]
                if postpaid or (not credits and rec["funding"] == "postpaid"):
                    to_postpaid = max(diff, -postpaid)  # never below zero; the rest comes off credits
                    postpaid += to_postpaid
                    net_postpaid += to_postpaid
                    diff -= to_postpaid
                credits += diff
                net_credits += diff
                note = json.dumps({"rerated_at": now.isoformat(), "previous_charge": rec["charge"]})
                usage.update_record_charge(
                    conn, rec["id"], charge=new_charge, credits=credits, postpaid=postpaid, rating=note
                )
            reference = f"re-rating {start.date()}..{end.date()}: {changed} call(s)"
            if net_credits > 0:
                debit_usage(conn, tenant, amount=net_credits, now=now, reference=reference)
            elif net_credits < 0:
                credit_new_lot(
                    conn,
                    tenant,
                    type_="refund",
                    source_account="revenue",
                    lot_source="refund",
                    amount=-net_credits,
                    now=now,
                    expires_at=expiry_for(now),
                    reference=reference,
                )
    assert tenant is not None  # the loop ends only after a try that completed
    return TenantRerate(tenant_id, len(records), changed, unrated,
                        Money(net_credits, tenant.currency), Money(net_postpaid, tenant.currency))


def _price_again(index: RatingIndex, key: str, currency: str, tenant_id: str, rec: dict[str, Any]) -> int:
    duration = rec["duration_s"]
    covered = min(duration, rec["pool_minutes"] * 60)
    if covered >= duration:
        return 0

    def price(seconds: int) -> int:
        return price_call(
            index,
            rating_key=key,
            category=rec["category"],
            subject=tenant_id,
            number=rec["callee"],
            started_at=rec["started_at"],
            duration_s=seconds,
            currency=currency,
        ).charge_micros

    return price(duration) - (price(covered) if covered else 0)
