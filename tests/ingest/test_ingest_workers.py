"""`cdrs ingest --workers N`: several processes charge one file on PostgreSQL with exactly the
results of one process (records, money, summary, reject file), a rerun answers duplicates,
and a failing or killed worker stops the run with a clear error instead of hanging.

The reference is the same world and file charged by one process on a fresh SQLite
database, as in the SIGKILL test."""

from __future__ import annotations

import io
import multiprocessing
import os
import random
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from tests.ingest.support import make_world, money, records, stored_records, write_csv

from commcredits.config import Settings
from commcredits.db.engine import make_engine
from commcredits.errors import CommCreditsError, ValidationError
from commcredits.services.ledger import audit
from commcredits.services.runtime import Runtime
from commcredits.services.usage import ingest
from commcredits.services.usage.ingest_workers import worker_of

TENANTS = 7


def _runtime(engine: Engine) -> Runtime:
    return Runtime.from_settings(Settings(database_url=engine.url.render_as_string(hide_password=False)),
                                 engine=engine)


def _run(rt: Runtime, path: Path, *, workers: int, batch_size: int = 40,
         progress: Callable[[dict[str, object]], None] | None = None) -> tuple[dict[str, object], str]:
    rejects = io.StringIO()
    with path.open("rb") as stream:
        summary = ingest.ingest(rt, stream, format_="csv", rejects=rejects, batch_size=batch_size, workers=workers,
                                progress=None if progress is None else lambda s: progress(s.as_json()))
    out = summary.as_json()
    del out["seconds"], out["records_per_second"]
    return out, rejects.getvalue()


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_workers_charge_a_file_as_one_process_does(engine: Engine, tmp_path: Path, sqlite_template: Path) -> None:
    world = make_world(engine, tenants=TENANTS)
    shutil.copy(sqlite_template, tmp_path / "reference.db")
    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    make_world(reference, tenants=TENANTS)
    seed = random.randrange(1_000_000)
    path = tmp_path / "calls.csv"
    write_csv(path, records(world, 1_500, random.Random(seed)))
    assert len({worker_of(t, 3) for t in world.tenants}) == 3, "every worker gets tenants"

    expected_summary, expected_rejects = _run(_runtime(reference), path, workers=1)
    seen: list[dict[str, object]] = []
    summary, rejects = _run(_runtime(engine), path, workers=3, progress=seen.append)

    assert summary == expected_summary, f"seed {seed}"
    assert rejects == expected_rejects, f"seed {seed}: the same reject lines, in line order"
    assert stored_records(engine) == stored_records(reference), f"seed {seed}"
    charged, drawn, balances = money(engine)
    assert charged == drawn > 0
    assert (charged, drawn, balances) == money(reference)
    assert audit.audit(_runtime(engine))[1] == []
    counts = [int(s["records"]) for s in seen]  # type: ignore[call-overload]
    assert counts == sorted(counts) and counts[-1] == summary["records"] and len(counts) > 3

    again, _ = _run(_runtime(engine), path, workers=2)
    assert again["charged"] == 0 and again["duplicate"] == summary["charged"] + summary["duplicate"]
    assert money(engine) == (charged, drawn, balances)
    reference.dispose()


def test_more_than_one_worker_is_refused_on_sqlite(tmp_path: Path, sqlite_template: Path) -> None:
    shutil.copy(sqlite_template, tmp_path / "one.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'one.db'}")
    path = tmp_path / "calls.csv"
    path.write_text("id,tenant_id,call_type,caller,callee,started_at,duration_seconds\n")
    with pytest.raises(ValidationError, match="PostgreSQL"):
        _run(_runtime(engine), path, workers=2)
    with pytest.raises(ValidationError, match="between 1 and"):
        _run(_runtime(engine), path, workers=0)
    engine.dispose()


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_a_database_failure_in_the_workers_stops_the_run(engine: Engine, tmp_path: Path) -> None:
    world = make_world(engine, tenants=3)
    path = tmp_path / "calls.csv"
    write_csv(path, records(world, 200, random.Random(5)))
    missing = engine.url.set(database="commcredits_no_such_database")
    rt = Runtime.from_settings(Settings(database_url=missing.render_as_string(hide_password=False)))
    started = time.monotonic()
    with pytest.raises(OperationalError, match="commcredits_no_such_database"):
        _run(rt, path, workers=2)
    assert time.monotonic() - started < 60


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_a_killed_worker_stops_the_run_and_a_rerun_completes_it(engine: Engine, tmp_path: Path,
                                                               sqlite_template: Path) -> None:
    world = make_world(engine, tenants=TENANTS)
    shutil.copy(sqlite_template, tmp_path / "reference.db")
    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    make_world(reference, tenants=TENANTS)
    path = tmp_path / "calls.csv"
    write_csv(path, records(world, 1_500, random.Random(11)))
    assert {worker_of(t, 2) for t in world.tenants} == {0, 1}
    _run(_runtime(reference), path, workers=1)

    def kill_a_worker(_: dict[str, object]) -> None:
        for child in multiprocessing.active_children():
            if child.name == "commcredits-ingest-1" and child.pid:
                os.kill(child.pid, signal.SIGKILL)

    with pytest.raises(CommCreditsError, match="worker 1 stopped"):
        _run(_runtime(engine), path, workers=2, batch_size=20, progress=kill_a_worker)
    stored = stored_records(engine)
    expected = stored_records(reference)
    assert len(stored) < len(expected) and all(expected[k] == v for k, v in stored.items())
    _run(_runtime(engine), path, workers=2)
    assert stored_records(engine) == expected
    assert money(engine) == money(reference)
    reference.dispose()
