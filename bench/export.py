"""Usage-export benchmark: the product's CSV and Excel downloads beside the raw ceiling of the
same rows in the same run, with the server's memory and call control's latency meanwhile.

For each backend (SQLite in a temporary directory; PostgreSQL in a database it creates and
drops) and each row count it starts the API as a real process (bench/authorize.py's
`Server`: the app `commcredits serve` runs), seeds ten funded tenants through the API, and
inserts N call records of the first tenant, spread over one month, straight into the
database (`db.usage.insert_record_rows`). Then, for that month:

- raw ceiling: `SELECT *` of the same rows in the export's order, read in chunks of 2,000 with
  the driver (a server-side cursor on PostgreSQL), through Python's `csv.writer` into
  /dev/null: rows/s;
- CSV and XLSX: `GET /v1/tenants/{tid}/usage?format=...&from=&to=` over HTTP, the body
  read on a plain socket and dropped: rows/s and the ratio to the ceiling; the server's
  VmRSS before and its peak while the export runs (sampled from /proc every 20 ms);
- each measure `--repeat` times (default 3), the three interleaved; the median is reported
  with every run's rate (the first CSV download, read with httpx, checks a line per row);
- with `--callers C` (default 10): authorize+end pairs from C callers for `--seconds`, once
  alone and once while CSV exports run back to back; p50/p99 of both.

Prints one JSON object with the load average before and after.

    .venv/bin/python bench/export.py                                  # 200,000 rows, both backends
    .venv/bin/python bench/export.py --rows 200000,1000000 --backends sqlite
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import socket
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.authorize import DEFAULT_PG, Server, create_pg_database, run_load, summary

MONTH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
DESTINATIONS = [  # (call type, number type, country, domestic, capability, funding, callee)
    ("user_out", "geographic", "US", 1, "communications_credits", "credits", "+12025550123"),
    ("user_out", "mobile", "GB", 0, "communications_credits", "credits", "+447400123456"),
    ("user_out", "geographic", "US", 1, "domestic_calling_plan", "pool", "+13125550199"),
    ("conf_out", "geographic", "DE", 0, "communications_credits", "credits", "+4930123456"),
    ("user_in", "toll_free", "US", 1, "communications_credits", "credits", "+18002345678"),
    ("user_in", "geographic", "US", 1, "free", "free", "+12025550100"),
    ("user_out", "emergency", None, 1, "free", "free", "911"),
]


def seed_records(url: str, tenant_id: str, user_id: str, rows: int) -> float:
    """Insert `rows` call records of one tenant over MONTH; returns the seconds it took."""
    from commcredits.db.engine import make_engine
    from commcredits.db.usage import RECORD_COLUMNS, insert_record_rows

    rng, began = random.Random(16), time.perf_counter()
    span = (MONTH[1] - MONTH[0]).total_seconds()
    engine = make_engine(url)
    batch: list[tuple[Any, ...]] = []
    for i in range(rows):
        ctype, ntype, country, domestic, capability, funding, callee = rng.choice(DESTINATIONS)
        started = MONTH[0] + timedelta(seconds=int(span * i / rows))
        charge = 0 if funding in ("free", "pool") else rng.randrange(1_000, 5_000_000, 10)
        values = {"id": uuid.uuid4().hex, "tenant_id": tenant_id, "call_id": uuid.uuid4().hex[:16],
                  "conference_id": "c" + uuid.uuid4().hex[:8] if ctype == "conf_out" else None,
                  "call_type": ctype, "user_id": user_id, "organizer_id": None, "caller": "+12025550100",
                  "callee": callee, "destination_country": country, "number_type": ntype, "domestic": domestic,
                  "started_at": started, "duration_s": rng.randrange(5, 3_600), "category": None,
                  "funding": funding, "capability": capability, "pool_minutes": 0, "charge": charge,
                  "credits_charge": charge, "postpaid_charge": 0, "connect_fee": 250_000 if i % 50 == 0 else 0,
                  "currency": "USD", "rating": None, "policy_blocked": False, "transaction_id": None,
                  "created_at": started}
        batch.append(tuple(values[c] for c in RECORD_COLUMNS))
        if len(batch) == 20_000 or i == rows - 1:
            with engine.begin() as conn:
                insert_record_rows(conn, batch)
            batch.clear()
    engine.dispose()
    return time.perf_counter() - began


def raw_ceiling(url: str, tenant_id: str) -> dict[str, Any]:
    """SELECT * of the month's rows in (started_at, id) order, csv.writer to /dev/null."""
    from commcredits.db.engine import make_engine
    from commcredits.db.raw import Raw

    engine = make_engine(url)
    began = time.perf_counter()
    with engine.connect() as conn, conn.begin(), open(os.devnull, "w", newline="") as sink:
        raw = Raw(conn)
        cur = raw.dbapi.cursor(name="ceiling") if raw.pg else raw.dbapi.cursor()
        cur.execute(raw.sql("SELECT * FROM call_records WHERE tenant_id = ? AND started_at >= ? AND started_at < ? "
                            "ORDER BY started_at, id"), [tenant_id, raw.instant(MONTH[0]), raw.instant(MONTH[1])])
        writer, count = csv.writer(sink), 0
        while chunk := cur.fetchmany(2_000):
            writer.writerows(chunk)
            count += len(chunk)
        cur.close()
    seconds = time.perf_counter() - began
    engine.dispose()
    return {"rows": count, "seconds": round(seconds, 2), "rows_per_s": round(count / seconds)}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def download(port: int, target: str, token: str) -> tuple[int, float]:
    """GET `target` on a plain socket, reading the answer into one reused buffer until the
    server closes (the cheapest client there is: it leaves the cores to the server).
    Returns the bytes received and the seconds to the first byte."""
    began = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                     "Connection: close\r\n\r\n".encode())
        buffer = bytearray(1 << 20)
        size = sock.recv_into(buffer)
        first = time.perf_counter() - began
        if not buffer.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"export failed: {bytes(buffer[:300])!r}")
        while got := sock.recv_into(buffer):
            size += got
    return size, first


