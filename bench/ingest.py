"""Call-record ingest benchmark: records/s end to end, against a raw insert, and peak memory.

For each backend (SQLite in a temp file; PostgreSQL in a database this script creates and
drops) it builds a world of `--tenants` tenants (users with plan and Communications Credits
licenses, subscriptions, funds, a rate deck for every destination below), writes a CSV file
of `--records` records with random UUID ids in time order, and then:

- ingest: a child process runs `services.ingest.ingest`, the code behind
  `commcredits cdrs ingest` (parse the file, rate, decide funding, debit lots, write journal
  and records, commit per batch); its peak RSS is read from the child, and the run is
  repeated on the first `--small` records to show that memory does not grow with the file;
- raw: the same records (the file's columns) inserted with the same batch size into a bare
  table with the same primary key (VARCHAR(100) holding the UUID), on an engine with the
  same settings: the storage limit; the ingest rate is reported as a ratio of it.

Destinations (printed in the output): outbound calls (75% of records: user_out 60%,
conf_out 8%, transfers/forwarding 5%, ucap_out 2%) go 65% to the caller's own country, 33%
abroad (16 countries), 1% to premium-rate numbers, 1% to the emergency short code; 45% of
them are mobile numbers. Inbound calls (25%) are to the tenant's service numbers, 40% of
them toll-free. Numbers come from a pool of distinct numbers (`--records / 5`), 70% of calls
to a frequent 5% of that pool and 30% spread over all of it, as repeat callees are in real
traffic.

- record_insert: the call records the ingest stored, written again alone by the ingest's own
  statement into a fresh database (`record_insert_ratio_to_raw`): what the product's schema
  costs before any parsing, rating or charging, the ceiling of any ingest's ratio.

On PostgreSQL the file is also ingested by `--workers` processes (`cdrs ingest --workers`,
default 2), into a fresh database with the same world: `ingest_workers` and
`workers_ratio_to_raw`. `peak_rss_mb` is the reading process's, `worker_peak_rss_mb` the largest worker's.

    .venv/bin/python bench/ingest.py --records 1000000 --tenants 1000
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from commcredits.config import Settings
from commcredits.db import tenants as tenant_db
from commcredits.db import usage
from commcredits.db.engine import make_engine, normalise_url
from commcredits.db.migrate import upgrade
from commcredits.db.tenants import Tenant, User
from commcredits.domain.lots import expiry_for
from commcredits.domain.numbers import InvalidNumber, parse_number
from commcredits.services.access.principal import OPERATOR
from commcredits.services.ledger.ledger_ops import credit_new_lot
from commcredits.services.rating import rating
from commcredits.services.runtime import Runtime
from commcredits.services.usage import ingest

COUNTRIES = {  # region: (time zone, fixed template, mobile template, toll-free, premium)
    "US": ("America/New_York", "+12015550123", "+12015550123", "+18002345678", "+19002345678"),
    "CA": ("America/Toronto", "+15062345678", "+15062345678", "+18002123456", "+19002123456"),
    "GB": ("Europe/London", "+441212345678", "+447400123456", "+448001234567", "+449012345678"),
    "DE": ("Europe/Berlin", "+4930123456", "+4915123456789", "+498001234567890", "+499001234567"),
    "FR": ("Europe/Paris", "+33123456789", "+33612345678", "+33801234567", "+33891123456"),
    "JP": ("Asia/Tokyo", "+81312345678", "+819012345678", "+81120123456", "+81990123456"),
    "IN": ("Asia/Kolkata", "+917410410123", "+918123456789", "+911800123456", "+911861123456789"),
    "AU": ("Australia/Sydney", "+61212345678", "+61412345678", "+611800123456", "+611900123456"),
    "BR": ("America/Sao_Paulo", "+551123456789", "+5511961234567", "+55800123456", "+55500123456"),
    "MX": ("America/Mexico_City", "+522001234567", "+522221234567", "+528001234567", "+529001234567"),
    "ES": ("Europe/Madrid", "+34810123456", "+34612345678", "+34800123456", "+34803123456"),
    "IT": ("Europe/Rome", "+390212345678", "+393123456789", "+39800123456", "+39899123456"),
    "NL": ("Europe/Amsterdam", "+31101234567", "+31612345678", "+318001234", "+319061234"),
    "SE": ("Europe/Stockholm", "+468123456", "+46701234567", "+4620123456", "+469001234567"),
    "CH": ("Europe/Zurich", "+41212345678", "+41781234567", "+41800123456", "+41900123456"),
    "NG": ("Africa/Lagos", "+2342033123456", "+2348021234567", "+23480017591759", "+2348021234567"),
}
EMERGENCY = {"US": "911", "CA": "911", "MX": "911", "GB": "999", "AU": "000", "JP": "110", "BR": "190"}
HOME = ("US",) * 5 + ("GB",) * 2 + ("DE", "FR", "CA", "AU", "JP", "IN", "ES")
FIELDS = ingest.FIELDS
START = datetime(2026, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 4, 1, tzinfo=UTC)
DESTINATIONS = {"outbound_share": 0.75, "domestic": 0.65, "international": 0.33, "premium": 0.01,
                "emergency": 0.01, "mobile_share": 0.45, "inbound_toll_free": 0.4,
                "distinct_numbers": "records / 5", "popular": "70% of calls to 5% of the numbers"}


def ratecard() -> bytes:
    lines = ["# deck: bench; currency: USD; rounding: half_up; decimals: 2",
             "category,prefix,destination,rate_per_minute,connection_fee,initial_increment,next_increment,"
             "effective_from"]
    seen: set[tuple[str, str]] = set()
    for region, (_, fixed, mobile, _free, premium) in COUNTRIES.items():
        cc = str(parse_number(fixed).country_code)
        rows = [("outbound", cc, "0.0250", "0", "60", "1"),
                ("outbound", mobile[1:len(cc) + 3], "0.1200", "0", "60", "1"),
                ("outbound", premium[1:len(cc) + 3], "1.9900", "0.25", "60", "60"),
                ("toll_free_inbound", cc, "0.0350", "0", "60", "60"),
                ("conference_dial_out", cc, "0.0300", "0", "60", "60"),
                ("conference_dial_in", cc, "0.0220", "0", "60", "60")]
        for category, prefix, rate, fee, first, nxt in rows:
            if (category, prefix) not in seen:
                seen.add((category, prefix))
                lines.append(f"{category},{prefix},{region},{rate},{fee},{first},{nxt},2026-01-01")
    return ("\n".join(lines) + "\n").encode()


def number_pool(size: int, rng: random.Random) -> dict[tuple[str, str], list[str]]:
    """Distinct valid numbers per (region, kind), made from libphonenumber example numbers."""
    pool: dict[tuple[str, str], list[str]] = {}
    kinds = {"fixed": 1, "mobile": 2, "toll_free": 3, "premium": 4}
    share = {"fixed": 0.5, "mobile": 0.4, "toll_free": 0.05, "premium": 0.05}
    for region, spec in COUNTRIES.items():
        for kind, at in kinds.items():
            template, found = spec[at], set()
            want = max(20, int(size * share[kind] / len(COUNTRIES)))
            for _ in range(want * 3):
                if len(found) >= want:
                    break
                candidate = template[:-4] + f"{rng.randrange(10_000):04d}"
                try:
                    parse_number(candidate)
                    found.add(candidate)
                except InvalidNumber:
                    pass
            pool[(region, kind)] = sorted(found) or [template]
    parse_number.cache_clear()  # the measured run starts cold
    return pool


def pick(numbers: list[str], rng: random.Random) -> str:
    if rng.random() < 0.7:
        return numbers[rng.randrange(max(1, len(numbers) // 20))]
    return numbers[rng.randrange(len(numbers))]


def plan_world(tenants: int, rng: random.Random) -> list[dict[str, Any]]:
    """Tenants with their country, plan and five user ids (ids from `rng`: reproducible)."""
    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    plans = ("domestic_calling_plan", "international_calling_plan", "pay_as_you_go_calling_plan")
    return [{"id": new_id(), "region": HOME[n % len(HOME)], "plan": plans[n % 3],
             "users": [new_id() for _ in range(5)]} for n in range(tenants)]


def build_world(engine_url: str, world: list[dict[str, Any]]) -> None:
    """The tenants, users, subscriptions and funds (one transaction), and the rate deck."""
    rt = Runtime.from_settings(Settings(database_url=engine_url))
    rating.import_deck(rt, OPERATOR, rating.parse_deck(format_="ratecard", files={"bench.csv": ratecard()}))
    created = NOW - timedelta(days=90)
    with rt.engine.begin() as conn:
        for n, spec in enumerate(world):
            region, plan = spec["region"], spec["plan"]
            tenant = Tenant(spec["id"], f"Tenant {n}", region, "USD", region, COUNTRIES[region][0],
                            "prepaid", "USD", False, False, 0, 0, created)
            tenant_db.insert_tenant(conn, tenant)
            for u, user_id in enumerate(spec["users"]):
                licenses = (plan, "communications_credits") if u < 4 else (plan,)
                if u == 0:
                    licenses += ("audio_conferencing",)
                tenant_db.insert_user(conn, User(user_id, tenant.id, f"u{u}@t{n}.example", "U", region, (),
                                                 licenses, created))
            for product, quantity in ((plan, 5), ("audio_conferencing", 1), ("communications_credits", 5)):
                usage.set_subscription(conn, tenant.id, product, quantity, created)
            amount = 2_000_000_000 if n % 50 else 5_000_000  # a few tenants run into a deficit
            credit_new_lot(conn, tenant, type_="grant", source_account="grants", lot_source="grant",
                           amount=amount, now=created, expires_at=expiry_for(created), reference="bench")
    rt.engine.dispose()


def write_file(path: Path, records: int, world: list[dict[str, Any]], rng: random.Random) -> None:
    pool = number_pool(max(1_000, records // 5), rng)
    regions = list(COUNTRIES)
    step = (NOW - START - timedelta(days=3)).total_seconds() / records
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(FIELDS)
        for i in range(records):
            tenant = world[rng.randrange(len(world))]
            region, users = tenant["region"], tenant["users"]
            user = users[rng.randrange(len(users))]
            at = START + timedelta(seconds=i * step + rng.random())
            r = rng.random()
            if r < 0.75:
                call_type = "user_out" if r < 0.6 else "conf_out" if r < 0.68 else (
                    "user_out_transfer" if r < 0.71 else "user_out_forwarding" if r < 0.73 else "ucap_out")
                d = rng.random()
                if d < 0.01:
                    callee = EMERGENCY.get(region, "112")
                elif d < 0.02:
                    callee = pick(pool[(region, "premium")], rng)
                else:
                    where = region if d < 0.67 else regions[rng.randrange(len(regions))]
                    callee = pick(pool[(where, "mobile" if rng.random() < 0.45 else "fixed")], rng)
            else:
                call_type = ("user_in", "conf_in", "ucap_in", "unassigned_in")[rng.randrange(4)]
                callee = pick(pool[(region, "toll_free" if rng.random() < 0.4 else "fixed")], rng)
            organizer = users[0] if call_type.startswith("conf") else ""
            seconds = min(7_200, int(rng.expovariate(1 / 180)))
            out.writerow((str(uuid.uuid4()), tenant["id"], call_type, "+12025550100", callee,
                          at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), seconds,
                          "" if call_type in ("conf_out", "conf_in", "unassigned_in") else user, organizer,
                          f"call-{i}", ""))


def head(source: Path, target: Path, records: int) -> None:
    with source.open() as f, target.open("w") as g:
        for n, line in enumerate(f):
            if n > records:
                break
            g.write(line)


RAW_TABLE = ("CREATE TABLE raw_cdrs (id VARCHAR(100) PRIMARY KEY, tenant_id VARCHAR(36), call_type VARCHAR(24), "
             "caller VARCHAR(32), callee VARCHAR(32), started_at VARCHAR(40), duration_seconds INTEGER, "
             "user_id VARCHAR(36), organizer_id VARCHAR(36), call_id VARCHAR(200), conference_id VARCHAR(200))")


def raw_insert(url: str, path: Path, batch_size: int) -> dict[str, float]:
    """The same rows into a bare table with the same key, same engine settings, same batches."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(RAW_TABLE))
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO raw_cdrs VALUES ({', '.join([mark] * len(FIELDS))})"
    spent, rows = 0.0, 0
    with path.open(newline="") as f:
        reader = csv.reader(f)
        next(reader)
        while True:
            lines = itertools.islice(reader, batch_size)
            batch = [(*r[:6], int(r[6]), *(v or None for v in r[7:])) for r in lines]
            if not batch:
                break
            started = time.perf_counter()
            with engine.begin() as conn:
                conn.exec_driver_sql(sql, batch)
            spent += time.perf_counter() - started
            rows += len(batch)
    engine.dispose()
    return {"rows": rows, "seconds": round(spent, 2), "rows_per_second": round(rows / spent)}


