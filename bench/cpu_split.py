"""Where the CPU of the real-time path goes: authorize+end pairs at C callers against the same
server, seeding and load generator as `bench/authorize.py`, with the CPU each process (and
each thread of the server's processes) used while the load ran, read from `/proc`; then the
stock no-op app (`bench/noop_app.py`) under the same load generator, measured the same way.

The server process answers HTTP; its call desk (a child process) decides and writes; the
load generator is a third process; on PostgreSQL the database's own backend processes are
listed too. A figure of 1.00 is one core busy for the whole measurement. Prints one JSON
object, with:

- `call_desk`: what the desk did meanwhile (its batches, their mean size, and the share of
  time its writer spent on batches and on syncs), from the server's `/metrics`;
- `ceiling`: the CPU each part spends per authorize+end pair, beside the no-op's, and the
  most pairs/s that CPU per pair allows on this machine: with every core busy, and with the
  desk's writer thread busy all the time (on PostgreSQL, the writer plus the database's work
  it waits for). The ratio to the no-op can pass neither bound until the CPU per pair falls.

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
import urllib.request
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


def _watch(groups: dict[str, list[int]], threads_of: list[int], seconds: float) -> dict[str, Any]:
    """CPU used by each process of `groups` (role -> pids) and each thread of `threads_of`,
    over `seconds` from now, in cores (1.00 = one core busy the whole time)."""
    watched = [p for pids in groups.values() for p in pids]
    names = {p: _name(p) for p in watched}
    before = {p: _ticks(f"/proc/{p}/stat") for p in watched}
    threads_before = {p: _threads(p) for p in threads_of}
    machine_before, started = _machine(), time.monotonic()
    time.sleep(seconds)
    after = {p: _ticks(f"/proc/{p}/stat") for p in watched}
    threads_after = {p: _threads(p) for p in threads_of}
    machine_after, elapsed = _machine(), time.monotonic() - started

    def cores(a: tuple[int, int] | None, b: tuple[int, int] | None, *, kernel_only: bool = False) -> float:
        if a is None or b is None:
            return 0.0
        ticks = b[1] - a[1] if kernel_only else b[0] + b[1] - a[0] - a[1]
        return round(ticks / TICKS / elapsed, 3)

    processes = []
    for role, pids in groups.items():
        for pid in pids:
            used = cores(before.get(pid), after.get(pid))
            if used < 0.01 and role != "load generator":  # idle helpers, other databases' backends
                continue
            entry: dict[str, Any] = {"role": role, "pid": pid, "command": names[pid], "cores": used,
                                     "in_kernel": cores(before.get(pid), after.get(pid), kernel_only=True)}
            if pid in threads_of:
                per_thread = {t: cores(threads_before[pid].get(t), ticks) for t, ticks in threads_after[pid].items()}
                entry["threads"] = [{"tid": t, "cores": c} for t, c in sorted(per_thread.items()) if c >= 0.01]
            processes.append(entry)
    busy = (machine_after[0] - machine_before[0]) / max(1, machine_after[1] - machine_before[1])
    return {"seconds_measured": round(elapsed, 2), "machine_busy_cores": round(busy * (os.cpu_count() or 1), 2),
            "processes": processes}


def _desk_figures(port: int) -> dict[str, float]:
    """The server's call-desk histograms (count and sum of each), read from its /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {sample.name: sample.value for family in text_string_to_metric_families(text)
            if family.name.startswith("commcredits_call_desk_")
            for sample in family.samples if sample.name.endswith(("_count", "_sum"))}


def _desk_change(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, Any]:
    """What the desk did while the load ran: its batches, their mean size, and the share of
    the time its writer spent deciding and committing them, and syncing."""
    def grew(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)
    batches = grew("commcredits_call_desk_batch_requests_count")
    return {"batches": int(batches),
            "mean_batch_requests": round(grew("commcredits_call_desk_batch_requests_sum") / batches, 2)
            if batches else None,
            "share_of_time_in_batches": round(grew("commcredits_call_desk_batch_seconds_sum") / seconds, 2),
            "share_of_time_in_syncs": round(grew("commcredits_call_desk_sync_seconds_sum") / seconds, 2)}


def _part(processes: list[dict[str, Any]], role: str) -> float:
    return sum(p["cores"] for p in processes if p["role"] == role)


def _per_pair_us(cores: float, pairs_per_s: float) -> int | None:
    return round(cores / pairs_per_s * 1e6) if pairs_per_s else None


