"""Opening the database: its existence, its schema, its mode (sandbox or production), and
the operator token.

A database records the mode it was made in (`mode` in the settings table): `commcredits
init` and `serve` write it on first use, `sandbox` when asked for (`--sandbox`, `--demo`,
`COMMCREDITS_SANDBOX=1`), `production` otherwise. From then on every entry point (the
server, its background jobs, every CLI command) takes the mode, and so the clock, from the
database rather than from how it was started: a CLI command run without
`COMMCREDITS_SANDBOX` on a sandbox database acts at the sandbox clock's time, not the wall
clock's. Asking for sandbox mode on a production database is refused (its clock is the wall
clock and nobody may move it). Only `init` and `serve` create a database; every other
command refuses a missing or empty one, naming it and the fix.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, select, text

from ..config import Settings
from ..db import settings_store
from ..db import tokens as token_db
from ..db.engine import make_engine, normalise_url, read_tx, run_write, unit_of_work
from ..db.migrate import upgrade
from ..db.registry import metadata
from ..db.schema import tokens
from .clock import KEY as SANDBOX_NOW
from .runtime import Runtime

MODE = "mode"
HINT = "run `commcredits init` to create it, or set COMMCREDITS_DATABASE_URL to the database you mean"


class SetupError(Exception):
    """The database cannot be used as asked: missing, without a schema, or in the other mode.
    The CLI prints the message and exits with status 2 (a usage error, as for a bad option)."""


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL, or None (PostgreSQL, or an in-memory database)."""
    url = normalise_url(url)
    if not url.startswith("sqlite") or ":///" not in url:
        return None
    path = url.split(":///", 1)[1].split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def open_runtime(settings: Settings, *, create: bool = False) -> Runtime:
    """The runtime of an existing database (or, with `create`, a new one), migrated, in the
    database's own mode. `settings.sandbox` is a request for sandbox mode: recorded by `init`
    and `serve` (`create`) on a database with no mode yet, refused on a production one."""
    path = sqlite_file(settings.database_url)
    if not create and path is not None and not path.is_file():
        raise SetupError(f"no database at {path.resolve()}: {HINT}")
    engine = make_engine(settings.database_url)
    if not create and not inspect(engine).has_table("alembic_version"):
        engine.dispose()
        raise SetupError(f"the database {_shown(settings.database_url)} has no commcredits schema: {HINT}")
    upgrade(engine)
    sandbox = _resolve_mode(engine, settings, record=create)
    return Runtime.from_settings(replace(settings, sandbox=sandbox), engine=engine)


def _resolve_mode(engine: Engine, settings: Settings, *, record: bool) -> bool:
    with read_tx(engine) as conn:
        recorded = settings_store.get(conn, MODE)
        moved = settings_store.get(conn, SANDBOX_NOW) is not None
    if recorded == "production" and settings.sandbox:
        raise SetupError(
            f"the database {_shown(settings.database_url)} is a production database, so sandbox mode "
            "(--sandbox, --demo or COMMCREDITS_SANDBOX=1) is refused on it; use a database of its own "
            "for a sandbox (COMMCREDITS_DATABASE_URL)")
    if recorded is not None:
        return recorded == "sandbox"
    sandbox = settings.sandbox or moved  # a database from before modes were recorded
    if record:
        for tx in unit_of_work(engine):
            with tx as conn:
                settings_store.put(conn, MODE, "sandbox" if sandbox else "production")
    return sandbox


def _shown(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(normalise_url(url)).render_as_string(hide_password=True)


def migrate(rt: Runtime) -> None:
    upgrade(rt.engine)


def reset_sandbox(rt: Runtime) -> None:
    """Drop every table and build the schema afresh, still a sandbox; refused elsewhere."""
    if not rt.settings.sandbox:
        raise SetupError(f"the database {_shown(rt.settings.database_url)} is not a sandbox; "
                         "only a sandbox database can be reset")
    metadata.drop_all(rt.engine)
    with rt.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(rt.engine)
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            settings_store.put(conn, MODE, "sandbox")


def ensure_operator_token(rt: Runtime, *, always_new: bool = False) -> str | None:
    """Make sure an operator can log in; return a clear token when one was created.

    `COMMCREDITS_OPERATOR_TOKEN`, when set, is registered (once) and used. Otherwise a token
    is generated when none exists yet, or on every call with `always_new` (`commcredits
    init`, `commcredits tokens create-operator`). Clear tokens are shown once: only their
    hashes are stored.
    """
    configured = rt.settings.operator_token

    def ensure(conn: Connection) -> str | None:
        if configured:
            if not token_db.exists_hash(conn, configured):
                token_db.issue(conn, kind="operator", now=rt.clock.now(), clear=configured)
            return configured
        has_one = conn.execute(
            select(tokens.c.id).where(tokens.c.kind == "operator", tokens.c.revoked_at.is_(None))
        ).first()
        if has_one and not always_new:
            return None
        _, clear = token_db.issue(conn, kind="operator", now=rt.clock.now())
        return clear

    return run_write(rt.engine, ensure)


def new_operator_token(rt: Runtime) -> str:
    """A new operator token (the others stay valid), even when one is configured."""
    return run_write(rt.engine, lambda conn: token_db.issue(conn, kind="operator", now=rt.clock.now())[1])
