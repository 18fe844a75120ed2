"""Who may call what: one row per endpoint, the expected answer for every kind of caller.

`tests/api/test_permission_matrix.py` fails when the app has a route without a row here, so
a new endpoint is added with one line: its method, its path template (as FastAPI spells it),
who may call it (a rule below), and a request body or query that an allowed caller would
send. Placeholders in paths, bodies and queries are filled by the test's world:

    {tid}       the tenant every tenant principal belongs to (except `other_admin`)
    {uid}       a user of that tenant without roles (never the caller)
    {pmid}      a stored card of that tenant; {rid} a receipt; {wid} a webhook
    {token_id}  a switch token made for the request; {call_id} a call authorized for it
    {unique}    a fresh hex string (e-mail addresses, idempotency keys)
    {currency}  the tenant's currency (USD)

Expected answers: OK (anything below 500 except 401, 403 and 404: a 2xx, or a 4xx about
the request itself), or the status the caller must get: 401 anonymous, 403 a role or a
token kind that is not allowed, 404 another tenant's resource (its existence does not leak).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from commcredits.domain.access import ADMIN_ROLES, MANAGE_BILLING, MANAGE_USERS, VIEW_BILLING, permits

OK = "ok"
SWITCHES = ("switch_all", "switch_one")
PRINCIPALS: tuple[str, ...] = (*ADMIN_ROLES, "plain_user", "other_admin", *SWITCHES, "operator", "anonymous")
Rule = Callable[[str], Any]


def tenant(permission: str) -> Rule:
    """A tenant's own admins with `permission`; the operator for any tenant."""
    def expect(who: str) -> Any:
        if who == "operator":
            return OK
        if who == "anonymous":
            return 401
        if who == "other_admin":
            return 404
        if who in ADMIN_ROLES and permits((who,), permission):
            return OK
        return 403
    return expect


def operator_only(who: str) -> Any:
    return OK if who == "operator" else 401 if who == "anonymous" else 403


def switch_or_operator(who: str) -> Any:
    return OK if who in ("operator", *SWITCHES) else 401 if who == "anonymous" else 403


def self_or_operator(who: str) -> Any:
    """`{uid}` is never the caller, so only the operator gets through."""
    return OK if who == "operator" else 401 if who == "anonymous" else 404 if who == "other_admin" else 403


def public(who: str) -> Any:
    return OK


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    rule: Rule
    body: dict[str, Any] | None = None
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] | None = None  # multipart fields; `files` (name -> bytes) go with them
    files: dict[str, bytes] = field(default_factory=dict)


VIEW, BILLING, USERS = tenant(VIEW_BILLING), tenant(MANAGE_BILLING), tenant(MANAGE_USERS)
TENANT_BODY = {"name": "Contoso {unique}", "country": "US", "currency": "USD", "billing_country": "US"}
CALL_BODY = {"tenant_id": "{tid}", "call_id": "{unique}", "call_type": "user_out", "caller": "+12025550100",
             "callee": "+442079460000"}
CARD = {"card_number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
PERIOD = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}

