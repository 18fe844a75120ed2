"""Stored responses of money-moving requests, keyed by (scope, Idempotency-Key).

The response is written in the same transaction as the effect it describes, so a replay
after a crash either finds both or neither.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from .schema import idempotency_keys


@dataclass(frozen=True, slots=True)
class Stored:
    request_hash: str
    status_code: int
    body: dict[str, Any]


def request_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def find(conn: Connection, scope: str, key: str) -> Stored | None:
    row = conn.execute(
        select(idempotency_keys.c.request_hash, idempotency_keys.c.status_code,
               idempotency_keys.c.response)
        .where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
    ).first()
    return Stored(row[0], row[1], json.loads(row[2])) if row else None


def save(
    conn: Connection, *, scope: str, key: str, req_hash: str, status_code: int,
    body: dict[str, Any], now: datetime,
) -> None:
    conn.execute(
        idempotency_keys.insert().values(
            scope=scope, key=key, request_hash=req_hash, status_code=status_code,
            response=json.dumps(body), created_at=now,
        )
    )
