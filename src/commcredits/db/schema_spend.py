"""Tables of spend controls and per-currency purchase limits.

- `spend_controls`: one row per tenant that has changed its controls (a tenant without a row
  has the defaults: policy `all`, no caps, no low-balance alert, 5 recharges a day).
- `user_dial_out_policies`: a user's own dial-out policy, overriding the tenant's; no row =
  the tenant's. A table of its own rather than a column on `users` so the user tables stay
  as they are and the authorize path reads one small row.
- `spend_control_changes`: the journal of every change (who, when, which field, old -> new),
  append-only; per-user policies are journaled here too with `user_id` set.
- `purchase_limits`: the operator's per-currency minimum and maximum; a currency without a
  row takes the seeds in `domain.purchases.seed_limits`.
Alerts need no table: their once-per-period dedupe keys live on the outbox row.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, Integer, String, Table

from ..domain.spend_controls import DIAL_OUT_POLICIES
from .schema import UTCDateTime, _in, metadata

spend_controls = Table(
    "spend_controls", metadata,
    Column("tenant_id", String(36), ForeignKey("tenants.id"), primary_key=True),
    Column("dial_out_policy", String(16), nullable=False),
    Column("daily_limit", BigInteger),
    Column("monthly_limit", BigInteger),
    Column("user_daily_limit", BigInteger),
    Column("low_balance_threshold", BigInteger),
    Column("max_auto_recharges_per_day", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint(_in("dial_out_policy", DIAL_OUT_POLICIES), name="dial_out_policy"),
    CheckConstraint("daily_limit IS NULL OR daily_limit >= 0", name="daily_limit"),
    CheckConstraint("monthly_limit IS NULL OR monthly_limit >= 0", name="monthly_limit"),
    CheckConstraint("user_daily_limit IS NULL OR user_daily_limit >= 0", name="user_daily_limit"),
    CheckConstraint("low_balance_threshold IS NULL OR low_balance_threshold >= 0", name="low_balance_threshold"),
    CheckConstraint("max_auto_recharges_per_day >= 1", name="max_auto_recharges_per_day"),
)

user_dial_out_policies = Table(
    "user_dial_out_policies", metadata,
    Column("user_id", String(36), ForeignKey("users.id"), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("dial_out_policy", String(16), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint(_in("dial_out_policy", DIAL_OUT_POLICIES), name="dial_out_policy"),
    Index(None, "tenant_id"),
)

spend_control_changes = Table(
    "spend_control_changes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # the order of the changes
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("user_id", String(36)),  # set when a user's own policy changed
    Column("field", String(40), nullable=False),
    Column("old_value", String(40)),
    Column("new_value", String(40)),
    Column("changed_by", String(200), nullable=False),  # "operator" or "user:<id> <email>"
    Column("changed_at", UTCDateTime, nullable=False),
    Index(None, "tenant_id", "changed_at"),
)

purchase_limits = Table(
    "purchase_limits", metadata,
    Column("currency", String(3), primary_key=True),
    Column("minimum", BigInteger, nullable=False),
    Column("maximum", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("minimum > 0 AND maximum >= minimum", name="range"),
)
