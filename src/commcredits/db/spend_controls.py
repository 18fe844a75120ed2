"""Spend controls, per-user dial-out policies, their change journal, purchase limits per
currency, and the sums the controls are checked against.

Functions take a connection and return domain values; writers of a tenant's controls hold
the tenant lock (`db.tenants.lock`), so "update, else insert" cannot race for one tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, or_, select, update

from ..domain.purchases import PurchaseLimits, seed_limits
from ..domain.spend_controls import SpendControls
from .schema import payment_attempts, transactions
from .schema_spend import purchase_limits, spend_control_changes, spend_controls, user_dial_out_policies
from .schema_usage import call_records

FIELDS = ("dial_out_policy", "daily_limit", "monthly_limit", "user_daily_limit", "low_balance_threshold",
          "max_auto_recharges_per_day")


@dataclass(frozen=True, slots=True)
class Change:
    id: int
    tenant_id: str
    user_id: str | None
    field: str
    old_value: str | None
    new_value: str | None
    changed_by: str
    changed_at: datetime


def get_controls(conn: Connection, tenant_id: str) -> SpendControls:
    """The tenant's controls; the defaults when it never changed them."""
    row = conn.execute(select(spend_controls).where(spend_controls.c.tenant_id == tenant_id)).first()
    if row is None:
        return SpendControls()
    return SpendControls(**{f: row._mapping[f] for f in FIELDS})


def save_controls(conn: Connection, tenant_id: str, controls: SpendControls, now: datetime) -> None:
    values: dict[str, Any] = {f: getattr(controls, f) for f in FIELDS}
    values["updated_at"] = now
    done = conn.execute(update(spend_controls).where(spend_controls.c.tenant_id == tenant_id).values(**values))
    if done.rowcount == 0:
        conn.execute(spend_controls.insert().values(tenant_id=tenant_id, **values))


def user_policy(conn: Connection, user_id: str) -> str | None:
    """The user's own dial-out policy, or None (= the tenant's)."""
    return conn.execute(select(user_dial_out_policies.c.dial_out_policy)
                        .where(user_dial_out_policies.c.user_id == user_id)).scalar()


def user_policies(conn: Connection, tenant_id: str) -> dict[str, str]:
    rows = conn.execute(select(user_dial_out_policies.c.user_id, user_dial_out_policies.c.dial_out_policy)
                        .where(user_dial_out_policies.c.tenant_id == tenant_id))
    return {uid: policy for uid, policy in rows}


def set_user_policy(conn: Connection, tenant_id: str, user_id: str, policy: str | None, now: datetime) -> None:
    conn.execute(user_dial_out_policies.delete().where(user_dial_out_policies.c.user_id == user_id))
    if policy is not None:
        conn.execute(user_dial_out_policies.insert().values(user_id=user_id, tenant_id=tenant_id,
                                                            dial_out_policy=policy, updated_at=now))


def journal(conn: Connection, *, tenant_id: str, field: str, old: str | None, new: str | None, by: str,
            now: datetime, user_id: str | None = None) -> None:
    conn.execute(spend_control_changes.insert().values(
        tenant_id=tenant_id, user_id=user_id, field=field, old_value=old, new_value=new,
        changed_by=by[:200], changed_at=now))


def changes(conn: Connection, tenant_id: str, *, limit: int = 50) -> list[Change]:
    """The most recent changes first."""
    rows = conn.execute(select(spend_control_changes).where(spend_control_changes.c.tenant_id == tenant_id)
                        .order_by(spend_control_changes.c.id.desc())
                        .limit(limit))
    return [Change(**r._mapping) for r in rows]


def get_purchase_limits(conn: Connection, currency: str) -> tuple[PurchaseLimits, bool]:
    """The currency's limits and whether an operator set them (False = the seeds)."""
    row = conn.execute(select(purchase_limits.c.minimum, purchase_limits.c.maximum)
                       .where(purchase_limits.c.currency == currency.upper())).first()
    return (PurchaseLimits(row[0], row[1]), True) if row else (seed_limits(currency), False)


def save_purchase_limits(conn: Connection, currency: str, limits: PurchaseLimits, now: datetime) -> None:
    values = {"minimum": limits.minimum, "maximum": limits.maximum, "updated_at": now}
    done = conn.execute(update(purchase_limits).where(purchase_limits.c.currency == currency).values(**values))
    if done.rowcount == 0:
        conn.execute(purchase_limits.insert().values(currency=currency, **values))


def credit_spend(conn: Connection, tenant_id: str, since: datetime, until: datetime,
                 user_id: str | None = None) -> int:
    """Credit-funded usage (call_records.credits_charge) of calls started in [since, until);
    with `user_id`, only that user's calls (as the caller, or as the organizer of a meeting
    dial-out). Uses the (tenant_id, started_at) index."""
    query = select(func.coalesce(func.sum(call_records.c.credits_charge), 0)).where(
        call_records.c.tenant_id == tenant_id, call_records.c.started_at >= since,
        call_records.c.started_at < until, call_records.c.credits_charge != 0)
    if user_id is not None:
        query = query.where(or_(call_records.c.user_id == user_id, call_records.c.organizer_id == user_id))
    return int(conn.execute(query).scalar() or 0)


def recharge_successes(conn: Connection, tenant_id: str, now: datetime) -> int:
    """Successful auto-recharges of the tenant completed in the 24 hours up to `now`."""
    return int(conn.execute(select(func.count()).select_from(payment_attempts).where(
        payment_attempts.c.tenant_id == tenant_id, payment_attempts.c.kind == "auto_recharge",
        payment_attempts.c.status == "succeeded",
        payment_attempts.c.completed_at > now - timedelta(hours=24))).scalar() or 0)


def tenants_with_credit_spend(conn: Connection, since: datetime, until: datetime) -> list[str]:
    """Tenants with any credit-funded call started in [since, until) (the anomaly job's list)."""
    rows = conn.execute(select(call_records.c.tenant_id).distinct().where(
        call_records.c.started_at >= since, call_records.c.started_at < until,
        call_records.c.credits_charge != 0))
    return sorted(r[0] for r in rows)


def last_balance_after(conn: Connection, tenant_id: str) -> int | None:
    """The balance after the tenant's latest journal transaction (None: it has none)."""
    return conn.execute(select(transactions.c.balance_after).where(transactions.c.tenant_id == tenant_id)
                        .order_by(transactions.c.id.desc()).limit(1)).scalar()
