"""Database set-up and the operator token."""

from __future__ import annotations

from sqlalchemy import select

from ..db import tokens as token_db
from ..db.engine import write_tx
from ..db.migrate import upgrade
from ..db.schema import tokens
from .runtime import Runtime


def migrate(rt: Runtime) -> None:
    upgrade(rt.engine)


def ensure_operator_token(rt: Runtime, *, always_new: bool = False) -> str | None:
    """Make sure an operator can log in; return a clear token when one was created.

    `COMMCREDITS_OPERATOR_TOKEN`, when set, is registered (once) and used. Otherwise a token
    is generated when none exists yet, or on every call with `always_new` (`commcredits
    init`). Clear tokens are shown once: only their hashes are stored.
    """
    configured = rt.settings.operator_token
    with write_tx(rt.engine) as conn:
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