def record_insert(source_url: str, target_url: str, batch_size: int) -> dict[str, float]:
    """The product's own write of the call records alone: the rows the ingest stored (every
    column, in the database's form) written again into a fresh database with the same world
    by the ingest's own statement (`usage.insert_stored_record_rows`: executemany on SQLite,
    binary COPY on PostgreSQL), with the same batches. No ingest can beat this: it is the
    floor of the product's schema (27 columns, two indexes, a foreign key), where `raw` is a
    bare 11-column table."""
    source = make_engine(source_url)
    with source.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text(
            f"SELECT {', '.join(usage.RECORD_COLUMNS)} FROM call_records ORDER BY started_at, id"))]
    source.dispose()
    engine = make_engine(target_url)
    spent = 0.0
    for start in range(0, len(rows), batch_size):
        began = time.perf_counter()
        with engine.begin() as conn:
            usage.insert_stored_record_rows(conn, rows[start:start + batch_size])
        spent += time.perf_counter() - began
    engine.dispose()
    return {"rows": len(rows), "seconds": round(spent, 2), "rows_per_second": round(len(rows) / spent)}


def run_record_insert(source_url: str, target_url: str, batch_size: int) -> dict[str, float]:
    """`record_insert` in a process of its own: the rows it holds never enlarge this process,
    whose peak RSS the next ingest child would inherit (Linux keeps `ru_maxrss` across exec)."""
    out = subprocess.run([sys.executable, __file__, "--child-record-insert", source_url, target_url,
                          "--batch-size", str(batch_size)], check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def child(url: str, path: Path, batch_size: int, workers: int = 1) -> None:
    """Run the ingest exactly as `commcredits cdrs ingest` does and report it with memory."""
    rt = Runtime.from_settings(Settings(database_url=url))
    rss_before = _rss_kb()
    with path.open("rb") as stream, open(os.devnull, "w") as rejects:
        summary = ingest.ingest(rt, stream, format_="csv", rejects=rejects, batch_size=batch_size, workers=workers)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest worker's (0: none)
    print(json.dumps({**summary.as_json(), "rss_before_mb": round(rss_before / 1024, 1),
                      "peak_rss_mb": round(peak / 1024, 1), "worker_peak_rss_mb": round(workers_peak / 1024, 1)}))


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def run_child(url: str, path: Path, batch_size: int, workers: int = 1) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, "--child", url, "--file", str(path), "--batch-size",
                          str(batch_size), "--child-workers", str(workers)], check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


