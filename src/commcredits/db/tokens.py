"""API tokens, stored as SHA-256 hashes.

Tokens are 256-bit random strings (`secrets.token_urlsafe(32)`), so a fast hash is the right
tool: there is nothing to brute-force, and every API request verifies one. (Argon2 is for
low-entropy secrets such as passwords.) The clear token is shown once and never stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from .rows import new_id
from .schema import tokens


@dataclass(frozen=True, slots=True)
class Token:
    id: str
    kind: str
    tenant_id: str | None
    user_id: str | None


def hash_token(clear: str) -> str:
    return hashlib.sha256(clear.encode()).hexdigest()


def issue(
    conn: Connection, *, kind: str, now: datetime, tenant_id: str | None = None,
    user_id: str | None = None, clear: str | None = None,
) -> tuple[Token, str]:
    """Store a new token; return it with its clear text (shown once)."""
    prefix = {"operator": "cco", "user": "ccu", "switch": "ccs"}[kind]
    clear = clear or f"{prefix}_{secrets.token_urlsafe(32)}"
    token = Token(new_id(), kind, tenant_id, user_id)
    conn.execute(
        tokens.insert().values(
            id=token.id, token_hash=hash_token(clear), kind=kind, tenant_id=tenant_id,
            user_id=user_id, created_at=now,
        )
    )
    return token, clear


def find(conn: Connection, clear: str) -> Token | None:
    row = conn.execute(
        select(tokens.c.id, tokens.c.kind, tokens.c.tenant_id, tokens.c.user_id).where(
            tokens.c.token_hash == hash_token(clear), tokens.c.revoked_at.is_(None)
        )
    ).first()
    return Token(*row) if row else None


def exists_hash(conn: Connection, clear: str) -> bool:
    return conn.execute(
        select(tokens.c.id).where(tokens.c.token_hash == hash_token(clear))
    ).first() is not None


def revoke(conn: Connection, token_id: str, now: datetime) -> bool:
    result = conn.execute(
        update(tokens).where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount == 1
