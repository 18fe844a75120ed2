"""Call-control benchmark: authorize+end pairs per second over HTTP on loopback, beside a
stock FastAPI no-op app (bench/noop_app.py) driven by the same load generator in the same run.

Starts `commcredits serve` as a real process (SQLite in a temporary directory, and
PostgreSQL in a database of its own that it creates and drops), seeds it through the API
(the sample rate card, a switch token, 100 funded tenants each with a licensed user), then
drives it from a load generator in a separate process: C concurrent callers (C = 1, 10,
100 by default), each on its own keep-alive connection, loop "authorize a new call, end it
after 30 s of talk" for a bounded time and count. Caller i calls for tenant i mod 100.
A last phase checks overspend under concurrency: 100 callers race for one tenant holding
credit for 50 one-minute calls, each reporting one second more than it was granted (the
worst a switch with a 1 s timer does); the balance must not go below minus one increment's
price per call charged. Then 20 connections post call records one at a time
(`--cdr-posters`), and with `--import-rows N` authorize is measured again while an N-row rate
card is imported (the load covers the whole import, from before the upload to its answer).
Each level prints the product's pairs/s, the no-op's and their ratio.
Prints one JSON object.

    .venv/bin/python bench/authorize.py                      # SQLite and PostgreSQL
    .venv/bin/python bench/authorize.py --backends sqlite --seconds 5 --workers 2

The load generator is a minimal HTTP/1.1 client on asyncio streams (pre-built requests,
Content-Length framing), so on this 2-core machine it takes as little CPU as possible from
the server it measures; it still shares the cores with it, which the figures include.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
PYTHONPATH = f"{ROOT}{os.pathsep}{ROOT / 'src'}"  # the servers run this checkout's code
RATECARD = ROOT.parent / "shared" / "testdata" / "sample-ratecard.csv"
TENANTS = 100
CALLEE = "+12025550123"  # US, 0.015/min in 60 s increments: 0.02 a minute after rounding
INCREMENT_PRICE = 20_000  # micros of one 60 s increment on that route
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


# ---------------------------------------------------------------- the load generator


class Conn:
    """One keep-alive HTTP/1.1 connection that posts JSON and reads the status and body."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.head = (f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                     "Content-Type: application/json\r\n").encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        self.writer.write(b"POST " + path.encode() + b" HTTP/1.1\r\n" + self.head
                          + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def caller(conn: Conn, tenant: tuple[str, str], deadline: float, budget: list[int], out: dict[str, Any],
                 talk_s: int | None, stop: Any = None) -> None:
    """Authorize+end pairs until the deadline, the shared budget of pairs runs out, or `stop` is set."""
    tid, uid = tenant
    try:
        await conn.open()
        while time.perf_counter() < deadline and budget[0] > 0 and not (stop is not None and stop.is_set()):
            budget[0] -= 1
            call_id = uuid.uuid4().hex
            body = json.dumps({"tenant_id": tid, "call_id": call_id, "call_type": "user_out",
                               "caller": "+12025550100", "callee": CALLEE, "user_id": uid}).encode()
            t0 = time.perf_counter()
            status, raw = await conn.post("/v1/calls/authorize", body)
            t1 = time.perf_counter()
            if status != 200:
                out["errors"].append(f"authorize {status}: {raw[:200]!r}")
                continue
            answer = json.loads(raw)
            out["auth"].append(t1 - t0)
            if answer["decision"] != "allow":
                out["denied"] += 1
                continue
            seconds = 30 if talk_s is None else answer["max_seconds"] + talk_s
            end_body = json.dumps({"duration_seconds": seconds}).encode()
            status, raw = await conn.post(f"/v1/calls/{call_id}/end", end_body)
            t2 = time.perf_counter()
            if status != 200:
                out["errors"].append(f"end {status}: {raw[:200]!r}")
                continue
            out["end"].append(t2 - t1)
            out["pair"].append(t2 - t0)
            out["charged"].append(json.loads(raw)["charge"])
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        out["errors"].append(f"connection: {exc!r}")
    finally:
        conn.close()


