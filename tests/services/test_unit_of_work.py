"""The unit of work every write goes through (`db.engine.unit_of_work`): a failure that a
re-run may cure (a deadlock, a serialization failure, a busy database) re-runs the whole
use case on a fresh transaction; the failed try leaves nothing behind, not even its
after-commit hooks; any other failure is raised at once; and no use case writes around it."""

from __future__ import annotations

import ast
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from commcredits.db import settings_store
from commcredits.db.engine import after_commit, run_write, unit_of_work
from commcredits.errors import NotFound

SRC = Path(__file__).resolve().parents[2] / "src" / "commcredits"
# the one-try transaction is used directly only by the primitive itself and by the call desk,
# which re-runs its batches on the connection it holds (call_desk.CallDesk._commit)
ONE_TRY_ALLOWED = {SRC / "db" / "engine.py", SRC / "services" / "calls" / "call_desk.py"}


def _busy() -> OperationalError:
    return OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))


def test_no_use_case_writes_around_the_unit_of_work() -> None:
    """`write_tx` is one try with no re-run: outside the primitive and the call desk, every
    write goes through `unit_of_work` or `run_write`."""
    offenders = []
    for path in SRC.rglob("*.py"):
        if path in ONE_TRY_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
            if name in ("write_tx", "_begin") and not isinstance(getattr(node, "ctx", None), ast.Store):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not offenders, f"writes around the unit of work: {offenders}"


@pytest.mark.parametrize("engine", ["sqlite", "postgres"], indirect=True)
def test_a_try_that_fails_curably_leaves_nothing_and_the_next_commits(engine: Engine) -> None:
    tries, hooks = [], []
    for tx in unit_of_work(engine):
        with tx as conn:
            tries.append(len(tries) + 1)
            settings_store.put(conn, "uow-test", f"try {len(tries)}")
            after_commit(conn, lambda n=len(tries): hooks.append(n))
            if len(tries) < 3:
                raise _busy()  # as SQLite raises it when another process holds the database
    assert tries == [1, 2, 3]
    assert hooks == [3]  # the failed tries' hooks were dropped with their transactions
    with engine.connect() as conn:
        assert settings_store.get(conn, "uow-test") == "try 3"


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_other_failures_are_raised_at_once_and_roll_back(engine: Engine) -> None:
    tries = []
    with pytest.raises(NotFound):
        for tx in unit_of_work(engine):
            with tx as conn:
                tries.append(1)
                settings_store.put(conn, "uow-test", "written")
                raise NotFound("tenant t1 not found")
    assert tries == [1]
    with engine.connect() as conn:
        assert settings_store.get(conn, "uow-test") is None


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_last_tries_failure_is_raised(engine: Engine) -> None:
    tries = []

    def always_busy(conn: object) -> None:
        tries.append(1)
        raise _busy()

    with pytest.raises(OperationalError, match="database is locked"):
        run_write(engine, always_busy, attempts=3)
    assert len(tries) == 3


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_an_attempt_runs_once(engine: Engine) -> None:
    with pytest.raises(RuntimeError, match="must be used"):
        for _tx in unit_of_work(engine):
            pass  # an attempt never entered would loop for ever; it is refused instead
    attempt = next(iter(unit_of_work(engine)))
    with attempt as conn:
        settings_store.put(conn, "uow-test", "once")
    with pytest.raises(RuntimeError, match="runs once"), attempt:
        pass


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_a_real_deadlock_is_re_run_and_both_use_cases_complete(engine: Engine) -> None:
    """Two use cases lock the same two rows in opposite orders; PostgreSQL breaks the
    deadlock by failing one of them (40P01), which runs again and completes."""
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        for key in ("uow-a", "uow-b"):
            settings_store.put(conn, key, "")
    both_hold_one = threading.Barrier(2, timeout=10)
    tries = {"a": 0, "b": 0}
    errors: list[BaseException] = []

    def use_case(name: str, first: str, second: str) -> None:
        try:
            for tx in unit_of_work(engine):
                with tx as conn:
                    tries[name] += 1
                    conn.execute(text("SET LOCAL deadlock_timeout = '100ms'"))
                    conn.execute(text("SELECT value FROM settings WHERE key = :k FOR UPDATE"), {"k": first})
                    if tries[name] == 1:
                        both_hold_one.wait()  # the first tries cross: each holds what the other wants
                    conn.execute(text("SELECT value FROM settings WHERE key = :k FOR UPDATE"), {"k": second})
                    for key in (first, second):
                        value = conn.execute(text("SELECT value FROM settings WHERE key = :k"), {"k": key}).scalar()
                        settings_store.put(conn, key, f"{value}{name}")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=use_case, args=("a", "uow-a", "uow-b")),
               threading.Thread(target=use_case, args=("b", "uow-b", "uow-a"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert sorted(tries.values()) == [1, 2]  # one of them was chosen as the deadlock's victim, once
    with engine.connect() as conn:
        values = {settings_store.get(conn, "uow-a"), settings_store.get(conn, "uow-b")}
    assert values in ({"ab"}, {"ba"})  # each use case wrote both rows exactly once, one after the other


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_begin_refused_by_a_busy_database_is_re_run(engine: Engine) -> None:
    """The BEGIN IMMEDIATE that another process's write transaction refuses is raised as the
    driver error SQLAlchemy would raise, which the unit of work re-runs once the database is free."""
    from commcredits.db.engine import retryable

    holder = sqlite3.connect(str(engine.url.database), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process writing
    try:
        with engine.connect() as conn:
            conn.connection.driver_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
            with pytest.raises(OperationalError, match="database is locked") as refused:
                conn.begin()
            assert retryable(refused.value)
            assert not conn.in_transaction()
            conn.connection.driver_connection.execute("PRAGMA busy_timeout=10000")  # type: ignore[union-attr]
        threading.Timer(0.05, lambda: holder.execute("ROLLBACK")).start()
        assert run_write(engine, lambda c: settings_store.put(c, "k", "v") or "written") == "written"
    finally:
        holder.close()
