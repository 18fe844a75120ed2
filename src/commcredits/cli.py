"""The `commcredits` command line: thin shells over the same services the API calls.

Every command acts as the provider's operator on the database named by
COMMCREDITS_DATABASE_URL (default sqlite:///./var/commcredits.db), in that database's mode:
on a sandbox database every command runs at the sandbox clock's time (services/bootstrap.py).
Only `init` and `serve` create a database. Results print as JSON so scripts can read them.
Errors print one line naming the reason; the exit status is 1 when the service refused the
request (an unknown tenant, a declined card, ...) and 2 for a usage error (a bad option, a
missing file, no database, the wrong mode).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from .cli_cdrs import cdrs_app
from .cli_payments import payments_app
from .cli_rating import rates_app
from .cli_sandbox import sandbox_app, tokens_app
from .cli_spend import limits_app, spend_app
from .config import Settings
from .db.urls import DatabaseUrlError, check_database_url, database_failure
from .errors import CommCreditsError
from .services import bootstrap, jobs
from .services.access import tenants as tenant_svc
from .services.access.principal import OPERATOR
from .services.ledger import audit as audit_svc
from .services.ledger import balances, funds
from .services.payments import payment_methods
from .services.runtime import Runtime

app = typer.Typer(
    help="Prepaid Communications Credits for telephony providers.", no_args_is_help=True,
    pretty_exceptions_enable=False,
)
tenants_app = typer.Typer(help="Create, list and change tenants and their users.", no_args_is_help=True)
funds_app = typer.Typer(help="Add funds, grant credit, show balances and transactions.", no_args_is_help=True)
jobs_app = typer.Typer(help="Run background jobs (expiry sweep, ...).", no_args_is_help=True)
app.add_typer(tenants_app, name="tenants")
app.add_typer(funds_app, name="funds")
app.add_typer(jobs_app, name="jobs")
app.add_typer(rates_app, name="rates")
app.add_typer(cdrs_app, name="cdrs")
app.add_typer(payments_app, name="payments")
app.add_typer(tokens_app, name="tokens")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(spend_app, name="spend-controls")
app.add_typer(limits_app, name="purchase-limits")
err = Console(stderr=True)


def runtime(database_url: str | None = None, sandbox: bool | None = None, *, create: bool = False) -> Runtime:
    """The configured database in its own mode; only `init` and `serve` may `create` it."""
    settings = Settings.from_env()
    changes: dict[str, Any] = {}
    if database_url:
        changes["database_url"] = database_url
    if sandbox:
        changes["sandbox"] = True
    if changes:
        settings = Settings(**{**settings.__dict__, **changes})
    try:
        check_database_url(settings.database_url)
        return bootstrap.open_runtime(settings, create=create)
    except (bootstrap.SetupError, DatabaseUrlError) as exc:
        usage_error(str(exc))
    except (SQLAlchemyError, OSError) as exc:  # unreachable server, wrong password, a path that cannot be made
        usage_error(database_failure(settings.database_url, exc))


def usage_error(message: str) -> NoReturn:
    """One line on stderr and exit status 2, as for a bad option."""
    err.print(f"[red]error[/red]: {escape(message)}", soft_wrap=True)
    raise typer.Exit(2)


def emit(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a service error into one clear line and exit status 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CommCreditsError as exc:
            err.print(f"[red]error[/red] ({exc.code}): {exc.detail}")
            raise typer.Exit(1) from None

    return wrapper


@app.command()
@friendly
def init(
    sandbox: Annotated[bool, typer.Option(
        help="make a sandbox database (settable clock); also COMMCREDITS_SANDBOX=1")] = False,
) -> None:
    """Create or migrate the database, record its mode and print a new operator token.

    A new database is a production database (the wall clock) unless --sandbox is given; the
    mode is kept in the database and every later command uses it. A production database
    refuses --sandbox (exit 2).

    Example: COMMCREDITS_DATABASE_URL=postgresql://localhost/commcredits commcredits init
    """
    rt = runtime(sandbox=sandbox, create=True)
    token = bootstrap.ensure_operator_token(rt, always_new=True)
    typer.echo(f"database ready: {rt.settings.database_url}  (sandbox: {rt.settings.sandbox})")
    typer.echo(f"operator token (shown once): {token}")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    database_url: Annotated[str | None, typer.Option(help="overrides COMMCREDITS_DATABASE_URL")] = None,
    sandbox: Annotated[bool, typer.Option(help="a settable clock (a new database becomes a sandbox)")] = False,
    demo: Annotated[bool, typer.Option(help="seed a demo tenant, users, funds and usage (implies --sandbox)")] = False,
    workers: Annotated[int, typer.Option(min=1, max=64, help="server processes (use PostgreSQL for more than 1)")] = 1,
) -> None:
    """Start the API and the background jobs; creates and migrates the database first.

    A sandbox database always runs as a sandbox, with or without --sandbox; a production
    database refuses --sandbox and --demo (exit 2). With --workers N, N processes serve the
    same port and share nothing but the database.

    Example: commcredits serve --sandbox --demo --port 8000
    Example: COMMCREDITS_DATABASE_URL=postgresql://... commcredits serve --workers 2
    """
    from .server import run_server

    run_server(runtime(database_url, sandbox or demo, create=True), host=host, port=port, demo=demo,
               workers=workers)


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
    for tenant, balance, status in tenant_svc.tenant_summaries(rt, OPERATOR, after=None, limit=limit):
        flag = "ok" if status["allowed"] else status["reason"]
        amount = balances.money(balance, tenant.currency)
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
        out["token"] = tenant_svc.issue_user_token(rt, OPERATOR, tenant_id, user.id)["token"]
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
    from .services.access import web_auth

    rt = runtime()
    user_id = web_auth.set_password_by_email(rt, OPERATOR, tenant_id, email, password)
    emit({"id": user_id, "email": email.strip().lower(), "password": "set"})


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

    status, body = funds.add_funds(runtime(), OPERATOR, tenant_id, amount=amount,
                                   payment_method_id=payment_method,
                                   idempotency_key=idempotency_key or str(uuid.uuid4()))
    emit(body)
    if status >= 400:
        raise typer.Exit(1)


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
    emit(funds.grant_credit(runtime(), OPERATOR, tenant_id, amount=amount, expires_at=when, reason=reason))


@funds_app.command("balance")
@friendly
def funds_balance(tenant_id: str) -> None:
    """Show a tenant's balance, reserved and available amounts, and its lots.

    Example: commcredits funds balance 6f1c...e2
    """
    emit(balances.balance_view(runtime(), OPERATOR, tenant_id))


@funds_app.command("transactions")
@friendly
def funds_transactions(tenant_id: str, limit: int = 50) -> None:
    """List a tenant's journal transactions, newest first.

    Example: commcredits funds transactions 6f1c...e2 --limit 10
    """
    emit(balances.transactions_view(runtime(), OPERATOR, tenant_id, cursor=None, limit=limit))


@jobs_app.command("run")
@friendly
def jobs_run(
    now: Annotated[datetime | None, typer.Option(help="run as of this instant (UTC)")] = None,
) -> None:
    """Run every job due now: the expiry sweep, and the jobs later features add.

    Example: commcredits jobs run --now 2027-11-23T00:00:00
    """
    from datetime import UTC

    when = None if now is None else (now if now.tzinfo else now.replace(tzinfo=UTC))
    emit(jobs.run_due_jobs(runtime(), when))


@app.command()
def audit() -> None:
    """Recompute every balance from the journal and check every ledger invariant; exit 1 on any violation.

    Example: commcredits audit
    """
    checked, violations = audit_svc.audit(runtime())
    for line in violations:
        typer.echo(f"VIOLATION {line}")
    typer.echo(f"audited {checked} tenants: {len(violations)} violations")
    if violations:
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())