async def drive(port: int, token: str, tenants: list[tuple[str, str]], concurrency: int, seconds: float,
                max_pairs: int, talk_s: int | None, stop: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"auth": [], "end": [], "pair": [], "charged": [], "denied": 0, "errors": []}
    budget = [max_pairs]
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(caller(Conn("127.0.0.1", port, token), tenants[i % len(tenants)], deadline, budget, out,
                                  talk_s, stop) for i in range(concurrency)))
    out["elapsed"] = time.perf_counter() - start
    return out


async def poster(conn: Conn, tenant: tuple[str, str], deadline: float, out: dict[str, Any], started: str) -> None:
    """POST /v1/cdrs with one new record at a time until the deadline (a switch posting as calls end)."""
    tid, uid = tenant
    try:
        await conn.open()
        while time.perf_counter() < deadline:
            body = json.dumps({"records": [{
                "id": uuid.uuid4().hex, "tenant_id": tid, "call_type": "user_out", "caller": "+12025550100",
                "callee": CALLEE, "started_at": started, "duration_seconds": 30, "user_id": uid}]}).encode()
            t0 = time.perf_counter()
            status, raw = await conn.post("/v1/cdrs", body)
            if status != 200 or b'"charged"' not in raw:
                out["errors"].append(f"cdrs {status}: {raw[:200]!r}")
                continue
            out["post"].append(time.perf_counter() - t0)
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        out["errors"].append(f"connection: {exc!r}")
    finally:
        conn.close()


