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

The use cases return a `Credit` (the lot added, its journal entry and the balance after, as
`Money`) or raise an error of the one tree; a card the gateway refused is `PaymentDeclined`,
raised after step 3 has committed its outcome. The stored response of a key keeps the
format it always had (HTTP status and JSON body, `_record`), so keys stored by any release
replay alike; `_replayed` reads it back into the same `Credit` or `PaymentDeclined`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from ...db import idempotency, ledger, payments, tenants
from ...db import receipts as receipt_db
from ...db.engine import read_tx, unit_of_work
from ...db.payments import Attempt
from ...db.rows import new_id
from ...db.tenants import Tenant
from ...domain.access import MANAGE_BILLING
from ...domain.lots import expiry_for
from ...domain.money import Money, MoneyError, minor_units, parse_micros
from ...domain.purchases import PurchaseLimits, TenantFacts, limit_breach, purchase_refusal
from ...errors import (
    AboveMaximum,
    BelowMinimum,
    IdempotencyConflict,
    NotFound,
    PaymentDeclined,
    PaymentFailed,
    PurchaseNotAllowed,
    ValidationError,
)
from ...formatting import iso
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


def check_limits(micros: int, currency: str, limits: PurchaseLimits, *, field: str | None = None) -> None:
    """`BelowMinimum` / `AboveMaximum` for an amount outside the purchase limits (the detail
    names `field` first when given: "amount: the minimum purchase is 50.00 USD")."""
    breach = limit_breach(micros, currency, limits)
    if breach is not None:
        detail = f"{field}: {breach.detail}" if field else breach.detail
        raise (BelowMinimum if breach.code == "below_minimum" else AboveMaximum)(detail)


@dataclass(frozen=True, slots=True)
class Credit:
    """A lot added to a tenant's balance: bought by card (with its receipt) or granted by the
    operator (with its reason); `balance` is the balance after it."""

    transaction_id: int
    lot_id: str
    amount: Money
    balance: Money
    expires_at: datetime
    receipt_id: str | None = None
    reason: str | None = None

    @property
    def currency(self) -> str:
        return self.amount.currency


def add_funds(
    rt: Runtime, who: Principal, tenant_id: str, *, amount: Any, payment_method_id: str,
    idempotency_key: str,
) -> Credit:
    """Buy credit with a saved card: the credited lot, or `PaymentDeclined` (raised once the
    declined outcome is recorded, so a replay of the key raises it again)."""
    require_tenant(who, tenant_id, MANAGE_BILLING)
    if not idempotency_key:
        raise ValidationError("an Idempotency-Key header is required to add funds")
    scope = f"funds:{tenant_id}"
    req_hash = idempotency.request_hash({"amount": amount, "payment_method_id": payment_method_id})
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            if tenants.lock(conn, tenant_id) is None:  # serialises requests carrying the same key
                raise NotFound(f"tenant {tenant_id} not found")
            stored = _replay(conn, scope, idempotency_key, req_hash)
            if stored:
                return _settled(stored)
            attempt = payments.attempt_by_key(conn, tenant_id, "purchase", idempotency_key)
            if attempt is None:
                attempt = _start_attempt(rt, conn, tenant_id, amount, payment_method_id, idempotency_key)
            pm = payments.method_any(conn, attempt.payment_method_id)
            tenant = tenants.get(conn, tenant_id)
    assert attempt is not None  # the loop ends only after a try that completed
    if pm is None or tenant is None:
        raise NotFound(f"payment method {payment_method_id} not found")
    result = None if attempt.status != "pending" else \
        _charge_or_pending(rt, attempt, pm.gateway_ref, tenant.currency)
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            tenant = tenants.lock(conn, tenant_id)
            assert tenant is not None
            stored = _replay(conn, scope, idempotency_key, req_hash)
            if stored:  # a concurrent replay of this key completed it first
                return _settled(stored)
            outcome = settle_purchase(conn, rt, tenant, attempt.id, result)
            status, body = _record(outcome)
            idempotency.save(conn, scope=scope, key=idempotency_key, req_hash=req_hash,
                             status_code=status, body=body, now=rt.clock.now())
    return _settled(outcome)  # a decline is raised after its record committed


