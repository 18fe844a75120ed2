"""Tables of the rating feature: imported rate decks, one JSON document per version, and
the version each rating key has in force.

Decks are small (a 50,000-prefix deck is a few MB of JSON) and read whole at start-up and
after each import to build the in-memory rating index, so one row per deck version is the
simplest store that is versioned, atomic and identical on SQLite and PostgreSQL.

Every import is a version. `parents` ({rating key: version}) records which version of each
of its keys it was imported on (an update deck's base); `rate_deck_heads` names the version
in force per rating key. A key's live decks are its head and the head's ancestors through
`parents`, so activating an older version rolls back and a newer one rolls forward.
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
    Column("mode", String(8), nullable=False, server_default="replace"),
    Column("imported_by", String(200), nullable=False, server_default="operator"),
    Column("fallback_rating_key", String(100)),
    Column("parents", Text, nullable=False, server_default="{}"),
    Column("stats", Text, nullable=False, server_default="{}"),
)

rate_deck_heads = Table(
    "rate_deck_heads", metadata,
    Column("rating_key", String(100), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False),
)
