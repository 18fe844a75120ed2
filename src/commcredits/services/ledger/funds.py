"""Adding funds by card, and operator grants.

A card purchase runs in three steps so that no crash can lose or double a charge:
1. one transaction validates the request and writes a `pending` payment attempt keyed by the
   request's Idempotency-Key;
2. the gateway is called outside any transaction, with the attempt id as its idempotency key;
3. one transaction records the outcome: the lot, its journal entry, the attempt's status and
   the stored response, together.
A replay of the key after step 1 or 2 repeats the gateway call with the same attempt id (the
gateway returns the first result) and completes step 3 once; a replay after step 3 returns
the stored response. The same key with another body is `409 idempotency_conflict`.
If the gateway does not answer, the request fails with `processing_error` and the attempt
stays pending; a replay, or the recovery job a minute later (`recover_purchase`), asks the
gateway again with the same attempt id. A successful purchase issues a receipt in step 3.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from ...db import idempotency, ledger, payments, tenants
from ...db import receipts as receipt_db
from ...db.engine import read_tx, write_tx
from ...db.payments import Attempt
from ...db.rows import new_id
from ...db.tenants import Tenant
from ...domain.access import MANAGE_BILLING
from ...domain.lots import expiry_for
from ...domain.money import MoneyError, format_micros, minor_units, parse_micros
from ...domain.purchases import TenantFacts, limit_violation, purchase_refusal
from ...errors import (
    AboveMaximum,
    BelowMinimum,
    IdempotencyConflict,
    NotFound,
    PaymentFailed,
    PurchaseNotAllowed,
    ValidationError,
)
from ...payments.gateway import ChargeResult, GatewayUnavailable
from ..access.principal import Principal, require_operator, require_tenant
from ..runtime import Runtime
from . import receipts
from .ledger_ops import credit_new_lot


def parse_amount(text: Any, currency: str, *, purchase: bool, field: str = "amount") -> int:
    """A money string of the API (domain/money.py grammar) as micros, else `ValidationError`
    naming the field. With `purchase` (every amount a person types: purchases, grants,
    auto-recharge settings) only the currency's minor-unit decimals; else up to 6."""
    try:
        return parse_micros(text, max_decimals=minor_units(currency) if purchase else 6)
    except MoneyError as exc:
        raise ValidationError(f"{field}: {exc} ({currency})") from None


def add_funds(
    rt: Runtime, who: Principal, tenant_id: str, *, amount: Any, payment_method_id: str,
    idempotency_key: str,
) -> tuple[int, dict[str, Any]]:
    """Buy credit with a saved card. Returns (HTTP status, response body)."""
    require_tenant(who, tenant_id, MANAGE_BILLING)
    if not idempotency_key:
        raise ValidationError("an Idempotency-Key header is required to add funds")
    scope = f"funds:{tenant_id}"
    req_hash = idempotency.request_hash({"amount": amount, "payment_method_id": payment_method_id})
    with write_tx(rt.engine) as conn:
        if tenants.lock(conn, tenant_id) is None:  # serialises requests carrying the same key
            raise NotFound(f"tenant {tenant_id} not found")
        stored = _replay(conn, scope, idempotency_key, req_hash)
        if stored:
            return stored
        attempt = payments.attempt_by_key(conn, tenant_id, "purchase", idempotency_key)
        if attempt is None:
            attempt = _start_attempt(rt, conn, tenant_id, amount, payment_method_id, idempotency_key)
        pm = payments.method_any(conn, attempt.payment_method_id)
        tenant = tenants.get(conn, tenant_id)
    if pm is None or tenant is None:
        raise NotFound(f"payment method {payment_method_id} not found")
    result = None if attempt.status != "pending" else \
        _charge_or_pending(rt, attempt, pm.gateway_ref, tenant.currency)
    with write_tx(rt.engine) as conn:
        tenant = tenants.lock(conn, tenant_id)
        assert tenant is not None
        stored = _replay(conn, scope, idempotency_key, req_hash)
        if stored:  # a concurrent replay of this key completed it first
            return stored
        status, body = settle_purchase(conn, rt, tenant, attempt.id, result)
        idempotency.save(conn, scope=scope, key=idempotency_key, req_hash=req_hash,
                         status_code=status, body=body, now=rt.clock.now())
    return status, body