def _settled(outcome: Credit | PaymentDeclined) -> Credit:
    if isinstance(outcome, PaymentDeclined):
        raise outcome
    return outcome


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
) -> Credit | PaymentDeclined:
    """Record a purchase attempt's outcome once (tenant locked), or describe the outcome
    recorded before (by the recovery job, or a concurrent replay): the credited lot, or the
    decline for the caller to raise after the commit. `result` may be None only for an
    attempt that is no longer pending."""
    attempt = payments.get_attempt(conn, attempt_id)
    assert attempt is not None
    if attempt.status == "succeeded":
        assert attempt.transaction_id is not None
        txn = ledger.transaction_by_key(conn, tenant.id, f"purchase:{attempt.id}")
        lot = payments.credited_lot(conn, attempt.transaction_id)
        receipt = receipt_db.by_transaction(conn, attempt.transaction_id)
        assert txn is not None and lot is not None
        return Credit(txn.id, lot[0], Money(attempt.amount, tenant.currency), Money(txn.balance_after, tenant.currency),
                      lot[1], receipt.id if receipt else None)
    if attempt.status == "failed":
        return PaymentDeclined(_DECLINED.get(attempt.error_code or "", "the card was declined"),
                               code=attempt.error_code or "card_declined")
    assert result is not None
    now = rt.clock.now()
    pm = payments.method_any(conn, attempt.payment_method_id)
    assert pm is not None
    if not result.succeeded:
        payments.complete_attempt(conn, attempt.id, status="failed", now=now, error_code=result.error_code)
        return PaymentDeclined(result.message or "the card was declined", code=result.error_code or "card_declined")
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
    return Credit(txn_id, lot_id, Money(attempt.amount, tenant.currency), Money(balance, tenant.currency),
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
    for tx in unit_of_work(rt.engine):
        with tx as conn:
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


def _replay(conn: Any, scope: str, key: str, req_hash: str) -> Credit | PaymentDeclined | None:
    stored = idempotency.find(conn, scope, key)
    if stored is None:
        return None
    if stored.request_hash != req_hash:
        raise IdempotencyConflict(f"Idempotency-Key {key!r} was used with a different request")
    return _replayed(stored.status_code, stored.body)


def _start_attempt(
    rt: Runtime, conn: Any, tenant_id: str, amount: Any, pm_id: str, key: str
) -> Attempt:
    tenant = tenants.get(conn, tenant_id)
    assert tenant is not None
    micros = parse_amount(amount, tenant.currency, purchase=True)
    check_limits(micros, tenant.currency, rt.purchase_limits(tenant.currency, conn))
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


_PROBLEM_KEYS = ("type", "title", "status", "detail", "code")


def _record(outcome: Credit | PaymentDeclined) -> tuple[int, dict[str, Any]]:
    """The stored response of an Idempotency-Key: HTTP status and JSON body, as keys have been
    stored since the first release (a problem body for a decline)."""
    if isinstance(outcome, PaymentDeclined):
        return outcome.status, outcome.problem()
    return 201, credit_json(outcome)


def credit_json(credit: Credit) -> dict[str, Any]:
    """A credit as JSON: what an Idempotency-Key stores, and what the edges answer
    (views/ledger.py), so a replay answers exactly as the first request did."""
    out: dict[str, Any] = {
        "transaction_id": str(credit.transaction_id), "lot_id": credit.lot_id, "currency": credit.currency,
        "amount": credit.amount.text, "balance": credit.balance.text, "expires_at": iso(credit.expires_at),
    }
    if credit.receipt_id is not None:
        out["receipt_id"] = credit.receipt_id
    if credit.reason is not None:
        out["reason"] = credit.reason
    return out


def _replayed(status: int, body: dict[str, Any]) -> Credit | PaymentDeclined:
    """`_record` read back."""
    if status >= 400:
        extra = {k: v for k, v in body.items() if k not in _PROBLEM_KEYS}
        return PaymentDeclined(str(body["detail"]), code=str(body["code"]), **extra)
    currency = str(body["currency"])
    return Credit(
        int(body["transaction_id"]), str(body["lot_id"]), _money(body["amount"], currency),
        _money(body["balance"], currency), datetime.fromisoformat(str(body["expires_at"]).replace("Z", "+00:00")),
        body.get("receipt_id"), body.get("reason"),
    )


def _money(text: str, currency: str) -> Money:
    """A stored amount (signed: a balance after paying a deficit can be below zero)."""
    negative = text.startswith("-")
    micros = parse_micros(text[1:] if negative else text)
    return Money(-micros if negative else micros, currency)


def grant_credit(
    rt: Runtime, who: Principal, tenant_id: str, *, amount: Any, expires_at: datetime,
    reason: str, idempotency_key: str | None = None,
) -> Credit:
    """Operator credit (goodwill, promotion): a lot with its own expiry."""
    require_operator(who)
    if not reason or not reason.strip():
        raise ValidationError("a grant needs a reason")
    for tx in unit_of_work(rt.engine):
        with tx as conn:
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
                    return _settled(stored)
            txn_id, lot_id, balance = credit_new_lot(
                conn, tenant, type_="grant", source_account="grants", lot_source="grant",
                amount=micros, now=now, expires_at=expires_at, reference=reason.strip(),
            )
            credit = Credit(txn_id, lot_id, Money(micros, tenant.currency), Money(balance, tenant.currency), expires_at,
                            reason=reason.strip())
            if idempotency_key:
                status, body = _record(credit)
                idempotency.save(conn, scope=scope, key=idempotency_key, req_hash=req_hash,
                                 status_code=status, body=body, now=now)
    return credit


def read_tenant_currency(rt: Runtime, tenant_id: str) -> str:
    with read_tx(rt.engine) as conn:
        tenant = tenants.get(conn, tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} not found")
    return tenant.currency
