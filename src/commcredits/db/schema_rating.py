"""Tables of the rating feature: imported rate decks, one JSON document per version.

Decks are small (a 50,000-prefix deck is a few MB of JSON) and read whole at start-up and
after each import to build the in-memory rating index, so one row per deck version is the
simplest store that is versioned, atomic and identical on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table, Text

from .schema import UTCDateTime, metadata

rate_decks = Table(
    "rate_decks", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("format", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("rating_keys", Text, nullable=False),
    Column("effective_from", UTCDateTime),
    Column("imported_at", UTCDateTime, nullable=False),
    Column("document", Text, nullable=False),
)
