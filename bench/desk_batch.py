"""The call desk's batch in one process: CPU per batch of K ends and K authorizations.

The database is seeded as `bench/authorize.py` seeds it (over HTTP, through a real server,
then stopped); then this process runs the desk's own code on it, batch after batch: one
transaction on a held connection (`write_tx(durable=False, on=...)`, as the desk's writer
does), `call_batch.handle_batch` for K ends of calls the batch before authorized and K new
authorizations for random tenants, and the commit. No HTTP, no socket, no fsync: the figure
is the writer's own work per batch, where the real-time path's time goes
(docs/performance.md). Prints one JSON object: the thread's CPU per batch (mean, p50, p90),
and on PostgreSQL the CPU the server's backend spent per batch, read from `/proc`.

    .venv/bin/python bench/desk_batch.py                                  # SQLite, K=2
    .venv/bin/python bench/desk_batch.py --backend postgres --pairs 4 --batches 3000

Compare two trees by running each with its own `PYTHONPATH`, alternated; the machine is
shared, so same-run pairs, not single figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the bench package beside it
from bench import authorize as bench

TENANTS = 20
WARM_UP = 100


def _backend_cpu_s(conn: Any) -> float:
    """CPU seconds the PostgreSQL backend serving `conn` has used (it runs on this machine)."""
    pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    conn.rollback()
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(url: str, workdir: Path, batches: int, pairs: int, postgres: bool) -> dict[str, Any]:
    from commcredits.config import Settings
    from commcredits.db.engine import relaxed_connection, write_tx
    from commcredits.services.calls.call_batch import handle_batch
    from commcredits.services.calls.call_control import AuthorizeRequest, EndRequest
    from commcredits.services.calls.call_desk import Job
    from commcredits.services.runtime import Runtime

    server = bench.Server(url, workdir, 1)
    try:
        switch, tenants = server.seed(TENANTS, "100000.00")
    finally:
        server.stop()
    rt = Runtime.from_settings(Settings(database_url=url))
    held = relaxed_connection(rt.engine)
    rng = random.Random(1)

    def authorize() -> AuthorizeRequest:
        tid, uid = rng.choice(tenants)
        return AuthorizeRequest(tid, uuid.uuid4().hex, "user_out", callee=bench.CALLEE, caller="+12025550100",
                                user_id=uid)

    def run(jobs: list[Job]) -> list[Any]:
        with write_tx(rt.engine, durable=False, on=held) as conn:
            results, _ = handle_batch(rt, conn, jobs)
        return results

    open_calls = [authorize() for _ in range(pairs)]
    run([Job("authorize", switch, r) for r in open_calls])
    cpu: list[float] = []
    backend_before = 0.0
    for n in range(WARM_UP + batches):
        if n == WARM_UP and postgres:
            backend_before = _backend_cpu_s(held)
        new = [authorize() for _ in range(pairs)]
        jobs = [Job("end", switch, EndRequest(r.call_id, 65)) for r in open_calls]
        jobs += [Job("authorize", switch, r) for r in new]
        t0 = time.thread_time()
        results = run(jobs)
        took = time.thread_time() - t0
        if not all(isinstance(r, dict) for r in results):
            raise RuntimeError(f"a request failed: {[r for r in results if not isinstance(r, dict)][:1]}")
        if n >= WARM_UP:
            cpu.append(took)
        open_calls = new
    out: dict[str, Any] = {
        "batch": f"{pairs} ends and {pairs} authorizations", "batches": batches,
        "cpu_us_per_batch": {"mean": round(statistics.fmean(cpu) * 1e6),
                             "p50": round(statistics.median(cpu) * 1e6),
                             "p90": round(statistics.quantiles(cpu, n=10)[-1] * 1e6)}}
    if postgres:
        out["server_cpu_us_per_batch"] = round((_backend_cpu_s(held) - backend_before) / batches * 1e6)
    held.invalidate()
    held.close()
    rt.engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default=bench.DEFAULT_PG,
                        help="a server where the bench may create a database")
    parser.add_argument("--batches", type=int, default=2000, help="batches measured (after 100 to warm up)")
    parser.add_argument("--pairs", type=int, default=2, help="ends and authorizations per batch, K of each")
    args = parser.parse_args()
    if not 10 <= args.batches <= 1_000_000 or not 1 <= args.pairs <= 64:
        parser.error("--batches is 10-1,000,000 and --pairs 1-64")
    with tempfile.TemporaryDirectory(prefix="bench-desk-") as tmp:
        if args.backend == "sqlite":
            url = f"sqlite:///{tmp}/bench.db"
            result = measure(url, Path(tmp), args.batches, args.pairs, postgres=False)
        else:
            url, drop = bench.create_pg_database(args.postgres_url)
            try:
                result = measure(url, Path(tmp), args.batches, args.pairs, postgres=True)
            finally:
                drop()
    print(json.dumps({"backend": args.backend, "load_average": os.getloadavg(), **result}, indent=2))


if __name__ == "__main__":
    main()
