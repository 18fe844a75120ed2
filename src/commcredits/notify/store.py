"""Reads and writes behind the notifications list and the webhook registry.

Functions take a connection and never commit; the services open the transactions. Lists
page newest first by (created_at, id), a key that stays stable while rows are added.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, and_, func, or_, select, true, update

from ..db.rows import new_id
from ..db.schema_notify import outbox, webhook_deliveries, webhooks

Key = tuple[datetime, str]


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    tenant_id: str
    url: str
    events: tuple[str, ...]
    created_by: str
    created_at: datetime


def _before(table: Table, key: Key | None) -> Any:
    if key is None:
        return true()
    at, row_id = key
    return or_(table.c.created_at < at, and_(table.c.created_at == at, table.c.id < row_id))


def notifications(conn: Connection, tenant_id: str, *, before: Key | None, limit: int) -> list[Any]:
    stmt = (
        select(outbox).where(outbox.c.tenant_id == tenant_id, _before(outbox, before))
        .order_by(outbox.c.created_at.desc(), outbox.c.id.desc()).limit(limit)
    )
    return [row._mapping for row in conn.execute(stmt)]


def insert_webhook(
    conn: Connection, *, tenant_id: str, url: str, events: tuple[str, ...], secret: str,
    created_by: str, now: datetime,
) -> Webhook:
    hook = Webhook(new_id(), tenant_id, url, events, created_by, now)
    conn.execute(webhooks.insert().values(
        id=hook.id, tenant_id=tenant_id, url=url, events=json.dumps(list(events)), secret=secret,
        created_by=created_by, created_at=now,
    ))
    return hook


def _webhook(row: Any) -> Webhook:
    m = row._mapping
    return Webhook(m["id"], m["tenant_id"], m["url"], tuple(json.loads(m["events"])), m["created_by"],
                   m["created_at"])


def live_webhooks(conn: Connection, tenant_id: str) -> list[Webhook]:
    rows = conn.execute(
        select(webhooks).where(webhooks.c.tenant_id == tenant_id, webhooks.c.deleted_at.is_(None))
        .order_by(webhooks.c.created_at, webhooks.c.id)
    )
    return [_webhook(r) for r in rows]


def get_webhook(conn: Connection, tenant_id: str, webhook_id: str) -> Webhook | None:
    row = conn.execute(
        select(webhooks).where(webhooks.c.id == webhook_id, webhooks.c.tenant_id == tenant_id,
                               webhooks.c.deleted_at.is_(None))
    ).first()
    return _webhook(row) if row else None


def delivery_counts(conn: Connection, webhook_ids: list[str]) -> dict[str, dict[str, int]]:
    """{webhook id: {status: number of deliveries}}."""
    out: dict[str, dict[str, int]] = {hook_id: {} for hook_id in webhook_ids}
    if not webhook_ids:
        return out
    rows = conn.execute(
        select(webhook_deliveries.c.webhook_id, webhook_deliveries.c.status, func.count())
        .where(webhook_deliveries.c.webhook_id.in_(webhook_ids))
        .group_by(webhook_deliveries.c.webhook_id, webhook_deliveries.c.status)
    )
    for hook_id, status, count in rows:
        out[hook_id][status] = int(count)
    return out


def deliveries(conn: Connection, webhook_id: str, *, before: Key | None, limit: int) -> list[Any]:
    stmt = (
        select(webhook_deliveries)
        .where(webhook_deliveries.c.webhook_id == webhook_id, _before(webhook_deliveries, before))
        .order_by(webhook_deliveries.c.created_at.desc(), webhook_deliveries.c.id.desc()).limit(limit)
    )
    return [row._mapping for row in conn.execute(stmt)]


def delete_webhook(conn: Connection, webhook_id: str, now: datetime) -> None:
    """Stop a webhook: no new deliveries, and those still waiting are cancelled (one being
    sent right now finishes, and is recorded, as it would have)."""
    conn.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(deleted_at=now))
    conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.webhook_id == webhook_id,
               webhook_deliveries.c.status.in_(("pending", "retrying", "failed")))
        .values(status="cancelled", last_error="the webhook was deleted")
    )
