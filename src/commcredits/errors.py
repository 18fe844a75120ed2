"""The exception tree. Every error a user can cause carries a stable `code` (API.md) and an
HTTP status; the API maps them to problem+json in one place (`api/problems.py`), the CLI
prints `detail`.

    CommCreditsError                    500 internal
    ├── ValidationError                 422 validation_error
    │   ├── BelowMinimum                422 below_minimum
    │   └── AboveMaximum                422 above_maximum
    ├── Unauthenticated                 401 unauthenticated
    ├── Forbidden                       403 forbidden
    ├── NotFound                        404 not_found (also for another tenant's resource)
    ├── Conflict                        409 conflict
    │   ├── IdempotencyConflict         409 idempotency_conflict
    │   ├── AutoRechargeOn              409 auto_recharge_on
    │   └── DuplicateCard               409 duplicate_card (names the saved card)
    ├── PurchaseNotAllowed              403 purchase_not_allowed (names reason + way out)
    ├── PaymentFailed                   402 card_declined | expired_card | insufficient_funds
    │                                       | incorrect_cvc | processing_error
    └── NoRate                          422 no_rate
"""

from __future__ import annotations

from typing import Any


class CommCreditsError(Exception):
    status = 500
    code = "internal"
    title = "Internal error"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra


class ValidationError(CommCreditsError):
    status, code, title = 422, "validation_error", "Invalid request"


class BelowMinimum(ValidationError):
    code, title = "below_minimum", "Amount below the minimum purchase"


class AboveMaximum(ValidationError):
    code, title = "above_maximum", "Amount above the maximum purchase"


class Unauthenticated(CommCreditsError):
    status, code, title = 401, "unauthenticated", "Authentication required"


class Forbidden(CommCreditsError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(CommCreditsError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(CommCreditsError):
    status, code, title = 409, "conflict", "Conflict"


class IdempotencyConflict(Conflict):
    code, title = "idempotency_conflict", "Idempotency key reused with a different request"


class AutoRechargeOn(Conflict):
    code, title = "auto_recharge_on", "Auto-recharge is on"


class DuplicateCard(Conflict):
    code, title = "duplicate_card", "This card is already saved"


class PurchaseNotAllowed(CommCreditsError):
    status, code, title = 403, "purchase_not_allowed", "Purchase not allowed"


class PaymentFailed(CommCreditsError):
    status, code, title = 402, "card_declined", "Payment failed"


class NoRate(CommCreditsError):
    status, code, title = 422, "no_rate", "No rate for the destination"