class Backend:
    """Fresh databases for one backend: SQLite files in a folder, or PostgreSQL databases."""

    def __init__(self, name: str, folder: Path, admin_url: str | None) -> None:
        self.name, self.folder, self.admin_url, self.made = name, folder, admin_url, []

    def fresh(self, label: str) -> str:
        if self.admin_url is None:
            url = f"sqlite:///{self.folder / (label + '.db')}"
        else:
            name = f"commcredits_bench_{label}_{uuid.uuid4().hex[:8]}"
            admin = make_engine(self.admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            self.made.append(name)
            url = normalise_url(self.admin_url).rsplit("/", 1)[0] + "/" + name
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        return url

    def drop(self) -> None:
        if self.admin_url is None:
            return
        admin = make_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in self.made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def measure(backend: Backend, files: dict[int, Path], world: list[dict[str, Any]], args: argparse.Namespace
            ) -> dict[str, object]:
    result: dict[str, object] = {}
    memory: dict[str, object] = {}
    for records, path in sorted(files.items()):
        url = backend.fresh(f"ingest{records}")
        build_world(url, world)
        run = run_child(url, path, args.batch_size)
        memory[str(records)] = {"peak_rss_mb": run["peak_rss_mb"], "rss_before_mb": run["rss_before_mb"]}
        if records == args.records:
            result["ingest"] = run
            floor_url = backend.fresh("floor")
            build_world(floor_url, world)
            result["record_insert"] = run_record_insert(url, floor_url, args.batch_size)
    if backend.admin_url is not None and args.workers > 1:  # PostgreSQL: several writers
        url = backend.fresh(f"workers{args.records}")
        build_world(url, world)
        result["ingest_workers"] = {"workers": args.workers,
                                    **run_child(url, files[args.records], args.batch_size, args.workers)}
    raw = raw_insert(backend.fresh("raw"), files[args.records], args.batch_size)
    ingest_rate = int(result["ingest"]["records_per_second"])  # type: ignore[index]
    floor = result["record_insert"]["rows_per_second"]  # type: ignore[index]
    result.update(raw_insert=raw, ratio_to_raw=round(ingest_rate / raw["rows_per_second"], 2),
                  record_insert_ratio_to_raw=round(floor / raw["rows_per_second"], 2),
                  peak_memory_by_file_size=memory)
    if "ingest_workers" in result:
        rate = int(result["ingest_workers"]["records_per_second"])  # type: ignore[index]
        result["workers_ratio_to_raw"] = round(rate / raw["rows_per_second"], 2)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--tenants", type=int, default=1_000)
    ap.add_argument("--small", type=int, default=0, help="second, smaller run for memory (default records/5)")
    ap.add_argument("--batch-size", type=int, default=ingest.DEFAULT_BATCH)
    ap.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--workers", type=int, default=2,
                    help="also ingest with this many worker processes on PostgreSQL (1: only one process)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-workers", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--child-record-insert", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_record_insert:
        print(json.dumps(record_insert(*args.child_record_insert, args.batch_size)))
        return None
    if args.child:
        return child(args.child, Path(args.file), args.batch_size, args.child_workers)
    small = args.small or max(1, args.records // 5)
    out: dict[str, object] = {
        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
        "load_average": os.getloadavg(), "records": args.records, "tenants": args.tenants,
        "batch_size": args.batch_size, "record_ids": "random UUID4", "destinations": DESTINATIONS}
    with tempfile.TemporaryDirectory(prefix="commcredits-bench-") as tmp:
        folder = Path(tmp)
        world = plan_world(args.tenants, random.Random(args.seed))
        files = {args.records: folder / "records.csv", small: folder / "small.csv"}
        started = time.perf_counter()
        write_file(files[args.records], args.records, world, random.Random(args.seed + 1))
        head(files[args.records], files[small], small)
        out["generate_seconds"] = round(time.perf_counter() - started, 1)
        for name in args.backends.split(","):
            backend = Backend(name, folder, None if name == "sqlite" else args.postgres_url)
            try:
                out[name] = measure(backend, files, world, args)
            finally:
                backend.drop()
    out["targets"] = {"sqlite_ratio_to_raw": 0.5, "sqlite_records_per_second": 20_000,
                      "postgres_records_per_second": 15_000, "memory": "flat across file sizes"}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    sys.exit(main())
