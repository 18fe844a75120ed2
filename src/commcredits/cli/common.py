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
from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from ..config import Settings
from ..db.urls import DatabaseUrlError, check_database_url, database_failure
from ..errors import CommCreditsError
from ..services import bootstrap
from ..services.runtime import Runtime

err = Console(stderr=True)


def runtime(database_url: str | None = None, sandbox: bool | None = None, *, create: bool = False) -> Runtime:
    """The configured database in its own mode; only `init` and `serve` may `create` it."""
    try:
        settings = Settings.from_env()
    except ValueError as exc:  # a setting that cannot be read: its name and the reason
        usage_error(str(exc))
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
