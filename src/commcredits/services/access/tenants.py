"""Use cases for tenants, users and tokens."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from ...db import ledger
from ...db import tenants as tenant_db
from ...db import tokens as token_db
from ...db.engine import read_tx, unit_of_work
from ...db.rows import new_id
from ...db.tenants import Tenant, User
from ...domain.access import (
    GLOBAL_ADMINISTRATOR,
    MANAGE_USERS,
    VIEW_BILLING,
    check_roles,
    role_change_refusal,
)
from ...domain.money import Money, MoneyError, check_currency
from ...domain.purchases import TenantFacts, purchase_refusal
from ...errors import Conflict, Forbidden, NotFound, ValidationError
from ..billing.subscriptions import check_license_capacity
from ..runtime import Runtime
from .principal import Principal, require_operator, require_self_or_operator, require_tenant

LICENSES = (
    "communications_credits", "domestic_calling_plan", "international_calling_plan",
    "pay_as_you_go_calling_plan", "audio_conferencing", "audio_conferencing_pay_per_minute",
)
BILLING_MODES = ("prepaid", "postpaid")


@dataclass(frozen=True, slots=True)
class PurchaseStatus:
    """Whether the tenant may buy credit now; when not, why (`reason`, a code) and the way
    out (`detail`)."""

    allowed: bool
    reason: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class TenantSummary:
    """A tenant as the operator's list shows it: its balance (usable funds less any deficit)
    and whether it may buy credit."""

    tenant: Tenant
    balance: Money
    purchase: PurchaseStatus


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just made: `token` is the clear text, shown this once (only its hash is
    stored). `user_id` is set for user tokens; a switch token's `tenant_id` may be None (all
    tenants)."""

    id: str
    token: str
    kind: str
    tenant_id: str | None
    user_id: str | None = None


def check_country(value: Any, field: str) -> str:
    code = str(value or "").strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(f"{field} must be an ISO 3166 alpha-2 country code, got {value!r}")
    return code


def check_timezone(value: Any) -> str:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"timezone must be an IANA time zone such as Europe/Paris, got {value!r}") from None
    return str(value)


def check_licenses(values: list[str]) -> tuple[str, ...]:
    unknown = [v for v in values if v not in LICENSES]
    if unknown:
        raise ValidationError(f"unknown license(s): {', '.join(unknown)}")
    return tuple(v for v in LICENSES if v in values)


def create_tenant(
    rt: Runtime, who: Principal, *, name: str, country: str, currency: str, billing_country: str,
    timezone: str = "UTC", billing_mode: str = "prepaid", rating_key: str | None = None,
    partner_funded: bool = False,
) -> Tenant:
    require_operator(who)
    if not name or not name.strip():
        raise ValidationError("name is required")
    try:
        currency = check_currency(str(currency).upper())
    except MoneyError as exc:
        raise ValidationError(str(exc)) from None
    if billing_mode not in BILLING_MODES:
        raise ValidationError("billing_mode must be 'prepaid' or 'postpaid'")
    tenant = Tenant(
        id=new_id(), name=name.strip(), country=check_country(country, "country"),
        currency=currency, billing_country=check_country(billing_country, "billing_country"),
        timezone=check_timezone(timezone), billing_mode=billing_mode,
        rating_key=rating_key or currency, purchase_mitigation=False,
        partner_funded=bool(partner_funded), deficit=0, reserved=0, created_at=rt.clock.now(),
    )
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            tenant_db.insert_tenant(conn, tenant)
    return tenant


def get_tenant(rt: Runtime, who: Principal, tenant_id: str) -> Tenant:
    require_tenant(who, tenant_id, VIEW_BILLING)
    with read_tx(rt.engine) as conn:
        tenant = tenant_db.get(conn, tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} not found")
    return tenant


