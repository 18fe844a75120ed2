"""Driver SQL sent many statements per round trip (db/raw.py): what the call desk relies on.

On PostgreSQL, `deferred_writes` keeps writes until something needs an answer or the commit;
`gather` sends several reads in one pipeline. These check the meaning is unchanged: a read
sees the kept writes before it (through Raw or SQLAlchemy), a rollback drops them, a kept
write that fails fails the commit like any failed commit, and on SQLite nothing is kept.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from commcredits.db.raw import Raw


@pytest.fixture(autouse=True)
def _probe_table(engine: Engine) -> Iterator[None]:
    """A scratch table, dropped afterwards (the schema test compares the database's tables)."""
    yield
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS raw_probe")


def _table(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS raw_probe")
        conn.exec_driver_sql("CREATE TABLE raw_probe (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM raw_probe")).scalar_one())


def test_kept_writes_are_seen_by_every_later_read_and_committed(engine: Engine) -> None:
    _table(engine)
    with engine.connect() as conn, conn.begin():
        raw = Raw.of(conn)
        with raw.deferred_writes():
            raw.many("INSERT INTO raw_probe (id, v) VALUES (?, ?)", [(1, 10), (2, 20)])
            assert bool(raw.pending) is raw.pg  # kept on PostgreSQL only
            assert raw.rows("SELECT SUM(v) FROM raw_probe")[0][0] == 30  # sent with this read
            raw.many("UPDATE raw_probe SET v = v + ? WHERE id = ?", [(1, 1)])
            with raw.gather():
                total = raw.later("SELECT SUM(v) FROM raw_probe")
                ids = raw.later("SELECT id FROM raw_probe ORDER BY id")
            assert (total(), ids()) == ([(31,)], [(1,), (2,)])
            raw.many("UPDATE raw_probe SET v = v + ? WHERE id = ?", [(100, 2)])
            # SQLAlchemy on the same connection sees it too
            assert conn.execute(text("SELECT v FROM raw_probe WHERE id = 2")).scalar_one() == 120
            raw.many("INSERT INTO raw_probe (id, v) VALUES (?, ?)", [(3, 3)])
        assert not raw.deferring
    assert _count(engine) == 3  # the last kept write went with the commit


def test_a_rollback_drops_what_is_kept(engine: Engine) -> None:
    _table(engine)
    conn = engine.connect()
    try:
        tx = conn.begin()
        raw = Raw.of(conn)
        with raw.deferred_writes():
            raw.many("INSERT INTO raw_probe (id, v) VALUES (?, ?)", [(1, 1)])
        tx.rollback()
        assert raw.pending == []
        with conn.begin():  # the next transaction on the connection starts clean
            assert conn.execute(text("SELECT COUNT(*) FROM raw_probe")).scalar_one() == 0
    finally:
        conn.close()
    assert _count(engine) == 0


def test_a_kept_write_that_fails_fails_the_commit_as_a_database_error(engine: Engine) -> None:
    _table(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO raw_probe (id, v) VALUES (1, 1)")
    conn = engine.connect()
    # SQLite keeps nothing: its driver's error comes from the statement itself
    expected = DBAPIError if engine.dialect.name != "sqlite" else engine.dialect.dbapi.IntegrityError  # type: ignore[union-attr]
    try:
        with pytest.raises(expected) as caught, conn.begin():
            raw = Raw.of(conn)
            with raw.deferred_writes():
                raw.many("INSERT INTO raw_probe (id, v) VALUES (?, ?)", [(2, 2), (1, 1)])
        if engine.dialect.name != "sqlite":
            assert getattr(getattr(caught.value, "orig", None), "sqlstate", None) == "23505"  # the desk reruns a duplicate
    finally:
        conn.invalidate()
        conn.close()
    assert _count(engine) == 1  # nothing of the failed transaction is stored


def test_reads_sent_together_keep_their_order_after_a_lock(engine: Engine) -> None:
    """The desk locks tenants and reads holds in one pipeline: the read runs after the lock."""
    _table(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO raw_probe (id, v) VALUES (1, 1), (2, 2)")
    with engine.connect() as conn, conn.begin():
        raw = Raw.of(conn)
        lock = " FOR UPDATE" if raw.pg else ""
        with raw.gather():
            locked = raw.later(f"SELECT id FROM raw_probe ORDER BY id{lock}")
            after = raw.later("SELECT SUM(v) FROM raw_probe")
        assert locked() == [(1,), (2,)]
        assert after() == [(3,)]
