"""Enqueue a notification inside the caller's transaction (the transactional outbox).

Events (API.md): auto_recharge_succeeded, auto_recharge_failed, auto_recharge_suspended,
balance_depleted, pool_threshold, funds_expiring, statement_issued, balance_low,
spend_cap_reached, spend_anomaly. Recipients are the
tenant's users holding an admin role at the moment the event happens. `dedupe_key` makes an
event idempotent (for example one reminder per lot): enqueueing the same key twice for a
tenant stores it once.

Each of the tenant's webhooks subscribed to the event gets its delivery row here too, in
the same transaction, so a webhook registered after the event does not receive it and one
deleted before it does not either.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from ..db.rows import new_id
from ..db.schema import users
from ..db.schema_notify import outbox, webhook_deliveries, webhooks
from ..domain.access import is_admin

EVENTS = (
    "auto_recharge_succeeded", "auto_recharge_failed", "auto_recharge_suspended",
    "balance_depleted", "pool_threshold", "funds_expiring", "statement_issued",
    "balance_low", "spend_cap_reached", "spend_anomaly",
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
    _fan_out_to_webhooks(conn, tenant_id, event, notification_id, now)
    return notification_id


def _fan_out_to_webhooks(conn: Connection, tenant_id: str, event: str, notification_id: str, now: datetime) -> None:
    hooks = conn.execute(
        select(webhooks.c.id, webhooks.c.events)
        .where(webhooks.c.tenant_id == tenant_id, webhooks.c.deleted_at.is_(None))
    )
    rows = [
        {"id": new_id(), "webhook_id": hook_id, "notification_id": notification_id,
         "tenant_id": tenant_id, "event": event, "status": "pending", "attempts": 0,
         "created_at": now, "next_attempt_at": now}
        for hook_id, events in hooks if event in json.loads(events)
    ]
    if rows:
        conn.execute(webhook_deliveries.insert(), rows)
