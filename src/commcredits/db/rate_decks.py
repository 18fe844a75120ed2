"""Imported rate decks, one JSON document per version (the row id is the version)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from .schema_rating import rate_decks


@dataclass(frozen=True, slots=True)
class DeckRow:
    id: int
    name: str
    format: str
    currency: str
    rows: int
    rating_keys: list[str]
    effective_from: datetime | None
    imported_at: datetime


_SUMMARY = [rate_decks.c[f] for f in ("id", "name", "format", "currency", "rows", "rating_keys",
                                      "effective_from", "imported_at")]


def insert(
    conn: Connection, *, name: str, format_: str, currency: str, rows: int,
    rating_keys: list[str], effective_from: datetime | None, now: datetime, document: dict[str, Any],
) -> int:
    return int(conn.execute(
        rate_decks.insert().values(
            name=name, format=format_, currency=currency, rows=rows,
            rating_keys=json.dumps(rating_keys), effective_from=effective_from, imported_at=now,
            document=json.dumps(document, separators=(",", ":")),
        ).returning(rate_decks.c.id)
    ).scalar_one())


def latest_version(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(rate_decks.c.id), 0))).scalar_one())


def documents(conn: Connection) -> list[tuple[int, dict[str, Any]]]:
    rows = conn.execute(select(rate_decks.c.id, rate_decks.c.document).order_by(rate_decks.c.id))
    return [(r[0], json.loads(r[1])) for r in rows]


def summaries(conn: Connection) -> list[DeckRow]:
    rows = conn.execute(select(*_SUMMARY).order_by(rate_decks.c.id.desc()))
    return [DeckRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows]
