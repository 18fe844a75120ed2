"""Imported rate decks, one JSON document per version (the row id is the version), and the
version in force per rating key (`rate_deck_heads`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from .schema_rating import rate_deck_heads, rate_decks


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
    mode: str
    imported_by: str
    fallback_rating_key: str | None
    parents: dict[str, int]
    stats: dict[str, Any]


_SUMMARY = [rate_decks.c[f] for f in (
    "id", "name", "format", "currency", "rows", "rating_keys", "effective_from", "imported_at",
    "mode", "imported_by", "fallback_rating_key", "parents", "stats")]


def _row(r: Any) -> DeckRow:
    return DeckRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7], r[8], r[9], r[10],
                   {k: int(v) for k, v in json.loads(r[11]).items()}, json.loads(r[12]))


CHUNK = 2_000  # items of a large list per JSON line of a stored document


def encode_document(document: dict[str, Any]) -> str:
    """A deck document as text: the first line the document with its large lists emptied
    (and `"chunked": true`), then one JSON line per `CHUNK` items of each large list (a block
    of destination rates counts as its pairs).

    One `json.dumps` or `json.loads` of a 300,000-row deck (tens of MB) is a single C call
    that holds the GIL for a second or more, stalling every request of the process (the
    background rebuild of every server process decodes each new deck); line by line, each
    call is short and request threads get their turn between them."""
    head: dict[str, Any] = {}
    lines: list[str] = []
    for key, value in document.items():
        pieces = _pieces(value) if isinstance(value, list) else []
        if len(pieces) > 1:
            head[key] = []
            lines.extend(json.dumps([key, piece], separators=(",", ":")) for piece in pieces)
        else:
            head[key] = value
    return "\n".join([json.dumps({**head, "chunked": True}, separators=(",", ":")), *lines])


def _pieces(items: list[Any]) -> list[list[Any]]:
    """`items` cut into runs of about `CHUNK` entries, counting a block that holds a list of
    its own (a rate card's destination rates: up to 2,000 pairs per block) by that list."""
    pieces: list[list[Any]] = [[]]
    weight = 0
    for item in items:
        size = max(1, len(item[-1])) if isinstance(item, list) and item and isinstance(item[-1], list) else 1
        if weight and weight + size > CHUNK:
            pieces.append([])
            weight = 0
        pieces[-1].append(item)
        weight += size
    return pieces


def decode_document(text: str, pause: Callable[[], object] | None = None) -> dict[str, Any]:
    """`encode_document` reversed; a document stored whole (before chunking) reads as is.
    `pause` runs before each line (a server gives way to call control between them)."""
    first, _, rest = text.partition("\n")
    document: dict[str, Any] = json.loads(first)
    if not document.pop("chunked", False):
        return document
    for line in rest.split("\n") if rest else ():
        if pause is not None:
            pause()
        key, items = json.loads(line)
        document[key].extend(items)
    return document


def insert(
    conn: Connection, *, name: str, format_: str, currency: str, rows: int,
    rating_keys: list[str], effective_from: datetime | None, now: datetime, document: dict[str, Any] | str,
    mode: str = "replace", imported_by: str = "operator", fallback_rating_key: str | None = None,
    parents: dict[str, int] | None = None, stats: dict[str, Any] | None = None,
) -> int:
    return int(conn.execute(
        rate_decks.insert().values(
            name=name, format=format_, currency=currency, rows=rows,
            rating_keys=json.dumps(rating_keys), effective_from=effective_from, imported_at=now,
            document=document if isinstance(document, str) else encode_document(document), mode=mode,
            imported_by=imported_by, fallback_rating_key=fallback_rating_key,
            parents=json.dumps(parents or {}), stats=json.dumps(stats or {}),
        ).returning(rate_decks.c.id)
    ).scalar_one())


def latest_version(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(rate_decks.c.id), 0))).scalar_one())


def heads(conn: Connection, *, lock: bool = False) -> dict[str, int]:
    """Rating key -> the deck version in force (a small table: the cheap change check).
    `lock` holds the rows until commit (PostgreSQL), so two imports of a key queue."""
    query = select(rate_deck_heads.c.rating_key, rate_deck_heads.c.version)
    rows = conn.execute(query.with_for_update() if lock else query)
    return {k: int(v) for k, v in rows}


def set_heads(conn: Connection, versions: dict[str, int], *, now: datetime, by: str) -> None:
    current = heads(conn)
    for key, version in versions.items():
        values = {"version": version, "updated_at": now, "updated_by": by}
        if key in current:
            conn.execute(rate_deck_heads.update().where(rate_deck_heads.c.rating_key == key)
                         .values(**values))
        else:
            conn.execute(rate_deck_heads.insert().values(rating_key=key, **values))


def documents(conn: Connection, ids: list[int] | None = None, pause: Callable[[], object] | None = None
              ) -> list[tuple[int, dict[str, Any]]]:
    query = select(rate_decks.c.id, rate_decks.c.document).order_by(rate_decks.c.id)
    if ids is not None:
        if not ids:
            return []
        query = query.where(rate_decks.c.id.in_(ids))
    return [(r[0], decode_document(r[1], pause)) for r in conn.execute(query)]


def summaries(conn: Connection) -> list[DeckRow]:
    rows = conn.execute(select(*_SUMMARY).order_by(rate_decks.c.id.desc()))
    return [_row(r) for r in rows]


def get(conn: Connection, deck_id: int) -> DeckRow | None:
    r = conn.execute(select(*_SUMMARY).where(rate_decks.c.id == deck_id)).first()
    return _row(r) if r is not None else None


def lineage(decks: list[DeckRow], current: dict[str, int]) -> dict[int, set[str]]:
    """Deck version -> the rating keys for which it is live: each key's head and the head's
    ancestors through `parents`."""
    by_id = {d.id: d for d in decks}
    live: dict[int, set[str]] = {}
    for key, head in current.items():
        version, seen = head, set()
        while version in by_id and version not in seen:
            seen.add(version)
            live.setdefault(version, set()).add(key)
            version = by_id[version].parents.get(key, 0)
    return live
