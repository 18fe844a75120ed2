"""Charging an amount of usage to a tenant's credits (the ledger half of call charging).

Rating and funding decisions (who pays, pools, licenses) come before this; here a priced
amount is drawn from the lots first-to-expire first, and whatever they cannot cover becomes
a deficit: usage is never dropped because money is short. Idempotent on `reference_id`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...db import ledger, tenants
from ...db.engine import unit_of_work
from ...errors import NotFound, ValidationError
from ..ledger.ledger_ops import debit_usage
from ..runtime import Runtime


@dataclass(frozen=True, slots=True)
class Charged:
    transaction_id: int
    amount: int
    balance_after: int
    duplicate: bool


def charge_usage(rt: Runtime, tenant_id: str, *, amount: int, reference_id: str) -> Charged:
    if amount < 0:
        raise ValidationError("a usage charge cannot be negative")
    if not reference_id:
        raise ValidationError("a usage charge needs a reference id")
    key = f"usage:{reference_id}"
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            tenant = tenants.lock(conn, tenant_id)
            if tenant is None:
                raise NotFound(f"tenant {tenant_id} not found")
            seen = ledger.transaction_by_key(conn, tenant_id, key)
            if seen is not None:
                return Charged(seen.id, -seen.amount, seen.balance_after, True)
            txn_id, balance = debit_usage(
                conn, tenant, amount=amount, now=rt.clock.now(), reference=reference_id,
                idempotency_key=key,
            )
    return Charged(txn_id, amount, balance, False)