def _charge_or_pending(rt: Runtime, attempt: Attempt, card_ref: str, currency: str) -> ChargeResult:
    """Charge once per attempt id. No answer leaves the attempt pending: the client repeats
    the request with the same Idempotency-Key (or the recovery job re-drives it) and the
    gateway returns its first result, so nothing is charged twice."""
    try:
        return rt.gateway.charge(card_ref=card_ref, amount_micros=attempt.amount, currency=currency,
                                 idempotency_key=attempt.id)
    except GatewayUnavailable:
        raise PaymentFailed(
            "the payment gateway did not answer; repeat the request with the same Idempotency-Key "
            "to finish it (you will not be charged twice)", code="processing_error",
            attempt_id=attempt.id, retryable=True,
        ) from None


def settle_purchase(
    conn: Connection, rt: Runtime, tenant: Tenant, attempt_id: str, result: ChargeResult | None,
) -> tuple[int, dict[str, Any]]:
    """Record a purchase attempt's outcome once (tenant locked), or describe the outcome
    recorded before (by the recovery job, or a concurrent replay). `result` may be None only
    for an attempt that is no longer pending."""
    attempt = payments.get_attempt(conn, attempt_id)
    assert attempt is not None
    if attempt.status == "succeeded":
        assert attempt.transaction_id is not None
        txn = ledger.transaction_by_key(conn, tenant.id, f"purchase:{attempt.id}")
        lot = payments.credited_lot(conn, attempt.transaction_id)
        receipt = receipt_db.by_transaction(conn, attempt.transaction_id)
        assert txn is not None and lot is not None
        return 201, _purchase_body(tenant.currency, txn.id, lot[0], attempt.amount, txn.balance_after,
                                   lot[1], receipt.id if receipt else None)
    if attempt.status == "failed":
        failure = PaymentFailed(_DECLINED.get(attempt.error_code or "", "the card was declined"),
                                code=attempt.error_code or "card_declined")
        return failure.status, problem_body(failure)
    assert result is not None
    now = rt.clock.now()
    pm = payments.method_any(conn, attempt.payment_method_id)
    assert pm is not None
    if not result.succeeded:
        payments.complete_attempt(conn, attempt.id, status="failed", now=now, error_code=result.error_code)
        failure = PaymentFailed(result.message or "the card was declined",
                                code=result.error_code or "card_declined")
        return failure.status, problem_body(failure)
    txn_id, lot_id, balance = credit_new_lot(
        conn, tenant, type_="purchase", source_account="gateway", lot_source="purchase",
        amount=attempt.amount, now=now, expires_at=expiry_for(now),
        reference=f"card {pm.brand} ****{pm.last4} charge {result.charge_ref}",
        idempotency_key=f"purchase:{attempt.id}",
    )
    payments.complete_attempt(conn, attempt.id, status="succeeded", now=now,
                              gateway_ref=result.charge_ref, transaction_id=txn_id)
    receipt = receipts.issue(conn, tenant=tenant, attempt=attempt, card=pm, transaction_id=txn_id,
                             charge_ref=result.charge_ref or "", now=now)
    return 201, _purchase_body(tenant.currency, txn_id, lot_id, attempt.amount, balance,
                               expiry_for(now), receipt.id)


def recover_purchase(rt: Runtime, attempt: Attempt) -> bool:
    """Re-drive a purchase attempt left pending (crash or lost reply) with the same key and
    record its outcome; a later replay of the client's key returns it. False if the
    gateway still does not answer."""
    with read_tx(rt.engine) as conn:
        pm = payments.method_any(conn, attempt.payment_method_id)
        tenant = tenants.get(conn, attempt.tenant_id)
    assert pm is not None and tenant is not None
    try:
        result = rt.gateway.charge(card_ref=pm.gateway_ref, amount_micros=attempt.amount,
                                   currency=tenant.currency, idempotency_key=attempt.id)
    except GatewayUnavailable:
        return False
    with write_tx(rt.engine) as conn:
        locked = tenants.lock(conn, attempt.tenant_id)
        assert locked is not None
        settle_purchase(conn, rt, locked, attempt.id, result)
    return True


_DECLINED = {
    "card_declined": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "processing_error": "An error occurred while processing your card. Try again later.",
}


