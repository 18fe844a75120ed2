"""`commcredits spend-controls ...` and `commcredits purchase-limits ...`: thin shells over
services/ledger/spend_controls.py, acting as the operator (the journal records "operator")."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..services.access.principal import OPERATOR
from ..services.ledger import spend_controls as svc
from ..views.ledger import controls_out, limits_out
from .common import emit, friendly, runtime

spend_app = typer.Typer(help="Dial-out policy, spend caps and alerts of a tenant.", no_args_is_help=True)
limits_app = typer.Typer(help="Minimum and maximum per purchase and recharge, per currency.", no_args_is_help=True)

Amount = Annotated[str | None, typer.Option(help='a money string such as "200.00", or "none" to remove it')]


def _money(value: str | None) -> str | None:
    return None if value.strip().lower() in ("none", "null", "off") else value.strip()  # type: ignore[union-attr]


@spend_app.command("show")
def show(tenant_id: str) -> None:
    """Show a tenant's spend controls and their recent changes.

    Example: commcredits spend-controls show 6f1c...e2
    """

    friendly(lambda: emit(controls_out(svc.controls_view(runtime(), OPERATOR, tenant_id))))()


@spend_app.command("set")
def set_controls(
    tenant_id: str,
    policy: Annotated[str | None, typer.Option(help="dial-out policy: all, no_premium, domestic_only, none")] = None,
    daily_limit: Amount = None,
    monthly_limit: Amount = None,
    user_daily_limit: Amount = None,
    low_balance_threshold: Amount = None,
    max_auto_recharges: Annotated[int | None, typer.Option(help="successful auto-recharges allowed in 24 hours "
                                                                "(1-100, default 5)")] = None,
) -> None:
    """Change the controls named (the others keep their value); each change is journaled.

    Example: commcredits spend-controls set 6f1c...e2 --policy domestic_only --daily-limit 200.00
    --monthly-limit none --low-balance-threshold 50.00
    """

    changes: dict[str, Any] = {}
    if policy is not None:
        changes["dial_out_policy"] = policy
    for field, value in (("daily_limit", daily_limit), ("monthly_limit", monthly_limit),
                         ("user_daily_limit", user_daily_limit), ("low_balance_threshold", low_balance_threshold)):
        if value is not None:
            changes[field] = _money(value)
    if max_auto_recharges is not None:
        changes["max_auto_recharges_per_day"] = max_auto_recharges
    friendly(lambda: emit(controls_out(svc.update_controls(runtime(), OPERATOR, tenant_id, changes))))()


@spend_app.command("user-policy")
def user_policy(tenant_id: str, user_id: str, policy: str) -> None:
    """Give a user a dial-out policy of their own, or "tenant" to follow the tenant's again.

    Example: commcredits spend-controls user-policy 6f1c...e2 3b9d...01 none
    """

    own = None if policy == "tenant" else policy
    friendly(lambda: emit({"user_id": user_id,
                           "dial_out_policy": svc.set_user_policy(runtime(), OPERATOR, tenant_id, user_id, own)}))()


@limits_app.command("show")
def show_limits(currency: str) -> None:
    """Show a currency's purchase limits (seeded, or set by an operator).

    Example: commcredits purchase-limits show JPY
    """

    friendly(lambda: emit(limits_out(svc.limits_view(runtime(), OPERATOR, currency))))()


@limits_app.command("set")
def set_limits(
    currency: str,
    minimum: Annotated[str, typer.Option(help='the smallest purchase or recharge, e.g. "5000"')],
    maximum: Annotated[str, typer.Option(help='the largest purchase, e.g. "10000000"')],
) -> None:
    """Set a currency's minimum and maximum per purchase and per recharge.

    Example: commcredits purchase-limits set JPY --minimum 5000 --maximum 10000000
    """

    friendly(lambda: emit(limits_out(svc.set_limits(runtime(), OPERATOR, currency, minimum=minimum,
                                                    maximum=maximum))))()
