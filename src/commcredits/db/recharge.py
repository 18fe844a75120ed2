"""The `auto_recharge` row of a tenant and the payment attempts the recharge jobs look for.

Functions take a connection and return domain values; callers hold the tenant lock when
they write, so `in_flight_attempt_id` changes one writer at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from ..domain.recharge import AutoRechargePolicy
from .payments import Attempt, _attempt
from .schema import payment_attempts, payment_methods
from .schema_payments import auto_recharge


@dataclass(frozen=True, slots=True)
class RechargeRow:
    tenant_id: str
    policy: AutoRechargePolicy
    in_flight_attempt_id: str | None
    last_attempt_id: str | None
    updated_at: datetime


def _row(r: Any) -> RechargeRow:
    m = r._mapping
    policy = AutoRechargePolicy(m["enabled"], m["amount"], m["trigger"], m["payment_method_id"],
                                m["status"], m["failures"], m["next_retry_at"])
    return RechargeRow(m["tenant_id"], policy, m["in_flight_attempt_id"], m["last_attempt_id"],
                       m["updated_at"])


def get(conn: Connection, tenant_id: str) -> RechargeRow | None:
    row = conn.execute(select(auto_recharge).where(auto_recharge.c.tenant_id == tenant_id)).first()
    return _row(row) if row else None


def _values(policy: AutoRechargePolicy) -> dict[str, Any]:
    return {"enabled": policy.enabled, "amount": policy.amount, "trigger": policy.trigger,
            "payment_method_id": policy.payment_method_id, "status": policy.status,
            "failures": policy.failures, "next_retry_at": policy.next_retry_at}


def save_policy(conn: Connection, tenant_id: str, policy: AutoRechargePolicy, now: datetime) -> None:
    """Insert or update the tenant's settings and state (in-flight marks are left alone)."""
    done = conn.execute(
        update(auto_recharge).where(auto_recharge.c.tenant_id == tenant_id)
        .values(**_values(policy), updated_at=now)
    )
    if done.rowcount == 0:
        conn.execute(auto_recharge.insert().values(tenant_id=tenant_id, **_values(policy), updated_at=now))


def set_in_flight(conn: Connection, tenant_id: str, attempt_id: str | None) -> None:
    values: dict[str, Any] = {"in_flight_attempt_id": attempt_id}
    if attempt_id is not None:
        values["last_attempt_id"] = attempt_id
    conn.execute(update(auto_recharge).where(auto_recharge.c.tenant_id == tenant_id).values(**values))


def due_retries(conn: Connection, now: datetime, limit: int = 500) -> list[str]:
    """Tenants whose retry instant has come and that have no charge in flight."""
    rows = conn.execute(
        select(auto_recharge.c.tenant_id).where(
            auto_recharge.c.status == "retrying", auto_recharge.c.next_retry_at <= now,
            auto_recharge.c.in_flight_attempt_id.is_(None),
        ).order_by(auto_recharge.c.next_retry_at).limit(limit)
    )
    return [r[0] for r in rows]


def next_retry(conn: Connection, after: datetime) -> datetime | None:
    value: datetime | None = conn.execute(
        select(func.min(auto_recharge.c.next_retry_at)).where(
            auto_recharge.c.status == "retrying", auto_recharge.c.next_retry_at > after)
    ).scalar_one()
    return value


def stale_pending(conn: Connection, older_than: datetime, limit: int = 500) -> list[Attempt]:
    """Pending attempts (any kind) created at or before `older_than`: their process may have
    died between the gateway call and recording its outcome."""
    rows = conn.execute(
        select(payment_attempts).where(
            payment_attempts.c.status == "pending", payment_attempts.c.created_at <= older_than
        ).order_by(payment_attempts.c.created_at).limit(limit)
    )
    return [_attempt(r) for r in rows]


def oldest_pending(conn: Connection) -> datetime | None:
    value: datetime | None = conn.execute(
        select(func.min(payment_attempts.c.created_at)).where(payment_attempts.c.status == "pending")
    ).scalar_one()
    return value


def pending_created_after(conn: Connection, after: datetime) -> datetime | None:
    value: datetime | None = conn.execute(
        select(func.min(payment_attempts.c.created_at)).where(
            payment_attempts.c.status == "pending", payment_attempts.c.created_at > after)
    ).scalar_one()
    return value


def uses_method(conn: Connection, tenant_id: str, pm_id: str) -> bool:
    """Whether an enabled auto-recharge charges this card."""
    row = conn.execute(
        select(auto_recharge.c.tenant_id).where(
            auto_recharge.c.tenant_id == tenant_id, auto_recharge.c.payment_method_id == pm_id,
            auto_recharge.c.enabled.is_(True),
        )
    ).first()
    return row is not None


def update_method_expiry(conn: Connection, tenant_id: str, pm_id: str, exp_month: int, exp_year: int) -> bool:
    done = conn.execute(
        update(payment_methods).where(
            payment_methods.c.id == pm_id, payment_methods.c.tenant_id == tenant_id,
            payment_methods.c.deleted_at.is_(None),
        ).values(exp_month=exp_month, exp_year=exp_year)
    )
    return done.rowcount == 1
