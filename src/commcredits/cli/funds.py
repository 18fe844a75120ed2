"""`commcredits funds ...`: add funds, grant credit, show balances and transactions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from ..errors import PaymentDeclined
from ..services.access.principal import OPERATOR
from ..services.ledger import balances, funds
from ..services.payments import payment_methods
from ..views.ledger import balance_out, credit_out, journal_page_out
from ..views.problems import problem_out
from .common import emit, friendly, runtime

funds_app = typer.Typer(help="Add funds, grant credit, show balances and transactions.", no_args_is_help=True)


@funds_app.command("add-card")
@friendly
def funds_add_card(tenant_id: str, card_number: str, exp_month: int, exp_year: int, cvc: str) -> None:
    """Save a card for a tenant (the number goes to the gateway, never to our database).

    Example: commcredits funds add-card 6f1c...e2 4242424242424242 12 2030 123
    """
    pm = payment_methods.add_payment_method(runtime(), OPERATOR, tenant_id, card_number=card_number,
                                            exp_month=exp_month, exp_year=exp_year, cvc=cvc)
    emit({"id": pm.id, "brand": pm.brand, "last4": pm.last4})


@funds_app.command("cards")
@friendly
def funds_cards(tenant_id: str) -> None:
    """List a tenant's saved cards: the ids that `funds add --payment-method` takes.

    Example: commcredits funds cards 6f1c...e2
    """
    emit([{"id": pm.id, "brand": pm.brand, "last4": pm.last4, "exp_month": pm.exp_month,
           "exp_year": pm.exp_year}
          for pm in payment_methods.list_payment_methods(runtime(), OPERATOR, tenant_id)])


@funds_app.command("add")
@friendly
def funds_add(
    tenant_id: str,
    amount: Annotated[str, typer.Argument(help='decimal amount in the tenant currency, e.g. "50.00"')],
    payment_method: Annotated[str, typer.Option(help="id of a saved card")],
    idempotency_key: Annotated[str | None, typer.Option(help="repeat a purchase safely")] = None,
) -> None:
    """Buy credit for a tenant with a saved card (minimum 50.00).

    The card's id comes from `funds cards` (or `funds add-card`).

    Example: commcredits funds add 6f1c...e2 100.00 --payment-method 9a0b...
    """
    import uuid

    try:
        credit = funds.add_funds(runtime(), OPERATOR, tenant_id, amount=amount, payment_method_id=payment_method,
                                 idempotency_key=idempotency_key or str(uuid.uuid4()))
    except PaymentDeclined as exc:  # printed as the API's problem body, for scripts
        emit(problem_out(exc))
        raise typer.Exit(1) from None
    emit(credit_out(credit))


@funds_app.command("grant")
@friendly
def funds_grant(
    tenant_id: str, amount: str,
    expires_at: Annotated[datetime, typer.Option(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"])],
    reason: Annotated[str, typer.Option()],
) -> None:
    """Grant credit to a tenant (goodwill, promotion) with its own expiry.

    Example: commcredits funds grant 6f1c...e2 25.00 --expires-at 2027-06-30 --reason "outage credit"
    """
    from datetime import UTC

    when = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
    emit(credit_out(funds.grant_credit(runtime(), OPERATOR, tenant_id, amount=amount, expires_at=when,
                                       reason=reason)))


@funds_app.command("balance")
@friendly
def funds_balance(tenant_id: str) -> None:
    """Show a tenant's balance, reserved and available amounts, and its lots.

    Example: commcredits funds balance 6f1c...e2
    """
    emit(balance_out(balances.balance_view(runtime(), OPERATOR, tenant_id)))


@funds_app.command("transactions")
@friendly
def funds_transactions(tenant_id: str, limit: int = 50) -> None:
    """List a tenant's journal transactions, newest first.

    Example: commcredits funds transactions 6f1c...e2 --limit 10
    """
    emit(journal_page_out(balances.transactions_view(runtime(), OPERATOR, tenant_id, cursor=None, limit=limit)))
