"""Tables of the web admin center (registered on the shared metadata), and the few queries
that read and write them.

- `user_passwords`: one argon2 hash per tenant user who may log in to the web pages, with a
  counter of consecutive failed logins and the instant until which the account is locked.
  A user without a row has no password and cannot log in (API tokens are unaffected).
- `web_sessions`: one row per login. The cookie carries a random 256-bit secret; the row
  keeps only its SHA-256 (as `tokens` does for API tokens), so a copy of the database
  cannot be replayed as a cookie. A session belongs to a tenant user or, for the operator
  view, to the operator token it was opened with; it ends at `expires_at` (absolute), after
  a period without requests (`last_seen_at`), at logout (the row is deleted), or when the
  user's password is changed (every row of the user is deleted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    delete,
    or_,
    select,
    update,
)

from .schema import UTCDateTime, metadata, tokens, users

user_passwords = Table(
    "user_passwords", metadata,
    Column("user_id", String(36), ForeignKey("users.id"), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("failed_attempts", Integer, nullable=False),
    Column("locked_until", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("failed_attempts >= 0", name="failed_attempts"),
)

web_sessions = Table(
    "web_sessions", metadata,
    Column("id", String(36), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("tenant_id", String(36), ForeignKey("tenants.id")),
    Column("user_id", String(36), ForeignKey("users.id")),
    Column("operator_token_id", String(36), ForeignKey("tokens.id")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    CheckConstraint(
        "(kind = 'user' AND user_id IS NOT NULL AND tenant_id IS NOT NULL) OR "
        "(kind = 'operator' AND operator_token_id IS NOT NULL)",
        name="owner",
    ),
    Index(None, "user_id"),
)


@dataclass(frozen=True, slots=True)
class PasswordRow:
    user_id: str
    tenant_id: str
    password_hash: str
    failed_attempts: int
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    kind: str
    tenant_id: str | None
    user_id: str | None
    operator_token_id: str | None
    last_seen_at: datetime
    expires_at: datetime


def passwords_for_email(conn: Connection, email: str, tenant_id: str | None) -> list[PasswordRow]:
    """The password rows of every user with this e-mail (in one tenant, when given)."""
    query = (
        select(user_passwords.c.user_id, user_passwords.c.tenant_id, user_passwords.c.password_hash,
               user_passwords.c.failed_attempts, user_passwords.c.locked_until)
        .join(users, users.c.id == user_passwords.c.user_id)
        .where(users.c.email == email)
        .order_by(users.c.created_at, users.c.id)
    )
    if tenant_id:
        query = query.where(users.c.tenant_id == tenant_id)
    return [PasswordRow(*row) for row in conn.execute(query)]


def password_of(conn: Connection, user_id: str) -> PasswordRow | None:
    row = conn.execute(
        select(user_passwords.c.user_id, user_passwords.c.tenant_id, user_passwords.c.password_hash,
               user_passwords.c.failed_attempts, user_passwords.c.locked_until)
        .where(user_passwords.c.user_id == user_id)
    ).first()
    return PasswordRow(*row) if row else None


def save_password(conn: Connection, *, user_id: str, tenant_id: str, password_hash: str, now: datetime) -> None:
    values = {"password_hash": password_hash, "failed_attempts": 0, "locked_until": None, "updated_at": now}
    if conn.execute(update(user_passwords).where(user_passwords.c.user_id == user_id).values(**values)).rowcount:
        return
    conn.execute(user_passwords.insert().values(user_id=user_id, tenant_id=tenant_id, **values))


def record_login_outcome(
    conn: Connection, user_id: str, *, failed_attempts: int, locked_until: datetime | None,
    password_hash: str | None = None,
) -> None:
    values: dict[str, object] = {"failed_attempts": failed_attempts, "locked_until": locked_until}
    if password_hash:
        values["password_hash"] = password_hash
    conn.execute(update(user_passwords).where(user_passwords.c.user_id == user_id).values(**values))


def insert_session(
    conn: Connection, *, session_id: str, token_hash: str, kind: str, tenant_id: str | None,
    user_id: str | None, operator_token_id: str | None, now: datetime, expires_at: datetime,
) -> None:
    conn.execute(web_sessions.insert().values(
        id=session_id, token_hash=token_hash, kind=kind, tenant_id=tenant_id, user_id=user_id,
        operator_token_id=operator_token_id, created_at=now, last_seen_at=now, expires_at=expires_at,
    ))


def session_by_hash(conn: Connection, token_hash: str) -> SessionRow | None:
    row = conn.execute(
        select(web_sessions.c.id, web_sessions.c.kind, web_sessions.c.tenant_id, web_sessions.c.user_id,
               web_sessions.c.operator_token_id, web_sessions.c.last_seen_at, web_sessions.c.expires_at)
        .where(web_sessions.c.token_hash == token_hash)
    ).first()
    return SessionRow(*row) if row else None


def touch_session(conn: Connection, session_id: str, now: datetime) -> None:
    conn.execute(update(web_sessions).where(web_sessions.c.id == session_id).values(last_seen_at=now))


def delete_session(conn: Connection, session_id: str) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.id == session_id))


def delete_user_sessions(conn: Connection, user_id: str) -> int:
    return int(conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id)).rowcount)


def delete_stale_sessions(conn: Connection, *, now: datetime, idle_before: datetime) -> int:
    stale = or_(web_sessions.c.expires_at <= now, web_sessions.c.last_seen_at <= idle_before)
    return int(conn.execute(delete(web_sessions).where(stale)).rowcount)


def operator_token_live(conn: Connection, token_id: str) -> bool:
    row = conn.execute(
        select(tokens.c.id).where(tokens.c.id == token_id, tokens.c.kind == "operator", tokens.c.revoked_at.is_(None))
    ).first()
    return row is not None
