"""Tables of the notification feature: the transactional outbox and webhooks.

A notification row (`outbox`) is written in the same transaction as the event it reports;
a dispatcher sends it afterwards and records the outcome, so nothing is lost when a mail
server or webhook receiver is down. Each webhook subscribed to the event gets its own
`webhook_deliveries` row, written in that same transaction, so e-mail and every webhook
retry independently and one receiver being down never holds up another.

Status values (the dispatcher moves rows between them, docs/notifications.md):
outbox: pending, held (no mail server configured), sending (claimed; the claim is a lease
that runs out at `next_attempt_at`), retrying, failed (still retried hourly), sent,
skipped (no admin to write to). Deliveries: the same without held and skipped, plus
cancelled (the webhook was deleted before the delivery went out).
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from .schema import UTCDateTime, metadata

outbox = Table(
    "outbox", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("event", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("recipients", Text, nullable=False),
    Column("dedupe_key", String(200)),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("last_error", Text),
    Index(None, "status", "next_attempt_at"),
    Index(None, "tenant_id", "created_at"),
    Index(None, "tenant_id", "dedupe_key", unique=True),
)

webhooks = Table(
    "webhooks", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("events", Text, nullable=False),
    Column("secret", String(100), nullable=False),
    Column("created_by", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime),
    CheckConstraint("created_by IN ('operator', 'user')", name="created_by"),
    Index(None, "tenant_id"),
)

webhook_deliveries = Table(
    "webhook_deliveries", metadata,
    Column("id", String(36), primary_key=True),
    Column("webhook_id", String(36), ForeignKey("webhooks.id"), nullable=False),
    Column("notification_id", String(36), ForeignKey("outbox.id"), nullable=False),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("event", String(40), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("response_status", Integer),
    Column("last_error", Text),
    CheckConstraint(
        "status IN ('cancelled', 'failed', 'pending', 'retrying', 'sending', 'sent')", name="status"
    ),
    UniqueConstraint("webhook_id", "notification_id"),
    Index(None, "status", "next_attempt_at"),
    Index(None, "webhook_id", "created_at"),
)
