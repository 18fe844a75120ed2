"""Database URLs as people type them: checked before use, shown without their password.

`check_database_url` refuses what commcredits cannot open (another database, a malformed
URL) with one sentence; `database_failure` turns the error of a failed first connection
(an unreachable server, a wrong password, a missing database, a directory that cannot be
made) into one line naming the URL with its password masked, and the cause. The CLI and
`serve` print that line and exit with status 2 instead of a traceback.
"""

from __future__ import annotations

import re

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

SUPPORTED = ("sqlite", "postgresql")
EXAMPLES = "sqlite:///./var/commcredits.db or postgresql://user:password@host:5432/dbname"
_DRIVERS = {"sqlite": ("", "pysqlite"), "postgresql": ("", "psycopg")}


class DatabaseUrlError(ValueError):
    """A database URL commcredits cannot use; the message is one line for the user."""


def masked(url: str) -> str:
    """The URL with any password replaced by ***."""
    try:
        parsed = make_url(url)
        return parsed.render_as_string(hide_password=True) if parsed.password is not None else url
    except (ArgumentError, ValueError):
        return re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url)


def check_database_url(url: str) -> None:
    """Refuse, with DatabaseUrlError, a URL that is malformed or names another database."""
    text = url.strip()
    if text.startswith("postgres://"):
        text = "postgresql://" + text.split("://", 1)[1]
    try:
        parsed = make_url(text)
    except (ArgumentError, ValueError):
        raise DatabaseUrlError(f"{masked(url)!r} is not a database URL; use {EXAMPLES}") from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend not in SUPPORTED:
        raise DatabaseUrlError(
            f"unsupported database {backend!r} in {masked(url)}: commcredits runs on SQLite or PostgreSQL; "
            f"use {EXAMPLES}"
        )
    explicit = text.split("://", 1)[0]
    if "+" in explicit and driver not in _DRIVERS[backend]:
        raise DatabaseUrlError(f"unsupported driver {driver!r} in {masked(url)}: leave it out ({backend}://...)")
    if backend == "postgresql" and not parsed.database:
        raise DatabaseUrlError(f"{masked(url)} names no database: add one, e.g. .../commcredits")


def database_failure(url: str, exc: BaseException) -> str:
    """One line: which database could not be opened, and why (no password, no traceback)."""
    cause = getattr(exc, "orig", None) or exc
    reason = " ".join(str(cause).split()) or type(cause).__name__
    password = _password(url)
    if password:
        reason = reason.replace(password, "***")
    return f"cannot open the database {masked(url)}: {reason[:300]}"


def _password(url: str) -> str | None:
    try:
        return make_url(url).password
    except (ArgumentError, ValueError):
        return None
