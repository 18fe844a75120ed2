"""Driver SQL straight through libpq on PostgreSQL (db/pg_wire.py): the same values, the
same transactions and the same errors as psycopg's cursors gave, with statements prepared
by the wire itself.

Each check is one a caller relies on: parameters of every type the hot paths send arrive as
the server's types; answers come back as psycopg's types; a statement runs inside the
connection's transaction (BEGIN first, nothing committed behind SQLAlchemy's back); a failed
statement is a `DBAPIError` with the server's SQLSTATE, the rest of its exchange skipped and
the connection usable after a rollback; a statement run again runs prepared; and prepared
statements lost to a `DEALLOCATE ALL` from outside are a retryable failure, cured by the
next try.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from commcredits.db.engine import retryable
from commcredits.db.pg_wire import PREPARED, as_text, numbered
from commcredits.db.raw import Raw

ON_POSTGRES = pytest.mark.parametrize("engine", ["postgres"], indirect=True)


@pytest.fixture(autouse=True)
def _probe_table(engine: Engine) -> Iterator[None]:
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS wire_probe")
        conn.exec_driver_sql("CREATE TABLE wire_probe (id INTEGER PRIMARY KEY, v BIGINT NOT NULL, t TEXT, "
                             "at TIMESTAMP, flag BOOLEAN)")
    yield
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS wire_probe")


def _prepared(conn: object) -> set[str]:
    with_names = Raw.of(conn).rows("SELECT name FROM pg_prepared_statements")  # type: ignore[arg-type]
    return {name for (name,) in with_names}


def test_placeholders_are_numbered() -> None:
    assert numbered("SELECT ? + ?, ?") == b"SELECT $1 + $2, $3"


def test_parameters_in_text_form() -> None:
    aware = datetime(2026, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    assert [as_text(v) for v in (None, "ü", True, False, 2**62, -3, aware, date(2026, 3, 1), Decimal("1.50"))] == [
        None, "ü".encode(), b"t", b"f", b"4611686018427387904", b"-3", b"2026-03-01 12:30:00", b"2026-03-01", b"1.50"]
    with pytest.raises(TypeError, match="float"):
        as_text(1.5)


@ON_POSTGRES
def test_values_arrive_as_the_server_types_and_come_back_as_psycopgs(engine: Engine) -> None:
    at = datetime(2026, 3, 1, 12, 30, 15, 123456)
    with engine.connect() as conn, conn.begin():
        raw = Raw.of(conn)
        for _ in range(3):  # run as it is, then prepared, then by name
            raw.many("INSERT INTO wire_probe (id, v, t, at, flag) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                     [(1, 2**62, "a'b\"c\\ü", at, True), (2, -1, None, at.replace(tzinfo=UTC), False)])
        rows = raw.rows("SELECT id, v, t, at, flag FROM wire_probe WHERE id = ANY(?) ORDER BY id", ["{1,2}"])
        assert rows == [(1, 2**62, "a'b\"c\\ü", at, True), (2, -1, None, at, False)]
        # SQLAlchemy on the same connection gives the same values: one driver, one set of loaders
        assert list(conn.execute(text("SELECT id, v, t, at, flag FROM wire_probe ORDER BY id"))) == rows
        assert raw.run("UPDATE wire_probe SET v = v + ? WHERE id > ?", [1, 0]) == 2
        assert raw.rows("SELECT COUNT(*) FROM wire_probe WHERE t IS NULL")[0][0] == 1


@ON_POSTGRES
def test_statements_run_inside_the_connections_transaction(engine: Engine) -> None:
    with engine.connect() as conn:
        tx = conn.begin()
        Raw.of(conn).many("INSERT INTO wire_probe (id, v) VALUES (?, ?)", [(1, 1)])
        with engine.connect() as other:  # not committed: another connection does not see it
            assert other.execute(text("SELECT COUNT(*) FROM wire_probe")).scalar_one() == 0
        tx.rollback()
        assert conn.execute(text("SELECT COUNT(*) FROM wire_probe")).scalar_one() == 0
        conn.rollback()
        with conn.begin():
            Raw.of(conn).many("INSERT INTO wire_probe (id, v) VALUES (?, ?)", [(2, 2)])
    with engine.connect() as other:
        assert other.execute(text("SELECT id FROM wire_probe")).scalars().all() == [2]


@ON_POSTGRES
def test_on_an_autocommit_connection_each_statement_is_its_own_transaction(engine: Engine) -> None:
    """What the desk's sync relies on: its statement commits at once (no BEGIN left open)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        raw = Raw.of(conn)
        raw.many("INSERT INTO wire_probe (id, v) VALUES (?, ?)", [(1, 1)])
        assert raw.rows("SELECT txid_current()")[0][0] > 0
        assert raw.dbapi.info.transaction_status.name == "IDLE"
        with engine.connect() as other:  # committed: another connection sees it
            assert other.execute(text("SELECT COUNT(*) FROM wire_probe")).scalar_one() == 1