def _replay(conn: Any, scope: str, key: str, req_hash: str) -> tuple[int, dict[str, Any]] | None:
    stored = idempotency.find(conn, scope, key)
    if stored is None:
        return None
    if stored.request_hash != req_hash:
        raise IdempotencyConflict(f"Idempotency-Key {key!r} was used with a different request")
    return stored.status_code, stored.body


def _start_attempt(
    rt: Runtime, conn: Any, tenant_id: str, amount: Any, pm_id: str, key: str
) -> Attempt:
    tenant = tenants.get(conn, tenant_id)
    assert tenant is not None
    micros = parse_amount(amount, tenant.currency, purchase=True)
    violation = limit_violation(micros, tenant.currency, rt.purchase_limits(tenant.currency, conn))
    if violation:
        code, message = violation.split(":", 1)
        raise (BelowMinimum if code == "below_minimum" else AboveMaximum)(message)
    refusal = purchase_refusal(
        TenantFacts(tenant.country, tenant.billing_country, tenant.billing_mode,
                    tenant.purchase_mitigation, tenant.partner_funded),
        rt.settings.blocked_countries,
    )
    if refusal:
        raise PurchaseNotAllowed(refusal.detail, reason=refusal.reason)
    if payments.get_method(conn, tenant_id, pm_id) is None:
        raise NotFound(f"payment method {pm_id} not found")
    attempt = Attempt(
        id=new_id(), tenant_id=tenant_id, kind="purchase", amount=micros, payment_method_id=pm_id,
        status="pending", error_code=None, gateway_ref=None, transaction_id=None,
        idempotency_key=key, created_at=rt.clock.now(), completed_at=None,
    )
    payments.insert_attempt(conn, attempt)
    return attempt


def problem_body(exc: Any) -> dict[str, Any]:
    body = {"type": f"https://commcredits.dev/problems/{exc.code}", "title": exc.title,
            "status": exc.status, "detail": exc.detail, "code": exc.code}
    body.update(exc.extra)
    return body


def _purchase_body(
    currency: str, txn_id: int, lot_id: str, amount: int, balance: int, expires_at: datetime,
    receipt_id: str | None = None,
) -> dict[str, Any]:
    digits = minor_units(currency)
    body = {
        "transaction_id": str(txn_id), "lot_id": lot_id, "currency": currency,
        "amount": format_micros(amount, digits), "balance": format_micros(balance, digits),
        "expires_at": iso(expires_at),
    }
    if receipt_id is not None:
        body["receipt_id"] = receipt_id
    return body


def iso(instant: datetime) -> str:
    """ISO 8601 in UTC with a Z, whatever zone the instant carries."""
    instant = instant.astimezone(UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ") if instant.microsecond == 0 else \
        instant.isoformat().replace("+00:00", "Z")


def grant_credit(
    rt: Runtime, who: Principal, tenant_id: str, *, amount: Any, expires_at: datetime,
    reason: str, idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Operator credit (goodwill, promotion): a lot with its own expiry."""
    require_operator(who)
    if not reason or not reason.strip():
        raise ValidationError("a grant needs a reason")
    with write_tx(rt.engine) as conn:
        tenant = tenants.lock(conn, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        micros = parse_amount(amount, tenant.currency, purchase=True)  # the currency's decimals (API.md)
        if micros <= 0:
            raise ValidationError("a grant's amount must be positive")
        now = rt.clock.now()
        if expires_at.tzinfo is None or expires_at <= now:
            raise ValidationError("expires_at must be a future instant with a time zone")
        scope = f"grants:{tenant_id}"
        req_hash = idempotency.request_hash({"amount": amount, "expires_at": expires_at, "reason": reason})
        if idempotency_key:
            stored = _replay(conn, scope, idempotency_key, req_hash)
            if stored:
                return stored[1]
        txn_id, lot_id, balance = credit_new_lot(
            conn, tenant, type_="grant", source_account="grants", lot_source="grant",
            amount=micros, now=now, expires_at=expires_at, reference=reason.strip(),
        )
        body = _purchase_body(tenant.currency, txn_id, lot_id, micros, balance, expires_at)
        body["reason"] = reason.strip()
        if idempotency_key:
            idempotency.save(conn, scope=scope, key=idempotency_key, req_hash=req_hash,
                             status_code=201, body=body, now=now)
    return body


def read_tenant_currency(rt: Runtime, tenant_id: str) -> str:
    with read_tx(rt.engine) as conn:
        tenant = tenants.get(conn, tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} not found")
    return tenant.currency
