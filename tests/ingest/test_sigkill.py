"""SIGKILL during `commcredits cdrs ingest`, then the same file again: every record is charged
exactly once, with the result an uninterrupted run gives, and `commcredits audit` passes.

One file of 800 records for several tenants (funded, with users, licenses, small
minute pools and the sample rate card; some lines rejected, some malformed, some ids
repeated) is ingested by the real CLI in a subprocess against the test's database (SQLite
file, PostgreSQL database). The process is killed with SIGKILL at a random point, five times
in a row: each time once a randomly chosen number of records (beyond what is already
stored, at most half of what is left) has been committed, plus a random few milliseconds; then it runs to completion. A reference run of the same file in-process on a fresh SQLite
database with the same world gives what every record must be charged. After every kill the
stored records are a subset of the reference's, each identical; at the end they are the
same set, the credits charged equal the money the journal drew, balances match and the
audit is clean.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, func, select
from tests.ingest.support import make_world, money, records, stored_records, write_csv

from commcredits.config import Settings
from commcredits.db.engine import make_engine, read_tx
from commcredits.db.schema_usage import call_records
from commcredits.services.ledger import audit
from commcredits.services.runtime import Runtime
from commcredits.services.usage import ingest

CLI = str(Path(sys.executable).parent / "commcredits")
KILLS = 5
def _count(engine: Engine) -> int:
    with read_tx(engine) as conn:  # a reader: never holds the writer back
        return int(conn.execute(select(func.count()).select_from(call_records)).scalar_one())


def _cli(url: str, *args: str) -> tuple[list[str], dict[str, str]]:
    return [CLI, *args], {**os.environ, "COMMCREDITS_DATABASE_URL": url}


def test_sigkill_at_random_points_then_rerun_charges_each_record_once(engine, tmp_path, sqlite_template) -> None:
    url = engine.url.render_as_string(hide_password=False)
    world = make_world(engine)
    shutil.copy(sqlite_template, tmp_path / "reference.db")
    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    make_world(reference)
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    path = tmp_path / "calls.csv"
    write_csv(path, records(world, 800, rng))
    ref_rt = Runtime.from_settings(Settings(database_url=str(reference.url)), engine=reference)
    with path.open("rb") as stream:
        ingest.ingest(ref_rt, stream, format_="csv", rejects=io.StringIO(), batch_size=40)
    expected = stored_records(reference)
    args, env = _cli(url, "cdrs", "ingest", str(path), "--format", "csv", "--batch-size", "40", "--no-progress")

    for kill in range(KILLS):
        before = len(stored_records(engine))
        # kill once this many are committed: at most half of what is left, so each run has work
        target = rng.randint(before + 1, before + max(1, (len(expected) - before) // 2))
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 90
        while _count(engine) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.015)
        time.sleep(rng.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stored = stored_records(engine)
        print(f"kill {kill}: {len(stored)} of {len(expected)} records stored (aimed at {target})")
        assert all(expected.get(k) == v for k, v in stored.items()), f"seed {seed}, kill {kill}"
        assert audit.audit(Runtime.from_settings(Settings(database_url=url), engine=engine))[1] == []

    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert stored_records(engine) == expected, f"seed {seed}"
    charged, drawn, balances = money(engine)
    assert charged == drawn > 0
    assert (charged, drawn, balances) == money(reference)
    check = subprocess.run([CLI, "audit"], env=env, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    reference.dispose()
