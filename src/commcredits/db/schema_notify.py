"""Tables of the notification feature: the transactional outbox.

A notification row is written in the same transaction as the event it reports; a
dispatcher sends it afterwards and records the outcome, so nothing is lost when a mail
server or webhook receiver is down.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

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
