"""Passwords and login sessions for the web admin center.

Who sets a password: the provider's operator (`commcredits tenants set-password`, or
`PUT /v1/tenants/{tid}/users/{uid}/password` with the operator token), or the user themself,
with their own API token on the same endpoint or on the web Account page after logging in.
Nobody else: a tenant admin cannot set another user's password. Passwords are hashed with
argon2id (argon2-cffi's defaults, rehashed on login when those change); setting a password
ends every web session of the user.

A login opens a session: a random 256-bit secret in an HttpOnly cookie, stored as its
SHA-256 (`db.schema_web`). It ends after `SESSION_IDLE` without a request, after
`SESSION_MAX` in any case, at logout, or when the password changes. Times come from the
runtime's clock, like everything else. The CSRF token of a session is an HMAC of the
session secret, so it needs no storage and changes with every login. Each request re-reads
the user's roles, so a role taken away takes effect at once.

Failed logins slow further attempts from the same client and on the same e-mail address
with an exponential wait, never a lock (`services.login_throttle`). Every login costs one
argon2 verification whatever happens (an unknown address verifies a dummy hash) and writes
to the database only when it succeeds, and a waiting address is refused the same way
whether or not it has an account, so neither the answer nor its time tells which e-mail
addresses exist.
The operator view is reached by logging in with the operator's API token; the session is
tied to that token and ends when the token is revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ...db import schema_web as store
from ...db import tenants as tenant_db
from ...db import tokens as token_db
from ...db.engine import read_tx, unit_of_work
from ...db.rows import new_id
from ...errors import CommCreditsError, Forbidden, NotFound, Unauthenticated, ValidationError
from ..runtime import Runtime
from .login_throttle import LoginThrottle
from .principal import OPERATOR, Principal, require_self_or_operator

SESSION_IDLE = timedelta(minutes=30)
SESSION_MAX = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)
MIN_PASSWORD, MAX_PASSWORD = 12, 1024

_hasher = PasswordHasher()  # tests swap in a cheaper one; hashes carry their own parameters
_dummy_hashes: dict[int, str] = {}


def _dummy_hash() -> str:
    """A hash of a password nobody has, verified when no user matches so that a login for an
    unknown e-mail takes as long as one with a wrong password."""
    if id(_hasher) not in _dummy_hashes:
        _dummy_hashes[id(_hasher)] = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hashes[id(_hasher)]


class LoginFailed(Unauthenticated):
    code, title = "login_failed", "Login failed"


class LoginThrottled(CommCreditsError):
    """Too many failed logins from this client or on this address: wait, then try again."""

    status, code, title = 429, "login_throttled", "Too many failed logins"


def throttle_of(rt: Runtime) -> LoginThrottle:
    """The process's login throttle (one per runtime)."""
    throttle: LoginThrottle = rt.caches.setdefault("login_throttle", LoginThrottle())
    return throttle


def _plausible(email: str, tenant_id: str | None, password: str) -> bool:
    """Whether a login form's fields could name an account (PostgreSQL refuses NUL in text)."""
    fields = (email, tenant_id or "")
    return len(email) <= 254 and len(tenant_id or "") <= 64 and len(password) <= MAX_PASSWORD \
        and not any("\x00" in f for f in fields)


def _refuse_while_waiting(throttle: LoginThrottle, client: str, account: str | None) -> None:
    wait = throttle.wait_seconds(client, account)
    if wait:
        unit = "second" if wait == 1 else "seconds"
        raise LoginThrottled(f"too many failed logins: try again in {wait} {unit}", retry_after=wait)


class TenantRequired(Unauthenticated):
    """The e-mail has a password in several tenants: the login must name one."""

    code, title = "tenant_required", "Choose an organisation"


@dataclass(frozen=True, slots=True)
class WebSession:
    id: str
    principal: Principal
    csrf_token: str
    display_name: str
    email: str | None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_for(secret: str) -> str:
    return hmac.new(secret.encode(), b"commcredits web csrf", hashlib.sha256).hexdigest()


def csrf_ok(session: WebSession, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf_token, str(submitted))


