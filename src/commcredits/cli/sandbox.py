"""`commcredits sandbox ...` and `commcredits tokens ...`: start a sandbox afresh, make tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from ..services import bootstrap
from .common import runtime, usage_error

sandbox_app = typer.Typer(help="Start a sandbox database afresh.", no_args_is_help=True)
tokens_app = typer.Typer(help="Make API tokens (shown once; only their hashes are stored).", no_args_is_help=True)


@sandbox_app.command("reset")
def sandbox_reset(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    demo: Annotated[bool, typer.Option(help="seed the demo tenant again, as `serve --demo` does")] = False,
) -> None:
    """Delete everything in a sandbox database and start it afresh, its clock back on the wall clock.

    The sandbox clock only moves forward; this is the way back. Refused (exit 2) on a
    production database. Stop the server first: it keeps its operator token only until then.
    A new operator token is printed (or COMMCREDITS_OPERATOR_TOKEN registered), and with
    --demo the demo tenant's ids, token and password.

    Example: commcredits sandbox reset --yes --demo
    """
    from ..server import print_demo, print_operator_token
    from ..services.demo import seed_demo

    rt = runtime()
    if not rt.settings.sandbox:
        usage_error(f"{rt.settings.database_url} is not a sandbox database; only a sandbox can be reset")
    if not yes:
        typer.confirm(f"Delete every tenant, lot and call in {rt.settings.database_url}?", abort=True)
    bootstrap.reset_sandbox(rt)
    rt.caches.clear()
    typer.echo(f"sandbox reset: {rt.settings.database_url}  (clock: {rt.clock.now().isoformat()})")
    print_operator_token(rt, bootstrap.ensure_operator_token(rt))
    if demo:
        seeded = seed_demo(rt)
        if seeded:
            print_demo(seeded, rt.settings.public_url)


@tokens_app.command("create-operator")
def tokens_create_operator() -> None:
    """Make a new operator token and print it; tokens made before stay valid.

    Use it when `serve` says the database already has one (a second `make run`).

    Example: commcredits tokens create-operator
    """

    typer.echo(bootstrap.new_operator_token(runtime()))
