"""The `commcredits` command: its sub-commands put together (what every command shares,
and the exit statuses, are in `common.py`)."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer

from ..services import bootstrap, jobs
from ..services.ledger import audit as audit_svc
from ..views.jobs import jobs_run_out
from .cdrs import cdrs_app
from .common import emit, friendly, runtime
from .funds import funds_app
from .payments import payments_app
from .rates import rates_app
from .sandbox import sandbox_app, tokens_app
from .spend import limits_app, spend_app
from .tenants import tenants_app

app = typer.Typer(
    help="Prepaid Communications Credits for telephony providers.", no_args_is_help=True,
    pretty_exceptions_enable=False,
)
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
    from ..server import run_server

    run_server(runtime(database_url, sandbox or demo, create=True), host=host, port=port, demo=demo,
               workers=workers)


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
    emit(jobs_run_out(jobs.run_due_jobs(runtime(), when)))


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
