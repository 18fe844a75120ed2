"""The auto-recharge engine: decide, charge outside any transaction, record the outcome.

`check(rt, tenant_id)` is called after every change of a tenant's balance (through
`balance_events.balance_changed`), after settings or cards are saved, and by the jobs at a
retry instant. It runs the three steps of every card charge (DESIGN.md):

1. one transaction, tenant row locked: load the policy and the balance, ask the domain how
   much is due; if anything is, write a `pending` payment attempt (kind `auto_recharge`)
   and mark it in flight on the tenant's `auto_recharge` row. A second caller waits for the
   lock, then sees the mark and does nothing: at most one recharge in flight, enforced again
   by the database (a partial unique index on pending auto-recharge attempts).
2. the gateway call, with the attempt id as idempotency key;
3. one transaction: the lot (source `auto_recharge`), its journal transaction, the receipt,
   the attempt's outcome, the policy's new state, the outbox rows, and the mark cleared.

If the gateway gives no answer the attempt stays pending and in flight; `recover` (a job)
re-drives every attempt pending for more than a minute with the same id, so the gateway
returns its first result and the lot is written once. Usage that arrives while a charge is
in flight is looked at again as soon as the charge succeeds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from ...db import payments, tenants
from ...db import recharge as recharge_db
from ...db import spend_controls as spend_db
from ...db.engine import read_tx, run_write
from ...db.payments import Attempt
from ...db.rows import new_id
from ...db.tenants import Tenant
from ...domain.lots import expiry_for
from ...domain.money import Money
from ...domain.purchases import TenantFacts, purchase_refusal
from ...domain.recharge import (
    STALE_PENDING,
    VELOCITY_LIMIT,
    AutoRechargePolicy,
    after_failure,
    after_success,
    charge_due,
    retry_not_needed,
    suspend_for_velocity,
)
from ...domain.spend_controls import velocity_exceeded
from ...formatting import iso
from ...notify import outbox
from ...payments.gateway import ChargeResult, GatewayUnavailable
from ..ledger import funds, receipts
from ..ledger.ledger_ops import balance_of, credit_new_lot
from ..runtime import Runtime

log = logging.getLogger("commcredits.auto_recharge")


@dataclass(frozen=True, slots=True)
class Charge:
    """A decided recharge: the attempt and what the gateway needs to charge it."""

    attempt: Attempt
    card_ref: str
    currency: str


def check(rt: Runtime, tenant_id: str) -> str | None:
    """Charge the tenant's card if its auto-recharge is due; return the attempt id charged."""
    with read_tx(rt.engine) as conn:  # the common case (off, suspended, in flight) takes no lock
        row = recharge_db.get(conn, tenant_id)
    if row is None or row.policy.status in ("off", "suspended") or row.in_flight_attempt_id is not None:
        return None
    charge = run_write(rt.engine, _decide, rt, tenant_id)
    if charge is None:
        return None
    if drive(rt, charge):
        check(rt, tenant_id)  # usage that came while the charge was in flight
    return str(charge.attempt.id)


def _decide(conn: Connection, rt: Runtime, tenant_id: str) -> Charge | None:
    tenant = tenants.lock(conn, tenant_id)
    row = recharge_db.get(conn, tenant_id)
    if tenant is None or row is None or row.in_flight_attempt_id is not None:
        return None
    now = rt.clock.now()
    balance = balance_of(conn, tenant, now)
    policy = retry_not_needed(row.policy, balance, now)
    if policy != row.policy:
        recharge_db.save_policy(conn, tenant_id, policy, now)
    amount = charge_due(policy, balance, now)
    if amount == 0:
        return None
    facts = TenantFacts(tenant.country, tenant.billing_country, tenant.billing_mode,
                        tenant.purchase_mitigation, tenant.partner_funded)
    if purchase_refusal(facts, rt.settings.blocked_countries) is not None:
        return None  # purchase restrictions apply to recharges too
    card = payments.get_method(conn, tenant_id, policy.payment_method_id)
    if card is None:
        return None  # removal of the recharge's card is refused; nothing to charge anyway
    if _too_fast(conn, tenant, policy, amount, card.id, now):
        return None
    attempt_id = new_id()
    attempt = Attempt(
        id=attempt_id, tenant_id=tenant_id, kind="auto_recharge", amount=amount,
        payment_method_id=card.id, status="pending", error_code=None, gateway_ref=None,
        transaction_id=None, idempotency_key=attempt_id, created_at=now, completed_at=None,
    )
    payments.insert_attempt(conn, attempt)
    recharge_db.set_in_flight(conn, tenant_id, attempt_id)
    return Charge(attempt, card.gateway_ref, tenant.currency)


