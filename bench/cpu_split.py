"""Where the CPU of the real-time path goes: authorize+end pairs at C callers against the same
server, seeding and load generator as `bench/authorize.py`, with the CPU each process (and
each thread of the server's processes) used while the load ran, read from `/proc`.

The server process answers HTTP; its call desk (a child process) decides and writes; the
load generator is a third process; on PostgreSQL the database's own backend processes are
listed too. A figure of 1.00 is one core busy for the whole measurement. Prints one JSON
object.

    .venv/bin/python bench/cpu_split.py                                   # SQLite, 10 callers
    .venv/bin/python bench/cpu_split.py --backend postgres --callers 10 --seconds 8

Linux only (`/proc`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the bench package beside it
from bench import authorize as bench

TICKS = os.sysconf("SC_CLK_TCK")


def _ticks(stat_path: str) -> tuple[int, int] | None:
    """(user, system) clock ticks of a process or thread, None once it is gone."""
    try:
        with open(stat_path) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]), int(fields[12])


def _tree(pid: int) -> list[int]:
    """The process and its descendants."""
    found = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for child in f.read().split():
                    found += _tree(int(child))
    except OSError:
        pass
    return found


def _name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline") as f:
            return f.read().replace("\0", " ").strip()[-80:]
    except OSError:
        return "?"


def _threads(pid: int) -> dict[int, tuple[int, int]]:
    out = {}
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return {}
    for task in tasks:
        ticks = _ticks(f"/proc/{pid}/task/{task}/stat")
        if ticks is not None:
            out[int(task)] = ticks
    return out


def _machine() -> tuple[int, int]:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return sum(values) - values[3] - values[4], sum(values)  # busy (not idle, not iowait), all


def _postgres_backends() -> list[int]:
    found = subprocess.run(["pgrep", "-f", "postgres"], capture_output=True, text=True, check=False).stdout
    return [int(p) for p in found.split()]


def measure(backend: str, callers: int, seconds: float, postgres_url: str) -> dict[str, Any]:
    drop = None
    with tempfile.TemporaryDirectory(prefix="cpu-split-") as tmp:
        url = f"sqlite:///{tmp}/commcredits.db"
        if backend == "postgres":
            url, drop = bench.create_pg_database(postgres_url)
        server = bench.Server(url, Path(tmp), 1)
        try:
            switch, tenants = server.seed(bench.TENANTS, "100000.00")
            bench.run_load(server.port, switch, tenants, 10, seconds=1.0, max_pairs=200)  # warm-up
            time.sleep(0.5)
            ours = _tree(server.proc.pid)
            load = bench.Load(server.port, switch, tenants, callers, seconds, 10**7)
            time.sleep(0.3)  # the generator's process is up and calling
            generator = _tree(load.proc.pid)
            database = _postgres_backends() if backend == "postgres" else []
            watched = ours + generator + database
            names = {p: _name(p) for p in watched}
            before = {p: _ticks(f"/proc/{p}/stat") for p in watched}
            threads_before = {p: _threads(p) for p in ours}
            machine_before, started = _machine(), time.monotonic()
            time.sleep(max(0.5, seconds - 0.8))
            after = {p: _ticks(f"/proc/{p}/stat") for p in watched}
            threads_after = {p: _threads(p) for p in ours}
            machine_after, elapsed = _machine(), time.monotonic() - started
            result = bench.summary(load.result(), callers)
        finally:
            server.stop()
            if drop is not None:
                drop()

    def cores(a: tuple[int, int] | None, b: tuple[int, int] | None) -> float:
        if a is None or b is None:
            return 0.0
        return round((b[0] + b[1] - a[0] - a[1]) / TICKS / elapsed, 2)

    processes = []
    for role, pids in (("server", ours), ("load generator", generator), ("database", database)):
        for pid in pids:
            used = cores(before.get(pid), after.get(pid))
            if used < 0.01 and role != "load generator":  # idle helpers, other databases' backends
                continue
            entry: dict[str, Any] = {"role": role, "pid": pid, "command": names[pid], "cores": used}
            if role == "server":
                entry["threads"] = [{"tid": t, "cores": cores(threads_before[pid].get(t), ticks)}
                                    for t, ticks in sorted(threads_after[pid].items())
                                    if cores(threads_before[pid].get(t), ticks) >= 0.01]
            processes.append(entry)
    busy = (machine_after[0] - machine_before[0]) / max(1, machine_after[1] - machine_before[1])
    return {"backend": backend, "callers": callers, "seconds_measured": round(elapsed, 2),
            "load_average": list(os.getloadavg()), "machine_busy_cores": round(busy * (os.cpu_count() or 1), 2),
            "cpus": os.cpu_count(), "pairs_per_s": result["pairs_per_s"], "authorize_ms": result["authorize_ms"],
            "errors": result["errors"], "processes": processes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--callers", type=int, default=10, help="concurrent callers")
    parser.add_argument("--seconds", type=float, default=6.0, help="time under load")
    parser.add_argument("--postgres-url", default=bench.DEFAULT_PG,
                        help="a server where the bench may create a database")
    args = parser.parse_args()
    if not 1 <= args.callers <= 1000 or not 2 <= args.seconds <= 600:
        parser.error("--callers is 1-1000 and --seconds 2-600")
    print(json.dumps(measure(args.backend, args.callers, args.seconds, args.postgres_url), indent=2))


if __name__ == "__main__":
    main()