def check_password_rules(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValidationError(f"a password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if len(set(password)) < 4:
        raise ValidationError("a password needs more than a few different characters")


def set_password(rt: Runtime, who: Principal, tenant_id: str, user_id: str, password: str) -> None:
    """The operator, or the user themself, sets the user's web password."""
    require_self_or_operator(who, tenant_id, user_id, "set a password")
    check_password_rules(password)
    digest = _hasher.hash(password)
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            if tenant_db.get_user(conn, tenant_id, user_id) is None:
                raise NotFound(f"user {user_id} not found")
            store.save_password(conn, user_id=user_id, tenant_id=tenant_id, password_hash=digest, now=rt.clock.now())
            store.delete_user_sessions(conn, user_id)


def set_password_by_email(rt: Runtime, who: Principal, tenant_id: str, email: str, password: str) -> str:
    """As `set_password`, naming the user by e-mail; returns the user's id."""
    with read_tx(rt.engine) as conn:
        user = tenant_db.user_by_email(conn, tenant_id, email.strip().lower())
    if user is None:
        raise NotFound(f"no user with e-mail {email} in tenant {tenant_id}")
    set_password(rt, who, tenant_id, user.id, password)
    return user.id


def has_password(rt: Runtime, user_id: str) -> bool:
    with read_tx(rt.engine) as conn:
        return store.password_of(conn, user_id) is not None


def _verify(digest: str, password: str) -> bool:
    try:
        return _hasher.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return False


def login(rt: Runtime, *, email: str, password: str, tenant_id: str | None = None, client: str = "-") -> str:
    """Check an e-mail and password from `client` (an IP address); open a session and return
    its cookie secret."""
    email, throttle = email.strip().lower(), throttle_of(rt)
    account = email[:320]  # the throttle's key: bounded, whatever was typed
    _refuse_while_waiting(throttle, client, account)
    rows: list[store.PasswordRow] = []
    if _plausible(email, tenant_id, password):  # else no account can match: not even a query
        with read_tx(rt.engine) as conn:
            rows = store.passwords_for_email(conn, email, tenant_id or None)
    if not rows:
        _verify(_dummy_hash(), password)
    matched = [row for row in rows if _verify(row.password_hash, password)]
    if not matched:
        throttle.failed(client, account)
        raise LoginFailed("the e-mail address or the password is not right")
    throttle.succeeded(account)
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            for row in matched:
                rehash = _hasher.hash(password) if _hasher.check_needs_rehash(row.password_hash) else None
                store.record_login_outcome(conn, row.user_id, failed_attempts=0, locked_until=None,
                                           password_hash=rehash)
    if len(matched) > 1:
        raise TenantRequired("this e-mail address belongs to several organisations: enter the organisation ID")
    return _open(rt, kind="user", tenant_id=matched[0].tenant_id, user_id=matched[0].user_id)


def operator_login(rt: Runtime, *, token: str, client: str = "-") -> str:
    """Open an operator session with the operator's API token (throttled per client only:
    tokens cannot be guessed, and a stranger must not be able to slow the operator)."""
    throttle = throttle_of(rt)
    _refuse_while_waiting(throttle, client, None)
    with read_tx(rt.engine) as conn:
        found = token_db.find(conn, token.strip()) if token.strip() else None
    if found is None or found.kind != "operator":
        throttle.failed(client, None)
        raise LoginFailed("that is not a valid operator token")
    return _open(rt, kind="operator", operator_token_id=found.id)


def _open(
    rt: Runtime, *, kind: str, tenant_id: str | None = None, user_id: str | None = None,
    operator_token_id: str | None = None,
) -> str:
    secret, now = secrets.token_urlsafe(32), rt.clock.now()
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            store.delete_stale_sessions(conn, now=now, idle_before=now - SESSION_IDLE)
            store.insert_session(conn, session_id=new_id(), token_hash=_hash(secret), kind=kind, tenant_id=tenant_id,
                                 user_id=user_id, operator_token_id=operator_token_id, now=now,
                                 expires_at=now + SESSION_MAX)
    return secret


def resolve(rt: Runtime, secret: str | None) -> WebSession | None:
    """The live session a cookie names, with the user's current roles; None if there is none."""
    if not secret:
        return None
    now = rt.clock.now()
    with read_tx(rt.engine) as conn:
        row = store.session_by_hash(conn, _hash(secret))
        if row is None or row.expires_at <= now or row.last_seen_at + SESSION_IDLE <= now:
            return None
        if row.kind == "operator":
            if row.operator_token_id is None or not store.operator_token_live(conn, row.operator_token_id):
                return None
            session = WebSession(row.id, OPERATOR, csrf_for(secret), "Operator", None)
        else:
            assert row.tenant_id and row.user_id
            user = tenant_db.get_user(conn, row.tenant_id, row.user_id)
            if user is None:
                return None
            who = Principal("user", user.tenant_id, user.id, user.roles)
            session = WebSession(row.id, who, csrf_for(secret), user.display_name, user.email)
    if now - row.last_seen_at >= TOUCH_EVERY:
        for tx in unit_of_work(rt.engine):
            with tx as conn:
                store.touch_session(conn, row.id, now)
    return session


def logout(rt: Runtime, session: WebSession) -> None:
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            store.delete_session(conn, session.id)


def change_own_password(rt: Runtime, session: WebSession, *, current: str, new: str) -> str:
    """A logged-in user replaces their password; every session ends and a new one opens."""
    who = session.principal
    if who.kind != "user" or not who.user_id or not who.tenant_id:
        raise Forbidden("the operator has no password: log in with the operator token")
    with read_tx(rt.engine) as conn:
        row = store.password_of(conn, who.user_id)
    if row is None or not _verify(row.password_hash, current):
        raise ValidationError("the current password is not right")
    set_password(rt, who, who.tenant_id, who.user_id, new)
    return _open(rt, kind="user", tenant_id=who.tenant_id, user_id=who.user_id)

