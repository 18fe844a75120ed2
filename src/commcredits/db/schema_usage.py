"""Tables of usage charging: subscriptions, pool allowances (operator data), pool usage per
month, and the call records (one row per charged call: the PSTN usage report's source)."""

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
    Text,
    false,
)

from .schema import UTCDateTime, metadata

subscriptions = Table(
    "subscriptions", metadata,
    Column("tenant_id", String(36), ForeignKey("tenants.id"), primary_key=True),
    Column("product", String(40), primary_key=True),
    Column("quantity", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("quantity >= 0", name="quantity_not_negative"),
)

plan_allowances = Table(
    "plan_allowances", metadata,
    Column("product", String(40), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("country", String(2), primary_key=True),
    Column("minutes", Integer, nullable=False),
    CheckConstraint("minutes >= 0", name="minutes_not_negative"),
)

pool_usage = Table(
    "pool_usage", metadata,
    Column("tenant_id", String(36), ForeignKey("tenants.id"), primary_key=True),
    Column("period", String(7), primary_key=True),
    Column("product", String(40), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("country", String(2), primary_key=True),
    Column("used_minutes", BigInteger, nullable=False),
    CheckConstraint("used_minutes >= 0", name="used_not_negative"),
)

call_records = Table(
    "call_records", metadata,
    Column("id", String(100), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("call_id", String(200)),
    Column("conference_id", String(200)),
    Column("call_type", String(24), nullable=False),
    Column("user_id", String(36)),
    Column("organizer_id", String(36)),
    Column("caller", String(32), nullable=False),
    Column("callee", String(32), nullable=False),
    Column("destination_country", String(2)),
    Column("number_type", String(24), nullable=False),
    Column("domestic", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("duration_s", Integer, nullable=False),
    Column("category", String(24)),
    Column("funding", String(10), nullable=False),
    Column("capability", String(80), nullable=False),
    Column("pool_minutes", Integer, nullable=False),
    Column("charge", BigInteger, nullable=False),
    Column("credits_charge", BigInteger, nullable=False),
    Column("postpaid_charge", BigInteger, nullable=False),
    Column("connect_fee", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("rating", Text),
    # the dial-out policy in force when it was charged forbids this call (charged all the same)
    Column("policy_blocked", Boolean, nullable=False, server_default=false()),
    Column("transaction_id", BigInteger),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("duration_s >= 0", name="duration_not_negative"),
    CheckConstraint("charge = credits_charge + postpaid_charge", name="charge_split"),
    CheckConstraint("funding IN ('pool', 'credits', 'free', 'postpaid', 'mixed')", name="funding"),
    Index(None, "tenant_id", "started_at", "id"),  # the usage export's order: rows stream without a sort
)

statement_items = Table(
    "statement_items", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("period", String(7), nullable=False),
    Column("description", String(200), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "tenant_id", "period"),
)
