"""What a form tells its user when something is wrong: in plain words, next to the field it
is about, never in the API's vocabulary (no field names such as `payment_method_id`, no
"Conflict" titles, no error codes).

A page error is a dict the templates know: `where` (the form), `title` (one short sentence),
`detail` (what to do), and `field`, the id of the input it belongs to (or None). The base
template shows it at the top of the page with a link to the field, changes the page title to
"Error: ...", and the field macro marks the input `aria-invalid`, ties the message to it with
`aria-describedby` and moves the focus there, so a screen reader announces it.

`FormProblem` is raised by the pages' own checks before any service is called; service
errors are translated by `explain`.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import CommCreditsError, Forbidden, Unauthenticated
from ..formatting import money
from .render import LICENSE_NAMES, sentence

TITLES = {
    "validation_error": "Please check this value",
    "below_minimum": "The amount is too small",
    "above_maximum": "The amount is too large",
    "card_declined": "The card was declined",
    "expired_card": "The card has expired",
    "insufficient_funds": "The card has insufficient funds",
    "incorrect_cvc": "The security code (CVC) is not right",
    "processing_error": "The card could not be charged just now",
    "purchase_not_allowed": "Purchases are not available",
    "not_found": "That card is no longer saved",
    "conflict": "That cannot be done now",
    "auto_recharge_on": "Auto-recharge is on",
    "idempotency_conflict": "This form was already sent with other values",
}
_AMOUNT = re.compile(r"(?<![\d.,])(\d+(?:\.\d+)?) ([A-Z]{3})\b")


class FormProblem(Exception):
    """A form value the page refuses before calling a service."""

    def __init__(self, field: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.field, self.title, self.detail = field, title, detail


def form_error(where: str, exc: FormProblem) -> dict[str, Any]:
    return {"where": where, "title": exc.title, "detail": sentence(exc.detail), "field": exc.field}


def explain(where: str, exc: CommCreditsError, fields: dict[str, str]) -> dict[str, Any]:
    """A service error as the page shows it. `fields` maps error codes (or "trigger", a word
    the detail starts with) to the input the error is about. Who-may errors go to the error
    page instead."""
    if isinstance(exc, Forbidden | Unauthenticated):
        raise exc
    detail = exc.detail
    first_word = detail.split(":", 1)[0].split(" ", 1)[0].lower()
    field = fields.get(first_word) or fields.get(exc.code)
    if exc.code in ("validation_error", "below_minimum", "above_maximum") and ":" in detail[:12]:
        detail = detail.split(":", 1)[1].strip()  # "amount: the minimum ..." -> "the minimum ..."
    if exc.code == "not_found" and field:
        detail = "choose another card, or add one on Payment methods"
    for code, name in sorted(LICENSE_NAMES.items(), key=lambda kv: -len(kv[0])):  # codes -> product names
        detail = detail.replace(code, name)
    detail = _AMOUNT.sub(lambda m: money(m[1], m[2]), detail)  # amounts as the page prints them
    title = TITLES.get(exc.code, sentence(exc.title)) if exc.code != "not_found" or field else "Not found"
    return {"where": where, "title": title, "detail": sentence(detail),
            "field": field, "reason": exc.extra.get("reason")}