def measure(backend: str, callers: int, seconds: float, postgres_url: str) -> dict[str, Any]:
    drop = None
    with tempfile.TemporaryDirectory(prefix="cpu-split-") as tmp:
        url = f"sqlite:///{tmp}/commcredits.db"
        if backend == "postgres":
            url, drop = bench.create_pg_database(postgres_url)
        server = bench.Server(url, Path(tmp), 1)
        noop = bench.NoopServer(Path(tmp), [])
        try:
            switch, tenants = server.seed(bench.TENANTS, "100000.00")
            bench.run_load(server.port, switch, tenants, 10, seconds=1.0, max_pairs=200)  # warm-up
            bench.run_load(noop.port, "noop", tenants, 10, seconds=1.0, max_pairs=200)
            time.sleep(0.5)
            # the product: the server process answers HTTP, its desk process decides and writes
            ours = _tree(server.proc.pid)
            desk = [p for p in ours if p != server.proc.pid and "multiprocessing-fork" in _name(p)]
            load = bench.Load(server.port, switch, tenants, callers, seconds, 10**7)
            time.sleep(0.3)  # the generator's process is up and calling
            groups = {"server": [p for p in ours if p not in desk], "call desk": desk,
                      "load generator": _tree(load.proc.pid),
                      "database": _postgres_backends() if backend == "postgres" else []}
            desk_before = _desk_figures(server.port)
            product = _watch(groups, ours, max(0.5, seconds - 0.8))
            desk_figures = _desk_change(desk_before, _desk_figures(server.port), product["seconds_measured"])
            result = bench.summary(load.result(), callers)
            time.sleep(0.5)
            # the reference, right after with the same load generator: the stock no-op app
            load = bench.Load(noop.port, "noop", tenants, callers, seconds, 10**7)
            time.sleep(0.3)
            reference = _watch({"no-op server": _tree(noop.proc.pid), "load generator": _tree(load.proc.pid)}, [],
                               max(0.5, seconds - 0.8))
            noop_result = bench.summary(load.result(), callers)
        finally:
            server.stop()
            noop.stop()
            if drop is not None:
                drop()
    return {"backend": backend, "callers": callers, "load_average": list(os.getloadavg()), "cpus": os.cpu_count(),
            "pairs_per_s": result["pairs_per_s"], "noop_pairs_per_s": noop_result["pairs_per_s"],
            "ratio_to_noop": round(result["pairs_per_s"] / noop_result["pairs_per_s"], 2)
            if noop_result["pairs_per_s"] else None,
            "authorize_ms": result["authorize_ms"], "errors": result["errors"] + noop_result["errors"],
            "call_desk": desk_figures,
            "ceiling": _ceiling(product["processes"], result["pairs_per_s"], reference["processes"],
                                noop_result["pairs_per_s"]),
            "product": product, "no-op": reference}


def _ceiling(product: list[dict[str, Any]], pairs_per_s: float, reference: list[dict[str, Any]],
             noop_pairs_per_s: float) -> dict[str, Any]:
    """CPU per pair, by part, for the product and the no-op in the same run, and the pairs/s
    the product's CPU per pair would allow at most: with every core of the machine busy, and
    with the desk's writer thread (and, on PostgreSQL, the database's work, which the writer
    waits for) busy all the time. Each bound is also given as a ratio to the no-op."""
    parts = {role: _part(product, role) for role in ("server", "call desk", "database", "load generator")}
    writer = max((t["cores"] for p in product if p["role"] == "call desk" for t in p.get("threads", [])), default=0.0)
    per_pair = {role: _per_pair_us(cores, pairs_per_s) for role, cores in parts.items()}
    per_pair["desk writer thread"] = _per_pair_us(writer, pairs_per_s)
    noop_per_pair = {role: _per_pair_us(_part(reference, role), noop_pairs_per_s)
                     for role in ("no-op server", "load generator")}
    out: dict[str, Any] = {"product_cpu_us_per_pair": per_pair, "noop_cpu_us_per_pair": noop_per_pair}
    total = sum(parts.values())
    if pairs_per_s and noop_pairs_per_s and total:
        cpus = os.cpu_count() or 1
        every_core = cpus / (total / pairs_per_s)
        chain = (writer + parts["database"]) / pairs_per_s
        out["pairs_per_s_at_most"] = {"every core busy": round(every_core), "writer chain busy": round(1 / chain)}
        out["ratio_at_most"] = {"every core busy": round(every_core / noop_pairs_per_s, 2),
                                "writer chain busy": round(1 / chain / noop_pairs_per_s, 2)}
    return out


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
