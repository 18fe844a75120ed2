"""`commcredits tenants ...`: create, list and change tenants and their users."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..services.access import tenants as tenant_svc
from ..services.access.principal import OPERATOR
from .common import emit, friendly, runtime

tenants_app = typer.Typer(help="Create, list and change tenants and their users.", no_args_is_help=True)


@tenants_app.command("create")
@friendly
def tenants_create(
    name: str,
    country: Annotated[str, typer.Option(help="ISO country code of the tenant")],
    currency: Annotated[str, typer.Option(help="billing currency, ISO 4217")],
    billing_country: Annotated[
        str | None, typer.Option(help="country of the billing address (default: country)")
    ] = None,
    timezone: str = "UTC",
    postpaid: bool = False,
) -> None:
    """Create a tenant.

    Example: commcredits tenants create "Contoso" --country US --currency USD --timezone America/New_York
    """
    rt = runtime()
    tenant = tenant_svc.create_tenant(
        rt, OPERATOR, name=name, country=country, currency=currency,
        billing_country=billing_country or country, timezone=timezone,
        billing_mode="postpaid" if postpaid else "prepaid",
    )
    emit({"id": tenant.id, "name": tenant.name, "currency": tenant.currency})


@tenants_app.command("list")
@friendly
def tenants_list(limit: int = 100) -> None:
    """List tenants with balance and purchase status.

    Example: commcredits tenants list --limit 20
    """
    rt = runtime()
    for summary in tenant_svc.tenant_summaries(rt, OPERATOR, after=None, limit=limit):
        tenant, status = summary.tenant, summary.purchase
        flag = "ok" if status.allowed else status.reason
        amount = str(summary.balance)
        typer.echo(
            f"{tenant.id}  {tenant.name:30}  {amount:>14} {tenant.currency}  "
            f"{tenant.billing_mode}  purchase:{flag}"
        )


@tenants_app.command("mitigate")
@friendly
def tenants_mitigate(tenant_id: str, lift: bool = True) -> None:
    """Record (or with --no-lift remove) a support mitigation lifting the region restriction.

    Example: commcredits tenants mitigate 6f1c...e2
    """
    rt = runtime()
    tenant = tenant_svc.update_tenant(rt, OPERATOR, tenant_id, {"purchase_mitigation": lift})
    emit({"id": tenant.id, "purchase_mitigation": tenant.purchase_mitigation})


@tenants_app.command("add-user")
@friendly
def tenants_add_user(
    tenant_id: str,
    email: str,
    usage_location: Annotated[str, typer.Option(help="ISO country where the user works")],
    display_name: str = "",
    role: Annotated[list[str] | None, typer.Option(help="admin role; repeat for several")] = None,
    license: Annotated[list[str] | None, typer.Option(help="license; repeat for several")] = None,
    token: Annotated[bool, typer.Option(help="also issue a user API token")] = False,
) -> None:
    """Add a user to a tenant, optionally with roles, licenses and an API token.

    Example: commcredits tenants add-user 6f1c...e2 ann@contoso.example --usage-location US
    --role billing_administrator --token
    """
    rt = runtime()
    user = tenant_svc.create_user(rt, OPERATOR, tenant_id, email=email, display_name=display_name,
                                  usage_location=usage_location, roles=role or [], licenses=license or [])
    out: dict[str, Any] = {"id": user.id, "email": user.email, "roles": list(user.roles)}
    if token:
        out["token"] = tenant_svc.issue_user_token(rt, OPERATOR, tenant_id, user.id).token
    emit(out)


@tenants_app.command("set-password")
@friendly
def tenants_set_password(
    tenant_id: str,
    email: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                          help="12 characters or more; asked for when not given")],
) -> None:
    """Set a user's password for the web admin center (/admin); ends the user's web sessions.

    Example: commcredits tenants set-password 6f1c...e2 ann@contoso.example
    """
    from ..services.access import web_auth

    rt = runtime()
    user_id = web_auth.set_password_by_email(rt, OPERATOR, tenant_id, email, password)
    emit({"id": user_id, "email": email.strip().lower(), "password": "set"})
