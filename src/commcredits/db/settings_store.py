"""A small key/value table for service-wide state: the database's mode (`mode`: sandbox or
production, services/bootstrap.py) and the sandbox clock (`sandbox_now`, services/clock.py)."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from .schema import settings


def get(conn: Connection, key: str) -> str | None:
    return conn.execute(select(settings.c.value).where(settings.c.key == key)).scalar()


def put(conn: Connection, key: str, value: str) -> None:
    done = conn.execute(update(settings).where(settings.c.key == key).values(value=value))
    if done.rowcount == 0:
        conn.execute(settings.insert().values(key=key, value=value))
