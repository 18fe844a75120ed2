"""Tables of the payments feature (registered on the shared metadata).

- `auto_recharge`: one row per tenant with its settings and state (domain/recharge.py).
  `in_flight_attempt_id` is set under the tenant lock when a charge is decided and cleared
  when its outcome is recorded; its UNIQUE constraint and the partial unique index on
  `payment_attempts` (one pending auto-recharge attempt per tenant) are the database's
  guarantee of "at most one recharge in flight".
- `receipts`: one per successful charge, numbered per tenant and year (`R-2026-000001`),
  with the card and tenant name as they were when it was issued.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    text,
)

from ..domain.recharge import STATUSES
from .schema import UTCDateTime, metadata, payment_attempts

auto_recharge = Table(
    "auto_recharge", metadata,
    Column("tenant_id", String(36), ForeignKey("tenants.id"), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("trigger", BigInteger, nullable=False),
    Column("payment_method_id", String(36), ForeignKey("payment_methods.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("next_retry_at", UTCDateTime),
    Column("in_flight_attempt_id", String(36), ForeignKey("payment_attempts.id"), unique=True),
    Column("last_attempt_id", String(36), ForeignKey("payment_attempts.id")),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint(f"status IN ({', '.join(repr(s) for s in STATUSES)})", name="status"),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint('"trigger" >= 0', name="trigger_not_negative"),
    CheckConstraint("failures >= 0", name="failures_not_negative"),
    Index(None, "next_retry_at"),
)

# At most one pending auto-recharge attempt per tenant, whatever the code does.
one_pending_recharge = Index(
    "ux_payment_attempts_one_pending_recharge", payment_attempts.c.tenant_id, unique=True,
    sqlite_where=text("kind = 'auto_recharge' AND status = 'pending'"),
    postgresql_where=text("kind = 'auto_recharge' AND status = 'pending'"),
)
pending_attempts = Index("ix_payment_attempts_status_created_at", payment_attempts.c.status,
                         payment_attempts.c.created_at)

receipts = Table(
    "receipts", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("number", String(32), nullable=False),
    Column("year", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("attempt_id", String(36), ForeignKey("payment_attempts.id"), nullable=False, unique=True),
    Column("transaction_id", BigInteger, ForeignKey("transactions.id"), nullable=False, unique=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("card_brand", String(32), nullable=False),
    Column("card_last4", String(4), nullable=False),
    Column("tenant_name", String(200), nullable=False),
    Column("charge_ref", String(200), nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    UniqueConstraint("tenant_id", "number"),
    UniqueConstraint("tenant_id", "year", "seq"),
    CheckConstraint("kind IN ('auto_recharge', 'purchase')", name="kind"),
    CheckConstraint("amount > 0", name="amount_positive"),
    Index(None, "tenant_id", "issued_at"),
)
