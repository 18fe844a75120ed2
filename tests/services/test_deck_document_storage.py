"""A rate deck's stored document is compressed with lz4 on PostgreSQL servers that have it
(migration 0012): pglz spent several times the server CPU on a large deck's INSERT."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError


def _server_has_lz4(engine: Engine) -> bool:
    name = f"lz4_probe_{uuid.uuid4().hex[:8]}"
    with engine.connect() as conn:
        try:
            with conn.begin():
                conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {name} (t text COMPRESSION lz4)")
                conn.exec_driver_sql(f"DROP TABLE {name}")
        except DBAPIError:
            return False
    return True


def test_the_deck_document_column_uses_lz4_where_the_server_has_it(pg_engine: Engine) -> None:
    if not _server_has_lz4(pg_engine):
        pytest.skip("this PostgreSQL server was built without lz4: the migration keeps pglz")
    with pg_engine.connect() as conn:
        method = conn.execute(text(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = 'rate_decks'::regclass "
            "AND attname = 'document'")).scalar_one()
    assert method == "l"
