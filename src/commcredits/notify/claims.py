"""Claiming due rows and recording outcomes, for e-mails (`outbox`) and webhook deliveries.

Claiming is what makes two dispatchers at once safe. In one short transaction a dispatcher
selects due rows (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so a second dispatcher takes other
rows instead of waiting; SQLite: the write transaction already excludes other writers) and
moves each to `sending` with a guarded `UPDATE ... WHERE status = <seen> AND
next_attempt_at = <seen>`; a row another dispatcher took in between matches nothing and is
left to it. The claim is a lease (`retry.LEASE`) kept in `next_attempt_at`: a dispatcher
that dies after sending but before recording the outcome leaves the row `sending`, and it
becomes due again when the lease runs out. Recording an outcome never happens in the
transaction of the event, nor in the one of the claim: each is its own short transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, select, update

from ..db.schema_notify import outbox, webhook_deliveries, webhooks
from .messages import Notification
from .retry import DUE_STATUSES, after_failure, lease_until


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row this dispatcher now holds; `attempts` counts this attempt."""

    id: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    attempts: int
    url: str
    secret: str
    deleted: bool
    notification: Notification


def claim(conn: Connection, table: Table, now: datetime, *, statuses: tuple[str, ...], limit: int) -> list[Claimed]:
    """Move up to `limit` due rows of `table` to `sending`; return those this call won."""
    stmt = (
        select(table.c.id, table.c.status, table.c.next_attempt_at, table.c.attempts)
        .where(table.c.status.in_(statuses), table.c.next_attempt_at <= now)
        .order_by(table.c.next_attempt_at, table.c.id).limit(limit)
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    won: list[Claimed] = []
    for row_id, status, due_at, attempts in conn.execute(stmt).all():
        result = conn.execute(
            update(table)
            .where(table.c.id == row_id, table.c.status == status, table.c.next_attempt_at == due_at)
            .values(status="sending", attempts=attempts + 1, next_attempt_at=lease_until(now))
        )
        if result.rowcount == 1:
            won.append(Claimed(row_id, attempts + 1))
    return won


def hold_due_emails(conn: Connection, now: datetime) -> int:
    """No mail server configured: park every due e-mail as `held` (shown in the list)."""
    result = conn.execute(
        update(outbox).where(outbox.c.status.in_(DUE_STATUSES), outbox.c.next_attempt_at <= now)
        .values(status="held", last_error="no mail server configured (COMMCREDITS_SMTP_URL)")
    )
    return int(result.rowcount)


def mark_sent(conn: Connection, table: Table, row_id: str, now: datetime, *, note: str | None = None,
              **extra: Any) -> None:
    conn.execute(
        update(table).where(table.c.id == row_id, table.c.status == "sending")
        .values(status="sent", sent_at=now, last_error=note, **extra)
    )


def mark_final(conn: Connection, table: Table, row_id: str, status: str, reason: str) -> None:
    """End a claimed row without sending: `skipped` e-mail, `cancelled` delivery."""
    conn.execute(
        update(table).where(table.c.id == row_id, table.c.status == "sending")
        .values(status=status, last_error=reason)
    )


def mark_failed(conn: Connection, table: Table, claimed: Claimed, now: datetime, error: str,
                **extra: Any) -> str:
    """Schedule the next attempt after a failure; return the new status."""
    retry = after_failure(claimed.attempts, now)
    conn.execute(
        update(table).where(table.c.id == claimed.id, table.c.status == "sending")
        .values(status=retry.status, next_attempt_at=retry.next_attempt_at, last_error=error[:2000], **extra)
    )
    return retry.status


def _notification(m: Any) -> Notification:
    return Notification(
        id=m["id"], tenant_id=m["tenant_id"], event=m["event"], payload=json.loads(m["payload"]),
        recipients=tuple(json.loads(m["recipients"])), created_at=m["created_at"],
    )


def load_notification(conn: Connection, notification_id: str) -> Notification:
    row = conn.execute(select(outbox).where(outbox.c.id == notification_id)).one()
    return _notification(row._mapping)


def load_delivery(conn: Connection, claimed: Claimed) -> Delivery:
    row = conn.execute(
        select(webhooks.c.url, webhooks.c.secret, webhooks.c.deleted_at, webhook_deliveries.c.notification_id)
        .join(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
        .where(webhook_deliveries.c.id == claimed.id)
    ).one()
    return Delivery(claimed.id, claimed.attempts, row.url, row.secret, row.deleted_at is not None,
                    load_notification(conn, row.notification_id))
