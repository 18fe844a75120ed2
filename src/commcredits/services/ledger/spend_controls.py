"""Spend controls and purchase limits: read, change (journaled), and the figures authorize
checks against.

Changing a control needs the billing permission (global and billing administrators, and
the operator); every field that changes gets a journal row saying who changed it, when, and
from what to what. A tenant that never saved its controls has the defaults.
Purchase limits are operator data per currency (DOMAIN.md "Purchase limits per currency").
The use cases return `ControlsView` and `LimitsView`; the edges format them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from ...db import spend_controls as db
from ...db import tenants as tenant_db
from ...db.engine import read_tx, run_write, unit_of_work
from ...db.spend_controls import Change
from ...db.tenants import Tenant, User
from ...domain.access import MANAGE_BILLING, VIEW_BILLING
from ...domain.money import Money, MoneyError, check_currency, minor_units, parse_micros
from ...domain.purchases import PurchaseLimits
from ...domain.spend_controls import (
    DIAL_OUT_POLICIES,
    SpendControls,
    cap_room,
    day_bounds,
    day_key,
    effective_policy,
    month_bounds,
    month_key,
    policy_blocks,
)
from ...errors import NotFound, ValidationError
from ..access.principal import Principal, require_operator, require_tenant
from ..runtime import Runtime
from .funds import parse_amount

MONEY_FIELDS = ("daily_limit", "monthly_limit", "user_daily_limit", "low_balance_threshold")


def who_label(conn: Connection, who: Principal) -> str:
    """How the journal names who changed something: 'operator' or 'user <email> (<id>)'."""
    if who.kind == "user" and who.tenant_id and who.user_id:
        user = tenant_db.get_user(conn, who.tenant_id, who.user_id)
        return f"user {user.email if user else '?'} ({who.user_id})"
    return who.kind


def _tenant(conn: Connection, tenant_id: str) -> Tenant:
    tenant = tenant_db.get(conn, tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} not found")
    return tenant


def _text(controls: SpendControls, field: str, currency: str) -> str | None:
    value = getattr(controls, field)
    if value is None or field not in MONEY_FIELDS:
        return None if value is None else str(value)
    return Money(value, currency).text


@dataclass(frozen=True, slots=True)
class ControlsView:
    """A tenant's spend controls (money fields as `Money`, None = no limit) and the latest
    changes of the journal, newest first."""

    dial_out_policy: str
    daily_limit: Money | None
    monthly_limit: Money | None
    user_daily_limit: Money | None
    low_balance_threshold: Money | None
    max_auto_recharges_per_day: int
    currency: str
    changes: tuple[Change, ...]


def _controls_view(conn: Connection, tenant: Tenant, controls: SpendControls) -> ControlsView:
    def money(micros: int | None) -> Money | None:
        return None if micros is None else Money(micros, tenant.currency)

    return ControlsView(controls.dial_out_policy, money(controls.daily_limit), money(controls.monthly_limit),
                        money(controls.user_daily_limit), money(controls.low_balance_threshold),
                        controls.max_auto_recharges_per_day, tenant.currency,
                        tuple(db.changes(conn, tenant.id, limit=20)))


def controls_view(rt: Runtime, who: Principal, tenant_id: str) -> ControlsView:
    require_tenant(who, tenant_id, VIEW_BILLING)
    with read_tx(rt.engine) as conn:
        tenant = _tenant(conn, tenant_id)
        return _controls_view(conn, tenant, db.get_controls(conn, tenant_id))


def _parse(changes: dict[str, Any], currency: str) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for field, value in changes.items():
        if field not in db.FIELDS:
            raise ValidationError(f"{field}: not a spend control; use {', '.join(db.FIELDS)}")
        if field in MONEY_FIELDS:
            parsed[field] = None if value is None else parse_amount(value, currency, purchase=True, field=field)
        elif field == "dial_out_policy":
            if value not in DIAL_OUT_POLICIES:
                raise ValidationError(f"dial_out_policy: use one of {', '.join(DIAL_OUT_POLICIES)}")
            parsed[field] = value
        else:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError("max_auto_recharges_per_day: a whole number from 1 to 100")
            parsed[field] = value
    return parsed


def update_controls(rt: Runtime, who: Principal, tenant_id: str, changes: dict[str, Any]) -> ControlsView:
    """Change the fields given (the others keep their value); null turns a limit off."""
    require_tenant(who, tenant_id, MANAGE_BILLING)

    def change(conn: Connection) -> ControlsView:
        tenant = tenant_db.lock(conn, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        old = db.get_controls(conn, tenant_id)
        try:
            new = replace(old, **_parse(changes, tenant.currency))
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        now, by = rt.clock.now(), who_label(conn, who)
        for field in db.FIELDS:
            before, after = _text(old, field, tenant.currency), _text(new, field, tenant.currency)
            if before != after:
                db.journal(conn, tenant_id=tenant_id, field=field, old=before, new=after, by=by, now=now)
        if new != old:
            db.save_controls(conn, tenant_id, new, now)
        return _controls_view(conn, tenant, new)

    return run_write(rt.engine, change)


def set_user_policy(rt: Runtime, who: Principal, tenant_id: str, user_id: str, policy: str | None) -> str | None:
    """A user's own dial-out policy (None = the tenant's), journaled."""
    require_tenant(who, tenant_id, MANAGE_BILLING)
    if policy is not None and policy not in DIAL_OUT_POLICIES:
        raise ValidationError(f"dial_out_policy: use one of {', '.join(DIAL_OUT_POLICIES)}, or null")
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            if tenant_db.lock(conn, tenant_id) is None or tenant_db.get_user(conn, tenant_id, user_id) is None:
                raise NotFound(f"user {user_id} not found")
            old = db.user_policy(conn, user_id)
            if old != policy:
                now = rt.clock.now()
                db.set_user_policy(conn, tenant_id, user_id, policy, now)
                db.journal(conn, tenant_id=tenant_id, user_id=user_id, field="dial_out_policy", old=old,
                           new=policy, by=who_label(conn, who), now=now)
    return policy


def user_with_policy(rt: Runtime, who: Principal, tenant_id: str, user_id: str) -> tuple[User, str | None]:
    """A user and their own dial-out policy (None = the tenant's)."""
    require_tenant(who, tenant_id, VIEW_BILLING)
    with read_tx(rt.engine) as conn:
        user = tenant_db.get_user(conn, tenant_id, user_id)
        if user is None:
            raise NotFound(f"user {user_id} not found")
        return user, db.user_policy(conn, user_id)


def user_policies(rt: Runtime, who: Principal, tenant_id: str) -> dict[str, str]:
    require_tenant(who, tenant_id, VIEW_BILLING)
    with read_tx(rt.engine) as conn:
        return db.user_policies(conn, tenant_id)


def dial_out_blocked(conn: Connection, tenant_id: str, *, user_id: str | None, call_type: str, domestic: bool,
                     number_type: str, emergency: bool) -> bool:
    """Whether the dial-out policy in force for this call (the user's own, else the
    tenant's) blocks it. `user_id` is the caller, or the organizer of a meeting dial-out."""
    controls = db.get_controls(conn, tenant_id)
    own = db.user_policy(conn, user_id) if user_id else None
    return policy_blocks(effective_policy(controls.dial_out_policy, own), call_type=call_type, domestic=domestic,
                         number_type=number_type, emergency=emergency)


def room_left(conn: Connection, tenant: Tenant, controls: SpendControls, now: datetime,
              user_id: str | None) -> int | None:
    """Micros of credit spend left under the caps for a call of `user_id` now (None = no cap
    applies): the sums authorize compares with. Reservations of calls in progress are not in
    it; the caller adds what it holds."""
    if controls.daily_limit is None and controls.monthly_limit is None and controls.user_daily_limit is None:
        return None
    day = day_bounds(now, tenant.timezone)
    month = month_bounds(now, tenant.timezone)
    today = db.credit_spend(conn, tenant.id, *day) if controls.daily_limit is not None else 0
    this_month = db.credit_spend(conn, tenant.id, *month) if controls.monthly_limit is not None else 0
    per_user = db.credit_spend(conn, tenant.id, *day, user_id=user_id) \
        if user_id is not None and controls.user_daily_limit is not None else None
    return cap_room(controls, spent_today_tenant=today, spent_month_tenant=this_month, spent_today_user=per_user)


@dataclass(frozen=True, slots=True)
class CapHit:
    """A cap that is used up: which, for which period (the tenant's local day or month, the
    key `alerts.notify_cap_reached` takes), its limit and what was spent (micros)."""

    cap: str
    period_key: str
    limit: int
    spent: int


def exhausted_cap(conn: Connection, tenant: Tenant, controls: SpendControls, now: datetime, user_id: str | None,
                  *, held: int = 0) -> CapHit | None:
    """The first cap that spend (plus `held`, what calls in progress hold) has reached, or
    None. Authorize denies `spend_cap_reached` with it and tells the admins once per period."""
    day, month = day_bounds(now, tenant.timezone), month_bounds(now, tenant.timezone)
    checks = (("daily_limit", controls.daily_limit, day, None, day_key(now, tenant.timezone)),
              ("monthly_limit", controls.monthly_limit, month, None, month_key(now, tenant.timezone)),
              ("user_daily_limit", controls.user_daily_limit, day, user_id, day_key(now, tenant.timezone)))
    for cap, limit, (since, until), uid, key in checks:
        if limit is None or (cap == "user_daily_limit" and user_id is None):
            continue
        spent = db.credit_spend(conn, tenant.id, since, until, user_id=uid) + held
        if spent >= limit:
            return CapHit(cap, key, limit, spent)
    return None


def _currency(currency: str) -> str:
    try:
        return check_currency(currency.upper())
    except MoneyError as exc:
        raise ValidationError(f"currency: {exc}") from None


@dataclass(frozen=True, slots=True)
class LimitsView:
    """A currency's purchase limits and where they come from: `operator` or `seed`."""

    minimum: Money
    maximum: Money
    source: str

    @property
    def currency(self) -> str:
        return self.minimum.currency


def _limits_view(currency: str, limits: PurchaseLimits, operator_set: bool) -> LimitsView:
    return LimitsView(Money(limits.minimum, currency), Money(limits.maximum, currency),
                      "operator" if operator_set else "seed")


def limits_view(rt: Runtime, who: Principal, currency: str) -> LimitsView:
    require_operator(who)
    code = _currency(currency)
    with read_tx(rt.engine) as conn:
        return _limits_view(code, *db.get_purchase_limits(conn, code))


def set_limits(rt: Runtime, who: Principal, currency: str, *, minimum: Any, maximum: Any) -> LimitsView:
    require_operator(who)
    code = _currency(currency)
    amounts = []
    for field, text in (("minimum", minimum), ("maximum", maximum)):
        try:
            amounts.append(parse_micros(text, max_decimals=minor_units(code)))
        except MoneyError as exc:
            raise ValidationError(f"{field}: {exc} ({code})") from None
    try:
        limits = PurchaseLimits(*amounts)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            db.save_purchase_limits(conn, code, limits, rt.clock.now())
    return _limits_view(code, limits, True)
