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
from collections.abc import Sequence
from dataclasses import dataclass
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


def enqueue(
    conn: Connection, *, tenant_id: str, event: str, payload: dict[str, Any], now: datetime,
    dedupe_key: str | None = None,
) -> str | None:
    """Write one notification row; return its id, or None if `dedupe_key` was seen before."""
    return enqueue_many(conn, [Notice(tenant_id, event, payload, dedupe_key)], now=now)[0]


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification to enqueue (see `enqueue`)."""

    tenant_id: str
    event: str
    payload: dict[str, Any]
    dedupe_key: str | None = None


def enqueue_many(conn: Connection, notices: Sequence[Notice], *, now: datetime) -> list[str | None]:
    """`enqueue` for many notifications at once (batch charging crosses many pool thresholds):
    one statement per table instead of four per notification. A `dedupe_key` seen before, or
    earlier in `notices` for the same tenant, gives None in its place."""
    for n in notices:
        if n.event not in EVENTS:
            raise ValueError(f"unknown notification event {n.event!r}")
    if not notices:
        return []
    keyed = sorted({n.dedupe_key for n in notices if n.dedupe_key is not None})
    seen: set[tuple[str, str]] = set()
    for start in range(0, len(keyed), _CHUNK):
        seen.update((tid, key) for tid, key in conn.execute(select(outbox.c.tenant_id, outbox.c.dedupe_key).where(
            outbox.c.dedupe_key.in_(keyed[start:start + _CHUNK]))))
    tenants = sorted({n.tenant_id for n in notices})
    ids: list[str | None] = []
    rows: list[dict[str, Any]] = []
    recipients: dict[str, str] = {}
    for n in notices:
        if n.dedupe_key is not None:
            if (n.tenant_id, n.dedupe_key) in seen:
                ids.append(None)
                continue
            seen.add((n.tenant_id, n.dedupe_key))
        if not recipients:
            recipients = _recipients_of(conn, tenants)
        notification_id = new_id()
        ids.append(notification_id)
        rows.append({"id": notification_id, "tenant_id": n.tenant_id, "event": n.event,
                     "payload": json.dumps(n.payload, default=str), "recipients": recipients[n.tenant_id],
                     "dedupe_key": n.dedupe_key, "status": "pending", "attempts": 0, "created_at": now,
                     "next_attempt_at": now})
    if rows:
        conn.execute(outbox.insert(), rows)
        _fan_out_to_webhooks(conn, rows, now)
    return ids


_CHUNK = 500  # keys per IN (...) list


def _recipients_of(conn: Connection, tenant_ids: list[str]) -> dict[str, str]:
    """tenant id -> its admins' e-mail addresses (sorted, as JSON), for each of `tenant_ids`."""
    found: dict[str, list[str]] = {tid: [] for tid in tenant_ids}
    for start in range(0, len(tenant_ids), _CHUNK):
        for tid, email, roles in conn.execute(select(users.c.tenant_id, users.c.email, users.c.roles).where(
                users.c.tenant_id.in_(tenant_ids[start:start + _CHUNK]))):
            if is_admin(json.loads(roles)):
                found[tid].append(email)
    return {tid: json.dumps(sorted(emails)) for tid, emails in found.items()}


def _fan_out_to_webhooks(conn: Connection, notifications: list[dict[str, Any]], now: datetime) -> None:
    tenant_ids = sorted({n["tenant_id"] for n in notifications})
    hooks: dict[str, list[tuple[str, list[str]]]] = {}
    for start in range(0, len(tenant_ids), _CHUNK):
        for tid, hook_id, events in conn.execute(
                select(webhooks.c.tenant_id, webhooks.c.id, webhooks.c.events)
                .where(webhooks.c.tenant_id.in_(tenant_ids[start:start + _CHUNK]), webhooks.c.deleted_at.is_(None))
                .order_by(webhooks.c.tenant_id, webhooks.c.id)):
            hooks.setdefault(tid, []).append((hook_id, json.loads(events)))
    rows = [
        {"id": new_id(), "webhook_id": hook_id, "notification_id": n["id"],
         "tenant_id": n["tenant_id"], "event": n["event"], "status": "pending", "attempts": 0,
         "created_at": now, "next_attempt_at": now}
        for n in notifications for hook_id, events in hooks.get(n["tenant_id"], []) if n["event"] in events
    ]
    if rows:
        conn.execute(webhook_deliveries.insert(), rows)
