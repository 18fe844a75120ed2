"""Tables of the usage feature (registered on the shared metadata)."""

from __future__ import annotations

from .schema import metadata  # noqa: F401
