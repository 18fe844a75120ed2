"""Every table of the service registered on one `metadata`: the core ledger (schema.py)
and each feature's tables (schema_*.py). Alembic and the schema test import this."""

from __future__ import annotations

from . import (  # noqa: F401
    schema_calls,
    schema_notify,
    schema_payments,
    schema_rating,
    schema_spend,
    schema_usage,
    schema_web,
)
from .schema import metadata

__all__ = ["metadata"]