ROWS: tuple[Row, ...] = (
    Row("POST", "/v1/calls/authorize", switch_or_operator, CALL_BODY),
    Row("POST", "/v1/calls/{call_id}/extend", switch_or_operator, {}),
    Row("POST", "/v1/calls/{call_id}/end", switch_or_operator, {"duration_seconds": 30}),
    Row("POST", "/v1/tenants/{tid}/billing-mode", BILLING, {"mode": "prepaid"}),
    Row("GET", "/v1/tenants/{tid}/statements", VIEW),
    Row("POST", "/v1/tenants", operator_only, TENANT_BODY),
    Row("GET", "/v1/tenants", operator_only),
    Row("GET", "/v1/tenants/{tid}", VIEW),
    Row("PATCH", "/v1/tenants/{tid}", operator_only, {"name": "Fabrikam"}),
    Row("POST", "/v1/tenants/{tid}/users", USERS, {"email": "{unique}@example.com", "usage_location": "US"}),
    Row("GET", "/v1/tenants/{tid}/users", VIEW),
    Row("PATCH", "/v1/tenants/{tid}/users/{uid}", USERS, {"display_name": "Renamed", "usage_location": "GB"}),
    Row("POST", "/v1/tenants/{tid}/users/{uid}/tokens", self_or_operator),
    Row("PUT", "/v1/tenants/{tid}/users/{uid}/password", self_or_operator, {"password": "correct horse 42 battery"}),
    Row("POST", "/v1/tokens", operator_only, {"kind": "switch", "tenant_id": "{tid}"}),
    Row("DELETE", "/v1/tokens/{token_id}", operator_only),
    Row("POST", "/v1/tenants/{tid}/payment-methods", BILLING, CARD),
    Row("GET", "/v1/tenants/{tid}/payment-methods", BILLING),
    Row("DELETE", "/v1/tenants/{tid}/payment-methods/{pmid}", BILLING),
    Row("PATCH", "/v1/tenants/{tid}/payment-methods/{pmid}", BILLING, {"exp_month": 11, "exp_year": 2031}),
    Row("POST", "/v1/tenants/{tid}/funds", BILLING, {"amount": "50.00", "payment_method_id": "{pmid}"},
        headers={"Idempotency-Key": "{unique}"}),
    Row("POST", "/v1/tenants/{tid}/grants", operator_only,
        {"amount": "5.00", "expires_at": "2027-01-01T00:00:00Z", "reason": "goodwill"}),
    Row("GET", "/v1/tenants/{tid}/balance", VIEW),
    Row("GET", "/v1/tenants/{tid}/transactions", VIEW),
    Row("GET", "/v1/tenants/{tid}/auto-recharge", BILLING),
    Row("GET", "/v1/tenants/{tid}/spend-controls", VIEW),
    Row("PUT", "/v1/tenants/{tid}/spend-controls", BILLING, {"low_balance_threshold": "20.00"}),
    Row("GET", "/v1/purchase-limits/{currency}", operator_only),
    Row("PUT", "/v1/purchase-limits/{currency}", operator_only, {"minimum": "50.00", "maximum": "100000.00"}),
    Row("PUT", "/v1/tenants/{tid}/auto-recharge", BILLING, {"enabled": False}),
    Row("GET", "/v1/tenants/{tid}/receipts", VIEW),
    Row("GET", "/v1/tenants/{tid}/receipts/{rid}", VIEW),
    Row("POST", "/v1/rate-decks", operator_only, form={"format": "ratecard"},
        files={"card.csv": b"prefix,destination,rate\n44,UK,0.01\n"}),
    Row("GET", "/v1/rate-decks", operator_only),
    Row("POST", "/v1/rate-decks/{deck_id}/activate", operator_only),  # no such id: 422 for the operator
    Row("GET", "/v1/tenants/{tid}/rates", VIEW, query={"q": "france"}),
    Row("GET", "/v1/rates/quote", VIEW,
        query={"category": "user_out", "destination": "+442079460000", "duration_seconds": "60", "tenant_id": "{tid}"}),
    Row("POST", "/v1/rerate", operator_only, PERIOD),
    Row("GET", "/v1/tenants/{tid}/usage", VIEW),
    Row("GET", "/v1/tenants/{tid}/funding-advice", VIEW),
    Row("POST", "/v1/tenants/{tid}/subscriptions", operator_only, {"product": "audio_conferencing", "quantity": 1}),
    Row("GET", "/v1/tenants/{tid}/subscriptions", VIEW),
    Row("GET", "/v1/tenants/{tid}/minute-pools", VIEW),
    Row("GET", "/v1/minute-allowances", operator_only),
    Row("PUT", "/v1/minute-allowances", operator_only,
        {"product": "domestic_calling_plan", "kind": "domestic", "country": "US", "minutes": 3000}),
    Row("POST", "/v1/cdrs", switch_or_operator, {"records": []}),
    Row("GET", "/v1/tenants/{tid}/notifications", VIEW),
    Row("POST", "/v1/tenants/{tid}/webhooks", BILLING, {"url": "https://hooks.example.com/in", "events": ["balance_depleted"]}),
    Row("GET", "/v1/tenants/{tid}/webhooks", BILLING),
    Row("GET", "/v1/tenants/{tid}/webhooks/{wid}/deliveries", BILLING),
    Row("DELETE", "/v1/tenants/{tid}/webhooks/{wid}", BILLING),
    Row("POST", "/v1/jobs/run", operator_only),
    Row("POST", "/v1/sandbox/clock", operator_only, {}),  # no time moves: the body is refused after the check
    Row("GET", "/healthz", public),
    Row("GET", "/metrics", public),
    Row("GET", "/", public),
)
