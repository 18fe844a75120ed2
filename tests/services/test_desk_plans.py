"""The call desk's held PostgreSQL connection keeps index lookups as its tables grow.

The driver prepares the desk's statements and the server keeps one plan for each; a plan
made while a table was small is a sequential scan. Here a lookup by key is prepared and run
on a new table of five rows, the table then grows by thousands of rows (not analyzed, as between
two runs of autovacuum), and the plan the connection runs must still use the key's index."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine

from commcredits.db.engine import relaxed_connection

pytestmark = pytest.mark.parametrize("engine", ["postgres"], indirect=True)


@pytest.fixture
def probe(engine: Engine) -> Iterator[str]:
    """A new table (statistics never gathered, autovacuum off for it) keyed like the desk's."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE plan_probe (call_id varchar(200) PRIMARY KEY, answer varchar(2000) NOT NULL) "
                             "WITH (autovacuum_enabled = false)")
        conn.exec_driver_sql("INSERT INTO plan_probe SELECT md5(i::text), repeat('x', 1500) FROM generate_series(1, 5) AS i")
    yield "plan_probe"
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE plan_probe")


def _plan_after_growth(engine: Engine, conn: Connection) -> str:
    conn.exec_driver_sql("PREPARE lookup(text[]) AS SELECT answer FROM plan_probe WHERE call_id = ANY($1)")
    keys = ", ".join(f"'{i}'" for i in range(10))  # a batch's keys, as the desk sends them
    for _ in range(8):  # past the server's five custom plans: the statement's plan is now kept
        conn.exec_driver_sql(f"EXECUTE lookup(ARRAY[{keys}])").all()
    conn.commit()
    with engine.begin() as other:
        other.exec_driver_sql("INSERT INTO plan_probe SELECT md5(i::text), repeat('x', 1500) "
                              "FROM generate_series(6, 20000) AS i")
    plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN EXECUTE lookup(ARRAY[{keys}])"))
    conn.rollback()
    return plan


def test_the_desk_connection_keeps_index_lookups_as_tables_grow(engine: Engine, probe: str) -> None:
    conn = relaxed_connection(engine)
    try:
        plan = _plan_after_growth(engine, conn)
    finally:
        conn.invalidate()
        conn.close()
    assert "Index" in plan and "Seq Scan" not in plan, plan


def test_without_those_settings_the_kept_plan_scans_the_whole_table(engine: Engine, probe: str) -> None:
    """The failure the settings prevent, on an ordinary connection (so the test above cannot
    pass for another reason, such as statistics that happen to be fresh)."""
    with engine.connect() as conn:
        plan = _plan_after_growth(engine, conn)
    assert "Seq Scan" in plan, plan