def _too_fast(conn: Connection, tenant: Tenant, policy: AutoRechargePolicy, amount: int, card_id: str,
              now: datetime) -> bool:
    """The velocity guard: after `max_auto_recharges_per_day` successful recharges in 24
    hours, the due one is not charged; the recharge is suspended (reason `velocity_limit`,
    recorded as a failed attempt that never reached the gateway) and the admins are told."""
    limit = spend_db.get_controls(conn, tenant.id).max_auto_recharges_per_day
    done = spend_db.recharge_successes(conn, tenant.id, now)
    if not velocity_exceeded(done, limit):
        return False
    attempt = Attempt(
        id=new_id(), tenant_id=tenant.id, kind="auto_recharge", amount=amount, payment_method_id=card_id,
        status="failed", error_code=VELOCITY_LIMIT, gateway_ref=None, transaction_id=None,
        idempotency_key=new_id(), created_at=now, completed_at=now,
    )
    payments.insert_attempt(conn, attempt)
    recharge_db.set_in_flight(conn, tenant.id, attempt.id)  # records it as the last attempt
    recharge_db.set_in_flight(conn, tenant.id, None)
    recharge_db.save_policy(conn, tenant.id, suspend_for_velocity(policy), now)
    currency = tenant.currency
    outbox.enqueue(conn, tenant_id=tenant.id, event="auto_recharge_suspended", now=now, payload={
        "attempt_id": attempt.id, "amount": Money(amount, currency).text, "currency": currency,
        "reason": VELOCITY_LIMIT, "balance": Money(balance_of(conn, tenant, now), currency).text,
        "recharges_in_24h": done, "limit": limit, "hard_decline": False})
    return True


def drive(rt: Runtime, charge: Charge) -> bool:
    """Step 2 and 3. True when the charge succeeded and was recorded now."""
    attempt = charge.attempt
    try:
        result = rt.gateway.charge(card_ref=charge.card_ref, amount_micros=attempt.amount,
                                   currency=charge.currency, idempotency_key=attempt.id)
    except GatewayUnavailable as exc:
        log.warning("auto-recharge %s for tenant %s: %s; re-driven by the jobs", attempt.id,
                    attempt.tenant_id, exc)
        return False
    recorded = run_write(rt.engine, record, rt, attempt.id, result)
    return bool(recorded and result.succeeded)


