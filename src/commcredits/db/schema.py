"""The database schema (SQLAlchemy Core). Alembic migrations in `commcredits/migrations`
create exactly this; a test compares the two.

Constraints are the second line of defence for the ledger invariants (django-hordak's
lesson): a lot's remaining stays within [0, amount], a deficit is never negative, money
columns are BIGINT micro-units, enumerations are CHECKed, idempotency keys are UNIQUE.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

from ..domain.journal import ACCOUNTS, TRANSACTION_TYPES
from ..domain.lots import SOURCES


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database (same on SQLite and PG)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _in(column: str, values: tuple[str, ...] | frozenset[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in sorted(values))})"


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

tenants = Table(
    "tenants", metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("country", String(2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("billing_country", String(2), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("billing_mode", String(16), nullable=False),
    Column("rating_key", String(100), nullable=False),
    Column("purchase_mitigation", Boolean, nullable=False),
    Column("partner_funded", Boolean, nullable=False),
    Column("deficit", BigInteger, nullable=False),
    Column("reserved", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(_in("billing_mode", ("prepaid", "migrating", "postpaid")), name="billing_mode"),
    CheckConstraint("deficit >= 0", name="deficit_not_negative"),
    CheckConstraint("reserved >= 0", name="reserved_not_negative"),
)

users = Table(
    "users", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("email", String(320), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("usage_location", String(2), nullable=False),
    Column("roles", Text, nullable=False),
    Column("licenses", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("tenant_id", "email"),
)

tokens = Table(
    "tokens", metadata,
    Column("id", String(36), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("tenant_id", String(36), ForeignKey("tenants.id")),
    Column("user_id", String(36), ForeignKey("users.id")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    CheckConstraint(_in("kind", ("operator", "user", "switch")), name="kind"),
)

payment_methods = Table(
    "payment_methods", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("gateway", String(32), nullable=False),
    Column("gateway_ref", String(200), nullable=False),
    Column("brand", String(32), nullable=False),
    Column("last4", String(4), nullable=False),
    Column("exp_month", Integer, nullable=False),
    Column("exp_year", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime),
)

payment_attempts = Table(
    "payment_attempts", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("payment_method_id", String(36), ForeignKey("payment_methods.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("error_code", String(64)),
    Column("gateway_ref", String(200)),
    Column("transaction_id", BigInteger),
    Column("idempotency_key", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime),
    UniqueConstraint("tenant_id", "kind", "idempotency_key"),
    CheckConstraint(_in("kind", ("purchase", "auto_recharge")), name="kind"),
    CheckConstraint(_in("status", ("pending", "succeeded", "failed")), name="status"),
    CheckConstraint("amount > 0", name="amount_positive"),
)

transactions = Table(
    "transactions", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("type", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("reference", String(200), nullable=False),
    Column("idempotency_key", String(200)),
    CheckConstraint(_in("type", TRANSACTION_TYPES), name="type"),
    UniqueConstraint("tenant_id", "idempotency_key"),
    Index(None, "tenant_id", "id"),
)

lots = Table(
    "lots", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("source", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("purchased_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("transaction_id", BigInteger, ForeignKey("transactions.id"), nullable=False),
    Column("expired_transaction_id", BigInteger, ForeignKey("transactions.id")),
    Column("reason", String(200), nullable=False),
    CheckConstraint(_in("source", SOURCES), name="source"),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_within_amount"),
    CheckConstraint("expires_at > purchased_at", name="expires_after_purchase"),
    Index(None, "tenant_id", "expires_at"),
)

postings = Table(
    "postings", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("transaction_id", BigInteger, ForeignKey("transactions.id"), nullable=False),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("account", String(16), nullable=False),
    Column("lot_id", String(36), ForeignKey("lots.id")),
    Column("amount", BigInteger, nullable=False),
    CheckConstraint(_in("account", ACCOUNTS), name="account"),
    CheckConstraint("(account = 'lot') = (lot_id IS NOT NULL)", name="lot_account_names_lot"),
    Index(None, "transaction_id"),
    Index(None, "lot_id"),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("scope", String(120), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

settings = Table(
    "settings", metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)