async def drive_posts(port: int, token: str, tenants: list[tuple[str, str]], concurrency: int,
                      seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {"post": [], "errors": []}
    start = time.perf_counter()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    await asyncio.gather(*(poster(Conn("127.0.0.1", port, token), tenants[i % len(tenants)], start + seconds, out,
                                  started) for i in range(concurrency)))
    out["elapsed"] = time.perf_counter() - start
    return out


def posts_process(args: tuple[Any, ...], queue: mp.Queue) -> None:  # type: ignore[type-arg]
    queue.put(asyncio.run(drive_posts(*args)))


def cdr_posts(server: Server, switch: str, tenants: list[tuple[str, str]], posters: int, seconds: float
              ) -> dict[str, Any]:
    """Call records posted one per request by `posters` concurrent connections."""
    queue: mp.Queue = mp.get_context("spawn").Queue()  # type: ignore[type-arg]
    proc = mp.get_context("spawn").Process(target=posts_process,
                                           args=((server.port, switch, tenants, posters, seconds), queue))
    proc.start()
    raw: dict[str, Any] = queue.get(timeout=seconds + 120)
    proc.join(timeout=30)
    ms = sorted(raw["post"])
    return {"posters": posters, "posts_per_s": round(len(ms) / raw["elapsed"], 1),
            "post_ms": {"p50": round(percentile(ms, 0.5) * 1000, 2) if ms else None,
                        "p99": round(percentile(ms, 0.99) * 1000, 2) if ms else None},
            "errors": len(raw["errors"]), "first_error": raw["errors"][0] if raw["errors"] else None}


def generator_process(args: tuple[Any, ...], queue: mp.Queue, stop: Any = None) -> None:  # type: ignore[type-arg]
    queue.put(asyncio.run(drive(*args, stop)))


class Load:
    """The load generator running in its own process until `seconds` pass or `stop()`."""

    def __init__(self, port: int, token: str, tenants: list[tuple[str, str]], concurrency: int, seconds: float,
                 max_pairs: int, talk_s: int | None = None) -> None:
        ctx = mp.get_context("spawn")
        self.queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
        self.stopping = ctx.Event()
        self.seconds = seconds
        work = (port, token, tenants, concurrency, seconds, max_pairs, talk_s)
        self.proc = ctx.Process(target=generator_process, args=(work, self.queue, self.stopping))
        self.proc.start()

    def stop(self) -> None:
        self.stopping.set()

    def result(self) -> dict[str, Any]:
        result: dict[str, Any] = self.queue.get(timeout=self.seconds + 120)
        self.proc.join(timeout=30)
        return result


def run_load(port: int, token: str, tenants: list[tuple[str, str]], concurrency: int, seconds: float,
             max_pairs: int, talk_s: int | None = None) -> dict[str, Any]:
    """The load generator in its own process; returns its raw samples."""
    return Load(port, token, tenants, concurrency, seconds, max_pairs, talk_s).result()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(raw: dict[str, Any], concurrency: int) -> dict[str, Any]:
    ms = lambda v: None if v is None else round(v * 1000, 2)  # noqa: E731
    pairs = len(raw["pair"])
    return {
        "concurrency": concurrency, "pairs": pairs, "seconds": round(raw["elapsed"], 2),
        "pairs_per_s": round(pairs / raw["elapsed"], 1),
        "authorizations_per_s": round(len(raw["auth"]) / raw["elapsed"], 1),
        "authorize_ms": {"p50": ms(percentile(raw["auth"], 0.5)), "p99": ms(percentile(raw["auth"], 0.99))},
        "end_ms": {"p50": ms(percentile(raw["end"], 0.5)), "p99": ms(percentile(raw["end"], 0.99))},
        "pair_ms": {"p50": ms(percentile(raw["pair"], 0.5)), "p99": ms(percentile(raw["pair"], 0.99))},
        "denied": raw["denied"], "errors": len(raw["errors"]),
        "first_error": raw["errors"][0] if raw["errors"] else None,
    }


# ---------------------------------------------------------------- the service under test


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_app() -> Any:
    """The app for uvicorn's workers (`--factory bench.authorize:make_app`): the same Runtime
    and FastAPI app `commcredits serve` builds, from the environment."""
    from commcredits.app import create_app
    from commcredits.config import Settings
    from commcredits.services.bootstrap import open_runtime

    return create_app(open_runtime(Settings.from_env()))


class NoopServer:
    """The reference: a stock FastAPI no-op app (bench/noop_app.py) under uvicorn, started the
    same way as the product (same interpreter, uvicorn defaults, one process)."""

    def __init__(self, workdir: Path, extra: list[str]) -> None:
        self.port = free_port()
        self.log = open(workdir / "noop.log", "wb")  # noqa: SIM115 - closed in stop()
        argv = [sys.executable, "-m", "uvicorn", "bench.noop_app:app", "--host", "127.0.0.1",
                "--port", str(self.port), "--no-access-log", "--log-level", "warning", *extra]
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT,
                                     env={**os.environ, "PYTHONPATH": PYTHONPATH}, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("the no-op server did not start")

    def stop(self) -> None:
        os.killpg(self.proc.pid, 15)
        self.proc.wait(timeout=10)
        self.log.close()


class Server:
    """The API under uvicorn as a real process (`--workers N` processes); the database is
    migrated and the operator token registered first, as `commcredits serve` does."""

    def __init__(self, database_url: str, workdir: Path, workers: int, extra: list[str] | None = None) -> None:
        from commcredits.config import Settings
        from commcredits.services import bootstrap
        from commcredits.services.runtime import Runtime

        self.port = free_port()
        self.token = uuid.uuid4().hex
        env = {**os.environ, "COMMCREDITS_DATABASE_URL": database_url, "COMMCREDITS_OPERATOR_TOKEN": self.token,
               "COMMCREDITS_CALL_CHUNK_SECONDS": "60", "PYTHONPATH": PYTHONPATH}
        env.pop("COMMCREDITS_SANDBOX", None)  # the system clock; the payment gateway is the sandbox one
        rt = Runtime.from_settings(Settings(database_url=database_url, operator_token=self.token))
        bootstrap.migrate(rt)
        bootstrap.ensure_operator_token(rt)
        rt.engine.dispose()
        self.log = open(workdir / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        argv = [sys.executable, "-m", "uvicorn", "--factory", "bench.authorize:make_app", "--host", "127.0.0.1",
                "--port", str(self.port), "--workers", str(workers), "--no-access-log", "--log-level", "warning",
                *(extra or [])]
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                                     start_new_session=True)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30,
                                 headers={"Authorization": f"Bearer {self.token}"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {(workdir / 'server.log').read_text()[-3000:]}")
            try:
                if self.http.get("/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("server did not start")

    def call(self, method: str, path: str, **kw: Any) -> Any:
        r = self.http.request(method, path, **kw)
        if r.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
        return r.json()

    def seed(self, tenants: int, amount: str) -> tuple[str, list[tuple[str, str]]]:
        self.call("POST", "/v1/rate-decks", data={"format": "ratecard", "currency": "USD"},
                  files={"files": ("card.csv", RATECARD.read_bytes(), "text/csv")})
        switch = self.call("POST", "/v1/tokens", json={"kind": "switch"})["token"]
        return switch, [self.tenant(f"Bench {i}", amount) for i in range(tenants)]

    def tenant(self, name: str, amount: str) -> tuple[str, str]:
        tid = self.call("POST", "/v1/tenants", json={"name": name, "country": "US", "currency": "USD",
                                                      "billing_country": "US", "timezone": "America/New_York"})["id"]
        uid = self.call("POST", f"/v1/tenants/{tid}/users", json={
            "email": f"{uuid.uuid4().hex[:8]}@example.com", "display_name": "Caller", "usage_location": "US",
            "roles": [], "licenses": ["communications_credits"]})["id"]
        self.call("POST", f"/v1/tenants/{tid}/grants", json={"amount": amount, "expires_at": "2099-01-01T00:00:00Z",
                                                             "reason": "bench"})
        return tid, uid

    def stop(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        self.log.close()


def micros(text: str) -> int:
    negative = text.startswith("-")
    whole, _, frac = text.lstrip("-").partition(".")
    value = int(whole) * 1_000_000 + int((frac + "000000")[:6])
    return -value if negative else value


def overspend(server: Server, switch: str, concurrency: int) -> dict[str, Any]:
    """100 callers race for credit worth 50 one-minute holds, each overrunning its grant by 1 s."""
    credit = "1.00"
    tenant = server.tenant("Overspend", credit)
    raw = run_load(server.port, switch, [tenant], concurrency, seconds=30, max_pairs=500, talk_s=1)
    balance = server.call("GET", f"/v1/tenants/{tenant[0]}/balance")
    charged = sum(micros(c) for c in raw["charged"])
    calls = len(raw["charged"])
    floor = -INCREMENT_PRICE * calls
    return {"credit": credit, "callers": concurrency, "attempts": len(raw["auth"]), "allowed_and_settled": calls,
            "denied": raw["denied"], "charged": f"{charged / 1e6:.2f}", "balance": balance["balance"],
            "expected_balance": f"{(micros(credit) - charged) / 1e6:.2f}", "reserved": balance["reserved"],
            "floor_one_increment_per_call": f"{floor / 1e6:.2f}",
            "within_bound": floor <= micros(balance["balance"]) == micros(credit) - charged,
            "errors": len(raw["errors"])}


def level(server: Server, noop: NoopServer, switch: str, tenants: list[tuple[str, str]], concurrency: int,
          args: argparse.Namespace) -> dict[str, Any]:
    """One concurrency level: the no-op reference, then the product, back to back."""
    reference = summary(run_load(noop.port, "noop", tenants, concurrency, args.seconds, args.max_pairs), concurrency)
    product = summary(run_load(server.port, switch, tenants, concurrency, args.seconds, args.max_pairs), concurrency)
    ratio = product["pairs_per_s"] / reference["pairs_per_s"] if reference["pairs_per_s"] else None
    return {**product, "noop_pairs_per_s": reference["pairs_per_s"], "noop_pair_ms": reference["pair_ms"],
            "ratio_to_noop": None if ratio is None else round(ratio, 2)}


def big_ratecard(rows: int) -> bytes:
    """A rate card of `rows` destinations for a rating key of its own (the bench's route keeps its deck)."""
    lines = ["category,prefix,destination,rate_per_minute,connection_fee,initial_increment,next_increment,"
             "effective_from"]
    lines += [f"outbound,{99_000_000 + i},Synthetic {i},0.0{1 + i % 9},0,60,60,2026-01-01" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def during_import(server: Server, noop: NoopServer, switch: str, tenants: list[tuple[str, str]],
                  args: argparse.Namespace) -> dict[str, Any]:
    """Authorize+end at 10 callers for the whole of a large rate card's import, from the upload's
    first byte to its answer (which comes once the server's index holds the new deck), beside
    the no-op and the product without an import measured just before."""
    import threading

    card = big_ratecard(args.import_rows)
    done: dict[str, Any] = {}
    before = level(server, noop, switch, tenants, 10, args)
    load = Load(server.port, switch, tenants, 10, 900, 10**7)
    time.sleep(1.0)  # the generator's process is up and calling

    def upload() -> None:
        t0 = time.perf_counter()
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=900,
                          headers={"Authorization": f"Bearer {server.token}"}) as http:
            form = {"format": "ratecard", "currency": "USD", "rating_key": "bench-import"}
            r = http.post("/v1/rate-decks", data=form, files={"files": ("big.csv", card, "text/csv")})
        done.update(status=r.status_code, seconds=round(time.perf_counter() - t0, 2),
                    answer=r.json().get("rows") if r.status_code == 201 else r.text[:300])

    thread = threading.Thread(target=upload)
    thread.start()
    thread.join()
    time.sleep(0.5)
    load.stop()
    samples = summary(load.result(), 10)
    return {"rows": args.import_rows, "import": done, "before_import": before, "load_while_importing": samples,
            "note": "load runs from 1 s before the upload to 0.5 s after its answer"}


def run_backend(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        extra = args.uvicorn.split()
        server, noop = Server(url, Path(tmp), args.workers, extra), NoopServer(Path(tmp), extra)
        try:
            switch, tenants = server.seed(TENANTS, "100000.00")
            run_load(server.port, switch, tenants, 10, seconds=1.0, max_pairs=200)  # warm-up
            run_load(noop.port, "noop", tenants, 10, seconds=1.0, max_pairs=200)
            levels = [level(server, noop, switch, tenants, c, args) for c in args.concurrency]
            result: dict[str, Any] = {"levels": levels, "overspend": overspend(server, switch, 100)}
            if args.cdr_posters:
                result["cdr_posts"] = cdr_posts(server, switch, tenants, args.cdr_posters, args.seconds)
            if args.import_rows:
                result["during_import"] = during_import(server, noop, switch, tenants, args)
            return result
        finally:
            server.stop()
            noop.stop()


def create_pg_database(admin_url: str) -> tuple[str, Any]:
    from sqlalchemy import text

    from commcredits.db.engine import make_engine, normalise_url

    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"commcredits_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    base = normalise_url(admin_url).rsplit("/", 1)[0].replace("postgresql+psycopg://", "postgresql://")
    return f"{base}/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--postgres-url", default=DEFAULT_PG, help="a server where the bench may create a database")
    parser.add_argument("--concurrency", default="1,10,100", help="concurrent callers per level")
    parser.add_argument("--seconds", type=float, default=8.0, help="time per level (bounded)")
    parser.add_argument("--max-pairs", type=int, default=50_000, help="pairs per level at most")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--cdr-posters", type=int, default=20, help="concurrent POST /v1/cdrs connections (0: skip)")
    parser.add_argument("--uvicorn", default="", help='extra uvicorn options for both servers (A/B), '
                        'e.g. "--loop asyncio --http h11"')
    parser.add_argument("--import-rows", type=int, default=0,
                        help="also measure authorize while a rate card of this many rows is imported (e.g. 300000)")
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    report: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                          "platform": platform.platform(),
                                          "load_average_before": [round(x, 2) for x in os.getloadavg()]},
                              "server_workers": args.workers, "tenants": TENANTS, "results": {}}
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix="bench-db-") as tmp:
                report["results"]["sqlite"] = run_backend("sqlite", f"sqlite:///{tmp}/bench.db", args)
        elif backend == "postgres":
            url, drop = create_pg_database(args.postgres_url)
            try:
                report["results"]["postgres"] = run_backend("postgres", url, args)
            finally:
                drop()
        else:
            parser.error(f"unknown backend {backend}")
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]  # other work on the machine skews figures
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