def record(conn: Connection, rt: Runtime, attempt_id: str, result: ChargeResult) -> bool:
    """Record a charge's outcome once; False if it was recorded before."""
    found = payments.get_attempt(conn, attempt_id)
    assert found is not None
    tenant = tenants.lock(conn, found.tenant_id)
    attempt = payments.get_attempt(conn, attempt_id)  # re-read under the lock
    row = recharge_db.get(conn, found.tenant_id)
    assert tenant is not None and attempt is not None and row is not None
    if attempt.status != "pending":
        return False
    now = rt.clock.now()
    card = payments.method_any(conn, attempt.payment_method_id)
    assert card is not None
    currency = tenant.currency
    amount = Money(attempt.amount, currency).text
    base = {"attempt_id": attempt.id, "amount": amount, "currency": tenant.currency,
            "payment_method": f"{card.brand} ****{card.last4}", "payment_method_id": card.id}
    if result.succeeded:
        txn_id, _, balance = credit_new_lot(
            conn, tenant, type_="auto_recharge", source_account="gateway", lot_source="auto_recharge",
            amount=attempt.amount, now=now, expires_at=expiry_for(now),
            reference=f"auto-recharge card {card.brand} ****{card.last4} charge {result.charge_ref}",
            idempotency_key=f"auto_recharge:{attempt.id}",
        )
        payments.complete_attempt(conn, attempt.id, status="succeeded", now=now,
                                  gateway_ref=result.charge_ref, transaction_id=txn_id)
        receipt = receipts.issue(conn, tenant=tenant, attempt=attempt, card=card, transaction_id=txn_id,
                                 charge_ref=result.charge_ref or "", now=now)
        policy = after_success(row.policy)
        outbox.enqueue(conn, tenant_id=tenant.id, event="auto_recharge_succeeded", now=now, payload={
            **base, "balance": Money(balance, currency).text, "receipt_id": receipt.id,
            "receipt_number": receipt.number, "transaction_id": str(txn_id)})
    else:
        payments.complete_attempt(conn, attempt.id, status="failed", now=now, error_code=result.error_code)
        failure = after_failure(row.policy, result.error_code, now)
        policy = failure.policy
        retry_at = policy.next_retry_at
        base["balance"] = Money(balance_of(conn, tenant, now), currency).text
        outbox.enqueue(conn, tenant_id=tenant.id, event="auto_recharge_failed", now=now, payload={
            **base, "reason": result.error_code or "card_declined", "message": result.message,
            "next_retry_at": iso(retry_at) if retry_at else None,
            "suspended": failure.suspended, "failures": policy.failures})
        if failure.suspended:
            outbox.enqueue(conn, tenant_id=tenant.id, event="auto_recharge_suspended", now=now, payload={
                **base, "reason": result.error_code or "card_declined", "attempts": policy.failures,
                "hard_decline": failure.hard})
    recharge_db.save_policy(conn, tenant.id, policy, now)
    if row.in_flight_attempt_id == attempt.id:
        recharge_db.set_in_flight(conn, tenant.id, None)
    return True


def recover(rt: Runtime, now: datetime) -> int:
    """Re-drive every payment attempt pending for more than a minute (a crash or a lost reply
    between the gateway call and step 3), with its own id; return how many were settled."""
    with read_tx(rt.engine) as conn:
        stale = recharge_db.stale_pending(conn, now - STALE_PENDING)
    settled = 0
    for attempt in stale:
        if attempt.kind == "purchase":
            settled += int(funds.recover_purchase(rt, attempt))
            continue
        with read_tx(rt.engine) as conn:
            card = payments.method_any(conn, attempt.payment_method_id)
            tenant = tenants.get(conn, attempt.tenant_id)
        assert card is not None and tenant is not None
        succeeded = drive(rt, Charge(attempt, card.gateway_ref, tenant.currency))
        settled += _settled(rt, attempt.id)
        if succeeded:
            check(rt, attempt.tenant_id)
    return settled


def _settled(rt: Runtime, attempt_id: str) -> int:
    with read_tx(rt.engine) as conn:
        attempt = payments.get_attempt(conn, attempt_id)
    return int(attempt is not None and attempt.status != "pending")


def run_retries(rt: Runtime, now: datetime) -> int:
    """Run every retry whose instant has come; return how many tenants were looked at."""
    with read_tx(rt.engine) as conn:
        due = recharge_db.due_retries(conn, now)
    for tenant_id in due:
        check(rt, tenant_id)
    return len(due)


def next_due(rt: Runtime, after: datetime) -> datetime | None:
    """The next instant after `after` at which a retry falls due or a pending attempt turns
    stale (for the sandbox clock's walk through time)."""
    with read_tx(rt.engine) as conn:
        retry = recharge_db.next_retry(conn, after)
        pending = recharge_db.pending_created_after(conn, after - STALE_PENDING)
    stale = pending + STALE_PENDING if pending else None
    candidates = [t for t in (retry, stale) if t is not None and t > after]
    return min(candidates) if candidates else None
