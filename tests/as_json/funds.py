"""`services.ledger.funds` as JSON: a purchase answers (HTTP status, body) like the API."""

from __future__ import annotations

from typing import Any

from commcredits.errors import PaymentDeclined
from commcredits.formatting import iso
from commcredits.services.ledger import funds
from commcredits.views.ledger import credit_out
from commcredits.views.problems import problem_out

__all__ = ["add_funds", "grant_credit", "iso"]


def add_funds(*args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """201 and the credit, or a declined card's 402 and problem body (other errors raise)."""
    try:
        return 201, credit_out(funds.add_funds(*args, **kwargs))
    except PaymentDeclined as exc:
        return exc.status, problem_out(exc)


def grant_credit(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return credit_out(funds.grant_credit(*args, **kwargs))