@ON_POSTGRES
def test_a_failure_is_a_database_error_and_skips_the_rest_of_its_exchange(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO wire_probe (id, v) VALUES (1, 1)")
    with engine.connect() as conn:
        with pytest.raises(IntegrityError) as caught, conn.begin():
            raw = Raw.of(conn)
            with raw.gather():
                raw.many("INSERT INTO wire_probe (id, v) VALUES (?, ?)", [(1, 5)])  # a duplicate key
                after = raw.later("SELECT COUNT(*) FROM wire_probe")
        assert getattr(caught.value.orig, "sqlstate", None) == "23505"
        assert "wire_probe_pkey" in str(caught.value)
        with pytest.raises(DBAPIError):
            after()  # skipped by the server: no answer to give
        with conn.begin():  # the connection is in order after the rollback
            assert Raw.of(conn).rows("SELECT v FROM wire_probe") == [(1,)]


@ON_POSTGRES
def test_a_parameter_without_a_text_form_sends_nothing_and_leaves_nothing_queued(engine: Engine) -> None:
    with engine.connect() as conn:
        with pytest.raises(TypeError, match="float"), conn.begin():
            raw = Raw.of(conn)
            with raw.deferred_writes():
                raw.many("INSERT INTO wire_probe (id, v) VALUES (?, ?)", [(1, 1)])  # kept
                with raw.gather():
                    raw.later("SELECT 1")
                    raw.many("INSERT INTO wire_probe (id, v) VALUES (?, ?)", [(2, 2), (3, 1.5)])
        assert raw.wire is not None and raw.wire.queue == [] and raw.pending == []
        with conn.begin():  # the next transaction on the connection sends only its own statements
            raw.many("INSERT INTO wire_probe (id, v) VALUES (?, ?)", [(4, 4)])
    with engine.connect() as other:
        assert other.execute(text("SELECT id FROM wire_probe")).scalars().all() == [4]


@ON_POSTGRES
def test_a_statement_run_again_is_prepared_once_and_kept_within_bounds(engine: Engine) -> None:
    query = "SELECT v FROM wire_probe WHERE id = ?"
    with engine.connect() as conn, conn.begin():
        raw = Raw.of(conn)
        wire = raw.wire
        assert wire is not None
        before = _prepared(conn)
        raw.rows(query, [1])
        assert query not in wire.prepared  # once: sent as it is
        with raw.gather():  # again, three times in one exchange: prepared once, run by name
            for i in range(3):
                raw.later(query, [i])
        name = wire.prepared[query]
        assert _prepared(conn) - before >= {name.decode()}
        raw.rows(query, [1])
        assert wire.prepared[query] == name
        # beyond PREPARED texts the oldest is deallocated on the server too
        for i in range(PREPARED + 2):
            for _ in range(2):
                raw.rows(f"SELECT {i} + ?", [1])
        assert len(wire.prepared) == PREPARED
        assert query not in wire.prepared
        assert name.decode() not in _prepared(conn)
        assert len({n for n in _prepared(conn) if n.startswith("_cc_")}) == PREPARED


@ON_POSTGRES
def test_statements_lost_to_deallocate_all_are_a_retryable_failure_cured_by_the_next_try(engine: Engine) -> None:
    query = "SELECT COUNT(*) FROM wire_probe WHERE id > ?"
    with engine.connect() as conn:
        with conn.begin():
            raw = Raw.of(conn)
            raw.rows(query, [0])
            raw.rows(query, [0])
            conn.exec_driver_sql("DEALLOCATE ALL")  # a pooler or an operator, say
        with pytest.raises(DBAPIError) as caught, conn.begin():
            raw.rows(query, [0])
        assert retryable(caught.value)
        with conn.begin():  # the next try prepares it again
            assert raw.rows(query, [0]) == [(0,)]
            assert raw.rows(query, [0]) == [(0,)]


@ON_POSTGRES
def test_the_server_gone_mid_exchange_closes_the_connection(engine: Engine) -> None:
    with engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        conn.rollback()
        with engine.connect() as killer:
            killer.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
            killer.commit()
        raw = Raw.of(conn)
        with pytest.raises(DBAPIError):
            raw.rows("SELECT 1")
        assert raw.dbapi.closed
        conn.invalidate()
