"""`commcredits audit`: recompute every tenant's figures from the raw journal and check
every ledger invariant (domain/invariants.py). Reads tenant by tenant, so memory stays
bounded by the largest tenant."""

from __future__ import annotations

from sqlalchemy import select

from ...db import reservations
from ...db.engine import read_tx
from ...db.schema import lots, postings, tenants, transactions
from ...domain import invariants as inv
from ..runtime import Runtime


def audit(rt: Runtime) -> tuple[int, list[str]]:
    """Return (number of tenants checked, violations)."""
    violations: list[str] = []
    with read_tx(rt.engine) as conn:
        tenant_rows = conn.execute(
            select(tenants.c.id, tenants.c.deficit, tenants.c.reserved).order_by(tenants.c.id)).all()
        held = reservations.reserved_sums(conn)
        for tenant_id, deficit, reserved in tenant_rows:
            if reserved != held.get(tenant_id, 0):
                violations.append(f"tenant {tenant_id}: reserved {reserved} but active reservations hold "
                                  f"{held.get(tenant_id, 0)}")
            facts = [
                inv.PostingFact(*row)
                for row in conn.execute(
                    select(postings.c.transaction_id, postings.c.tenant_id, transactions.c.type,
                           transactions.c.created_at, postings.c.account, postings.c.lot_id,
                           postings.c.amount)
                    .join(transactions, transactions.c.id == postings.c.transaction_id)
                    .where(postings.c.tenant_id == tenant_id)
                )
            ]
            lot_facts = [
                inv.LotFact(*row)
                for row in conn.execute(
                    select(lots.c.id, lots.c.tenant_id, lots.c.amount, lots.c.remaining,
                           lots.c.expires_at).where(lots.c.tenant_id == tenant_id)
                )
            ]
            violations += inv.postings_balance(facts)
            violations += inv.lots_within_bounds(lot_facts)
            violations += inv.lots_match_postings(lot_facts, facts)
            violations += inv.deficits_match_postings({tenant_id: deficit}, facts)
            violations += inv.no_use_after_expiry(lot_facts, facts)
        orphans = conn.execute(
            select(transactions.c.id).where(
                ~transactions.c.id.in_(select(postings.c.transaction_id))
            )
        ).scalars().all()
        violations += [f"transaction {t}: has no postings" for t in orphans]
    return len(tenant_rows), violations
