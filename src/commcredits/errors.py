"""The exception tree. Every error a user can cause carries a stable `code` (API.md) and an
HTTP status; the API maps them to problem+json in one place (`api/problems.py`), the web
pages to a message next to the field (`web/feedback.py`), the CLI to one line and exit
status 1 (`cli/common.py`). Use cases raise these and return typed values otherwise; no
code travels inside a string.

    CommCreditsError                    500 internal
    ├── ValidationError                 422 validation_error
    │   ├── BelowMinimum                422 below_minimum
    │   ├── AboveMaximum                422 above_maximum
    │   ├── RecordRejected              422 missing_field | invalid_field | invalid_time | ...
    │   │                                   (one call record's reason; also a ValueError)
    │   └── NoRateFound                 422 no_rate (the domain's `NoRate`, at an edge)
    ├── Unavailable                     503 unavailable (the database or the call desk cannot answer)
    ├── Unauthenticated                 401 unauthenticated
    ├── Forbidden                       403 forbidden
    ├── NotFound                        404 not_found (also for another tenant's resource)
    ├── Conflict                        409 conflict
    │   ├── IdempotencyConflict         409 idempotency_conflict
    │   ├── AutoRechargeOn              409 auto_recharge_on
    │   └── DuplicateCard               409 duplicate_card (names the saved card)
    ├── PurchaseNotAllowed              403 purchase_not_allowed (names reason + way out)
    └── PaymentFailed                   402 card_declined | expired_card | insufficient_funds
        │                                   | incorrect_cvc | processing_error
        └── PaymentDeclined             402 the same codes: the gateway's answer, recorded with
                                            the attempt (a replay of its key gets it again)

The pure domain keeps its own small trees (`domain.money.MoneyError`, `domain.rating`'s
`RatingError` with `NoRate`): a use case turns them into this tree with `from_rating` or by
naming the field, so the edges only ever see `CommCreditsError`.
"""

from __future__ import annotations

from typing import Any

from .domain.rating.model import NoRate, RatingError

__all__ = [
    "AboveMaximum", "AutoRechargeOn", "BelowMinimum", "CommCreditsError", "Conflict", "DuplicateCard",
    "Forbidden", "IdempotencyConflict", "NoRate", "NoRateFound", "NotFound", "PaymentDeclined", "PaymentFailed",
    "PurchaseNotAllowed", "RecordRejected", "Unauthenticated", "Unavailable", "ValidationError", "from_rating",
]


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

    def problem(self) -> dict[str, Any]:
        """This error as an application/problem+json body (RFC 9457, with the stable `code`)."""
        return problem_body(self.status, self.code, self.title, self.detail, **self.extra)


def problem_body(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": f"https://commcredits.dev/problems/{code}", "title": title, "status": status,
            "detail": detail, "code": code, **extra}


class ValidationError(CommCreditsError):
    status, code, title = 422, "validation_error", "Invalid request"


class BelowMinimum(ValidationError):
    code, title = "below_minimum", "Amount below the minimum purchase"


class AboveMaximum(ValidationError):
    code, title = "above_maximum", "Amount above the maximum purchase"


class Unavailable(CommCreditsError):
    status, code, title = 503, "unavailable", "Service unavailable"


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


class PaymentDeclined(PaymentFailed):
    """A charge the gateway refused, as recorded with its attempt (the problem body a replay
    of the Idempotency-Key answers with again)."""


class RecordRejected(ValidationError, ValueError):
    """Why one call record is refused: `code` (missing_field, invalid_field, invalid_time,
    invalid_duration, negative_duration, invalid_call_type) and `detail`. A `ValueError` too,
    so a request model's validator that parses an instant with the same checks reports it."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail, code=code)


class NoRateFound(ValidationError):
    """The domain's `NoRate` as the edges see it (the domain stays free of HTTP)."""

    code, title = "no_rate", "No rate for the destination"


def from_rating(exc: RatingError) -> ValidationError:
    """A rating failure as the tree has it: `NoRate` is `422 no_rate`, any other is a
    `validation_error` with the domain's words."""
    if isinstance(exc, NoRate):
        return NoRateFound(str(exc))
    return ValidationError(str(exc))