def update_tenant(rt: Runtime, who: Principal, tenant_id: str, changes: dict[str, Any]) -> Tenant:
    """Operator changes: purchase mitigation, partner funding, rating key, name, time zone."""
    require_operator(who)
    allowed = {"purchase_mitigation", "partner_funded", "rating_key", "name", "timezone"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(f"cannot change {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}")
    emptied = sorted(k for k in ("rating_key", "name", "timezone") if k in changes and changes[k] is None)
    if emptied:
        raise ValidationError(f"{', '.join(emptied)} cannot be null: leave a field out to keep it")
    if "name" in changes:
        if not str(changes["name"]).strip():
            raise ValidationError("name is required")
        changes = {**changes, "name": str(changes["name"]).strip()}
    if "timezone" in changes:
        check_timezone(changes["timezone"])
    for flag in ("purchase_mitigation", "partner_funded"):
        if flag in changes and not isinstance(changes[flag], bool):
            raise ValidationError(f"{flag} must be true or false")
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            if tenant_db.lock(conn, tenant_id) is None:
                raise NotFound(f"tenant {tenant_id} not found")
            if changes:
                tenant_db.set_fields(conn, tenant_id, **changes)
            tenant = tenant_db.get(conn, tenant_id)
    assert tenant is not None
    return tenant


def create_user(
    rt: Runtime, who: Principal, tenant_id: str, *, email: str, display_name: str,
    usage_location: str, roles: list[str] | None = None, licenses: list[str] | None = None,
) -> User:
    require_tenant(who, tenant_id, MANAGE_USERS)
    if not email or "@" not in email:
        raise ValidationError(f"email {email!r} is not an e-mail address")
    _check_role_change(who, target_id=None, old=(), new=_roles(roles or []))
    user = User(
        id=new_id(), tenant_id=tenant_id, email=email.strip().lower(),
        display_name=(display_name or email).strip(),
        usage_location=check_country(usage_location, "usage_location"),
        roles=_roles(roles or []), licenses=check_licenses(licenses or []),
        created_at=rt.clock.now(),
    )
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            if tenant_db.get(conn, tenant_id) is None:
                raise NotFound(f"tenant {tenant_id} not found")
            if tenant_db.user_by_email(conn, tenant_id, user.email):
                raise Conflict(f"a user with e-mail {user.email} already exists in this tenant")
            check_license_capacity(conn, tenant_id, user.licenses, None)
            tenant_db.insert_user(conn, user)
    return user


def _check_role_change(who: Principal, *, target_id: str | None, old: tuple[str, ...], new: tuple[str, ...]) -> None:
    refusal = role_change_refusal(
        actor_roles=None if who.is_operator else who.roles,
        actor_is_target=target_id is not None and who.user_id == target_id, old_roles=old, new_roles=new,
    )
    if refusal is not None:
        raise Forbidden(refusal[1], code=refusal[0])


def _check_last_global_admin(conn: Any, tenant_id: str, user: User, new: tuple[str, ...]) -> None:
    """A tenant keeps at least one Global Administrator once it has one (the operator too is
    refused: assign the role to someone else first). The caller holds the tenant's lock."""
    if GLOBAL_ADMINISTRATOR not in user.roles or GLOBAL_ADMINISTRATOR in new:
        return
    after: str | None = None
    while page := tenant_db.list_users(conn, tenant_id, after=after, limit=500):
        if any(u.id != user.id and GLOBAL_ADMINISTRATOR in u.roles for u in page):
            return
        after = page[-1].id
    raise Conflict("the last Global Administrator of a tenant cannot be removed: make another user "
                   "Global Administrator first", code="last_global_administrator")


def _check_may_edit(who: Principal, user: User) -> None:
    """License and User Account Administrators edit users without roles (and themselves)."""
    if who.is_operator or not user.roles or who.user_id == user.id or GLOBAL_ADMINISTRATOR in who.roles:
        return
    raise Forbidden("only a Global Administrator edits a user who holds admin roles", code="admin_user_protected")


def _roles(roles: list[str]) -> tuple[str, ...]:
    try:
        return check_roles(roles)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def update_user(
    rt: Runtime, who: Principal, tenant_id: str, user_id: str, changes: dict[str, Any]
) -> User:
    require_tenant(who, tenant_id, MANAGE_USERS)
    allowed = {"roles", "licenses", "usage_location", "display_name"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(f"cannot change {', '.join(sorted(unknown))}")
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            if tenant_db.lock(conn, tenant_id) is None:
                raise NotFound(f"tenant {tenant_id} not found")
            user = tenant_db.get_user(conn, tenant_id, user_id)
            if user is None:
                raise NotFound(f"user {user_id} not found")
            if "roles" in changes:
                new_roles = _roles(list(changes["roles"]))
                _check_role_change(who, target_id=user.id, old=user.roles, new=new_roles)
                _check_last_global_admin(conn, tenant_id, user, new_roles)
                user = replace(user, roles=new_roles)
            if "licenses" in changes:
                user = replace(user, licenses=check_licenses(list(changes["licenses"])))
                check_license_capacity(conn, tenant_id, user.licenses, user_id)
            if "usage_location" in changes:
                user = replace(user, usage_location=check_country(changes["usage_location"], "usage_location"))
            if "display_name" in changes:
                _check_may_edit(who, user)
                user = replace(user, display_name=str(changes["display_name"]).strip())
            tenant_db.update_user(conn, user)
    assert user is not None  # the loop ends only after a try that completed
    return user


def list_users(rt: Runtime, who: Principal, tenant_id: str, *, after: str | None, limit: int) -> list[User]:
    require_tenant(who, tenant_id, VIEW_BILLING)
    with read_tx(rt.engine) as conn:
        if tenant_db.get(conn, tenant_id) is None:
            raise NotFound(f"tenant {tenant_id} not found")
        return tenant_db.list_users(conn, tenant_id, after=after, limit=limit)


def issue_user_token(rt: Runtime, who: Principal, tenant_id: str, user_id: str) -> IssuedToken:
    require_self_or_operator(who, tenant_id, user_id, "issue a user token")
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            if tenant_db.get_user(conn, tenant_id, user_id) is None:
                raise NotFound(f"user {user_id} not found")
            token, clear = token_db.issue(conn, kind="user", now=rt.clock.now(), tenant_id=tenant_id, user_id=user_id)
    return IssuedToken(token.id, clear, "user", tenant_id, user_id)


def issue_switch_token(rt: Runtime, who: Principal, *, tenant_id: str | None) -> IssuedToken:
    require_operator(who)
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            if tenant_id and tenant_db.get(conn, tenant_id) is None:
                raise NotFound(f"tenant {tenant_id} not found")
            token, clear = token_db.issue(conn, kind="switch", now=rt.clock.now(), tenant_id=tenant_id)
    return IssuedToken(token.id, clear, "switch", tenant_id)


def revoke_token(rt: Runtime, who: Principal, token_id: str) -> None:
    require_operator(who)
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            if not token_db.revoke(conn, token_id, rt.clock.now()):
                raise NotFound(f"token {token_id} not found")


def purchase_status(rt: Runtime, tenant: Tenant) -> PurchaseStatus:
    """Whether the tenant may buy credit now, and if not why and what to do."""
    refusal = purchase_refusal(
        TenantFacts(tenant.country, tenant.billing_country, tenant.billing_mode,
                    tenant.purchase_mitigation, tenant.partner_funded),
        rt.settings.blocked_countries,
    )
    if refusal is None:
        return PurchaseStatus(allowed=True)
    return PurchaseStatus(allowed=False, reason=refusal.reason, detail=refusal.detail)


def tenant_summaries(
    rt: Runtime, who: Principal, *, after: str | None, limit: int
) -> list[TenantSummary]:
    """Every tenant with its balance and purchase status (operator view)."""
    require_operator(who)
    now = rt.clock.now()
    with read_tx(rt.engine) as conn:
        rows = tenant_db.list_all(conn, after=after, limit=limit)
        return [
            TenantSummary(t, Money(ledger.usable_total(conn, t.id, now) - t.deficit, t.currency),
                          purchase_status(rt, t))
            for t in rows
        ]
