"""Tables of real-time call control: one row per authorized call (its reservation).

A reservation holds money (`amount`, counted in `tenants.reserved`) or pool minutes
(`pool_minutes` of `pool_*`) for the time granted to a call in progress, so concurrent calls
share what is available instead of each seeing all of it. It ends `settled` by the call's
end, or `expired` by the sweep when the switch never reported the end.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, Integer, String, Table, Text, text

from .schema import UTCDateTime, metadata

# an active hold, written as a constant so that the partial indexes below serve the queries
# (a bound parameter in its place could not be matched to the indexes' condition)
ACTIVE = text("reservations.status = 'active'")
_HELD = text("status = 'active'")

reservations = Table(
    "reservations", metadata,
    Column("call_id", String(200), primary_key=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("call_type", String(24), nullable=False),
    Column("caller", String(32), nullable=False),
    Column("callee", String(32), nullable=False),
    Column("user_id", String(36)),
    Column("organizer_id", String(36)),
    Column("started_at", UTCDateTime, nullable=False),
    Column("decision", String(8), nullable=False),
    Column("reason", String(40), nullable=False),
    Column("funding", String(10)),
    Column("amount", BigInteger, nullable=False),
    Column("granted_s", Integer),
    Column("pool_period", String(7)),
    Column("pool_product", String(40)),
    Column("pool_kind", String(16)),
    Column("pool_country", String(2)),
    Column("pool_minutes", Integer, nullable=False),
    Column("status", String(10), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("settled_at", UTCDateTime),
    Column("answer", Text, nullable=False),
    Column("outcome", Text),
    CheckConstraint("amount >= 0", name="amount_not_negative"),
    CheckConstraint("pool_minutes >= 0", name="pool_minutes_not_negative"),
    CheckConstraint("status IN ('active', 'settled', 'expired', 'denied')", name="status"),
    # active holds only: a settled call leaves both, so they stay a page or two however many
    # calls were made, and the sweep and the held-money sums read only what is held
    Index("ix_reservations_active_expires_at", "expires_at", sqlite_where=_HELD, postgresql_where=_HELD),
    Index("ix_reservations_active_tenant_id", "tenant_id", sqlite_where=_HELD, postgresql_where=_HELD),
)