def export(server: Server, tenant_id: str, fmt: str, rows: int, check: bool = False) -> dict[str, Any]:
    """One download, streamed and dropped, with the server's RSS meanwhile; `check` reads it
    with httpx instead and checks the CSV has a line per row."""
    before, peak, done = rss_mb(server.proc.pid), [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(server.proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    target = f"/v1/tenants/{tenant_id}/usage?" + urlencode(
        {"format": fmt, "from": MONTH[0].isoformat(), "to": MONTH[1].isoformat()})
    began = time.perf_counter()
    if check:
        with httpx.stream("GET", f"http://127.0.0.1:{server.port}{target}", timeout=600,
                          headers={"Authorization": f"Bearer {server.token}"}) as r:
            r.raise_for_status()
            lines = sum(piece.count(b"\n") for piece in r.iter_bytes(1 << 16))
        if fmt == "csv" and lines != rows + 1:
            raise RuntimeError(f"the CSV had {lines} lines for {rows} rows")
        size, first = lines, 0.0
    else:
        size, first = download(server.port, target, server.token)
    seconds = time.perf_counter() - began
    done.set()
    sampler.join()
    return {"seconds": round(seconds, 2), "rows_per_s": round(rows / seconds), "bytes": size,
            "first_byte_s": round(first, 3), "rss_before_mb": before, "rss_peak_mb": peak[0],
            "rss_growth_mb": round(peak[0] - before, 1)}


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate, with every run's rate beside it."""
    ordered = sorted(runs, key=lambda r: r["rows_per_s"])
    return {**ordered[len(ordered) // 2], "runs_rows_per_s": [r["rows_per_s"] for r in runs],
            "rss_growth_mb": max(r["rss_growth_mb"] for r in runs)}


def latency_during_export(server: Server, switch: str, tenants: list[tuple[str, str]], rows: int,
                          args: argparse.Namespace) -> dict[str, Any]:
    """Authorize latency alone, then while CSV exports of the first tenant run back to back."""
    alone = summary(run_load(server.port, switch, tenants, args.callers, args.seconds, 10**6), args.callers)
    stop, exports = threading.Event(), [0]

    def exporting() -> None:
        while not stop.is_set():
            export(server, tenants[0][0], "csv", rows)
            exports[0] += 1

    worker = threading.Thread(target=exporting, daemon=True)
    worker.start()
    time.sleep(0.5)  # the export is under way
    during = summary(run_load(server.port, switch, tenants, args.callers, args.seconds, 10**6), args.callers)
    stop.set()
    worker.join()
    return {"alone": alone, "during_csv_export": during, "exports_started": exports[0]}


def run(url: str, rows: int, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        server = Server(url, Path(tmp), 1)
        try:
            switch, tenants = server.seed(10, "100000.00")
            tid, uid = tenants[0]
            out: dict[str, Any] = {"rows": rows, "seed_seconds": round(seed_records(url, tid, uid, rows), 1)}
            export(server, tid, "csv", rows, check=True)  # warm (caches, the file's pages); a line per row
            out["idle_rss_mb"] = rss_mb(server.proc.pid)
            runs: dict[str, list[dict[str, Any]]] = {"raw_ceiling": [], "csv": [], "xlsx": []}
            for _ in range(args.repeat):  # interleaved, so a busy moment hits all three alike
                runs["raw_ceiling"].append(raw_ceiling(url, tid))
                for fmt in ("csv", "xlsx"):
                    runs[fmt].append(export(server, tid, fmt, rows))
            ceiling = sorted(runs["raw_ceiling"], key=lambda r: r["rows_per_s"])[args.repeat // 2]
            out["raw_ceiling"] = {**ceiling, "runs_rows_per_s": [r["rows_per_s"] for r in runs["raw_ceiling"]]}
            for fmt in ("csv", "xlsx"):
                out[fmt] = median_run(runs[fmt])
                out[fmt]["ratio_to_raw"] = round(out[fmt]["rows_per_s"] / ceiling["rows_per_s"], 2)
            if args.callers:
                out["authorize"] = latency_during_export(server, switch, tenants, rows, args)
            return out
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", default="200000", help="comma-separated row counts, e.g. 200000,1000000")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument("--callers", type=int, default=10, help="authorize callers during an export (0: skip)")
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds of authorize load per phase")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measure (the median is reported)")
    args = parser.parse_args()
    out: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "load_average_before": os.getloadavg(), "targets": {"csv": 0.5, "xlsx": 0.25,
                                                                               "rss_growth_mb": 50}}
    for backend in args.backends.split(","):
        results = []
        for rows in (int(r) for r in args.rows.split(",")):
            if backend == "sqlite":
                with tempfile.TemporaryDirectory(prefix="bench-export-db-") as folder:
                    results.append(run(f"sqlite:///{folder}/export.db", rows, args))
            else:
                url, drop = create_pg_database(args.postgres_url)
                try:
                    results.append(run(url, rows, args))
                finally:
                    drop()
        out[backend] = results
    out["load_average_after"] = os.getloadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
