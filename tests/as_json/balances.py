"""`services.ledger.balances` as JSON."""

from __future__ import annotations

from typing import Any

from commcredits.services.ledger import balances
from commcredits.views.ledger import balance_out, journal_page_out


def balance_view(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return balance_out(balances.balance_view(*args, **kwargs))


def transactions_view(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return journal_page_out(balances.transactions_view(*args, **kwargs))
