"""The one clock everything time-based reads.

`SystemClock` is wall time. `SandboxClock` (sandbox mode) keeps its time in the database
so the API, the CLI and the background jobs agree: once set it stands still and moves only
when told (`POST /v1/sandbox/clock`), which makes months of behaviour testable in seconds.
Until first set it follows wall time; it only moves forward (`commcredits sandbox reset`
starts a sandbox afresh). Whether a database is a sandbox is recorded in it as well
(`services/bootstrap.py`), so every entry point reads this clock on a sandbox database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Engine

from ..db import settings_store

KEY = "sandbox_now"


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SandboxClock:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def now(self) -> datetime:
        with self._engine.connect().execution_options(readonly=True) as conn, conn.begin():
            value = settings_store.get(conn, KEY)
        return datetime.fromisoformat(value) if value else datetime.now(UTC)

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("the sandbox clock needs an aware datetime")
        from ..db.engine import unit_of_work

        for tx in unit_of_work(self._engine):
            with tx as conn:
                settings_store.put(conn, KEY, instant.astimezone(UTC).isoformat())


class FixedClock:
    """A clock for tests and scripts that holds still until moved."""

    def __init__(self, instant: datetime) -> None:
        self.instant = instant

    def now(self) -> datetime:
        return self.instant

    def set(self, instant: datetime) -> None:
        self.instant = instant
