"""Enqueue a notification inside the caller's transaction (the transactional outbox).

Events (API.md): auto_recharge_succeeded, auto_recharge_failed, auto_recharge_suspended,
balance_depleted, pool_threshold, funds_expiring, statement_issued. Recipients are the
tenant's users holding an admin role at the moment the event happens. `dedupe_key` makes an
event idempotent (for example one reminder per lot): enqueueing the same key twice for a
tenant stores it once.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from ..db.rows import new_id
from ..db.schema import users
from ..db.schema_notify import outbox
from ..domain.access import is_admin

EVENTS = (
    "auto_recharge_succeeded", "auto_recharge_failed", "auto_recharge_suspended",
    "balance_depleted", "pool_threshold", "funds_expiring", "statement_issued",
)


def admin_recipients(conn: Connection, tenant_id: str) -> list[str]:
    rows = conn.execute(select(users.c.email, users.c.roles).where(users.c.tenant_id == tenant_id))
    return sorted(email for email, roles in rows if is_admin(json.loads(roles)))


def enqueue(
    conn: Connection, *, tenant_id: str, event: str, payload: dict[str, Any], now: datetime,
    dedupe_key: str | None = None,
) -> str | None:
    """Write one notification row; return its id, or None if `dedupe_key` was seen before."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    if dedupe_key is not None:
        seen = conn.execute(
            select(outbox.c.id).where(outbox.c.tenant_id == tenant_id, outbox.c.dedupe_key == dedupe_key)
        ).first()
        if seen:
            return None
    notification_id = new_id()
    conn.execute(
        outbox.insert().values(
            id=notification_id, tenant_id=tenant_id, event=event,
            payload=json.dumps(payload, default=str),
            recipients=json.dumps(admin_recipients(conn, tenant_id)), dedupe_key=dedupe_key,
            status="pending", attempts=0, created_at=now, next_attempt_at=now,
        )
    )
    return notification_id
