"""Real processes for the end-to-end tests: commcredits, Kamailio and SIPp on 127.0.0.1.

Each process gets a port chosen free at start, its output in a file under the test's
temporary directory (shown when a wait fails), and is killed at teardown (`stop`), its
whole process group included (Kamailio forks its workers).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
KAMAILIO_DIR = ROOT / "integrations" / "kamailio"
SHARED = ROOT.parent / "shared"
CARD = "4242424242424242"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (SIP listens on UDP)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        with socket.socket(socket.AF_INET, other) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port on 127.0.0.1")


def udp_bound(port: int) -> bool:
    """Whether some process listens on UDP 127.0.0.1:port (from /proc/net/udp)."""
    wanted = f"0100007F:{port:04X}"
    for table in ("/proc/net/udp",):
        with open(table) as fh:
            if any(line.split()[1] == wanted for line in fh.readlines()[1:]):
                return True
    return False


class Proc:
    """A child process in its own process group, with its output in a file."""

    def __init__(self, name: str, argv: list[str], workdir: Path, env: dict[str, str] | None = None) -> None:
        self.name, self.argv = name, argv
        self.log = workdir / f"{name}.out"
        self._fh = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(argv, stdout=self._fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      cwd=workdir, env={**os.environ, **(env or {})}, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_until(self, ready, timeout: float = 20.0, what: str = "ready") -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            if not self.alive():
                raise RuntimeError(f"{self.name} exited ({self.popen.returncode}):\n{self.output()[-4000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not {what} after {timeout} s:\n{self.output()[-4000:]}")

    def stop(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):  # stray workers of the group, if any
            os.killpg(self.popen.pid, signal.SIGKILL)
        self._fh.close()


class Service:
    """`commcredits serve --sandbox` on a temporary SQLite database, and an operator client."""

    def __init__(self, workdir: Path, chunk_seconds: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db_path = workdir / "commcredits.db"
        self.operator_token = uuid.uuid4().hex
        exe = str(Path(sys.executable).with_name("commcredits"))
        env = {"COMMCREDITS_DATABASE_URL": f"sqlite:///{self.db_path}",
               "COMMCREDITS_OPERATOR_TOKEN": self.operator_token,
               "COMMCREDITS_CALL_CHUNK_SECONDS": str(chunk_seconds), "COMMCREDITS_SANDBOX": "1"}
        self.proc = Proc("commcredits", [exe, "serve", "--sandbox", "--port", str(self.port)], workdir, env)
        self.http = httpx.Client(base_url=self.url, timeout=10,
                                 headers={"Authorization": f"Bearer {self.operator_token}"})
        self.proc.wait_until(self._healthy, timeout=30, what="healthy")

    def _healthy(self) -> bool:
        try:
            return self.http.get("/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def call(self, method: str, path: str, **kw: object) -> httpx.Response:
        r = self.http.request(method, path, **kw)  # type: ignore[arg-type]
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r

    def import_ratecard(self, content: bytes, **form: str) -> dict[str, object]:
        r = self.call("POST", "/v1/rate-decks", data={"format": "ratecard", **form},
                      files={"files": ("card.csv", content, "text/csv")})
        return dict(r.json())

    def switch_token(self) -> str:
        return str(self.call("POST", "/v1/tokens", json={"kind": "switch"}).json()["token"])

    def tenant(self, name: str, **kw: str) -> str:
        body = {"name": name, "country": "US", "currency": "USD", "billing_country": "US",
                "timezone": "America/New_York", **kw}
        return str(self.call("POST", "/v1/tenants", json=body).json()["id"])

    def user(self, tid: str, licenses: list[str]) -> str:
        body = {"email": f"{uuid.uuid4().hex[:8]}@example.com", "display_name": "Caller", "usage_location": "US",
                "roles": [], "licenses": licenses}
        return str(self.call("POST", f"/v1/tenants/{tid}/users", json=body).json()["id"])

    def fund(self, tid: str, amount: str) -> None:
        pm = self.call("POST", f"/v1/tenants/{tid}/payment-methods",
                       json={"card_number": CARD, "exp_month": 12, "exp_year": 2030, "cvc": "123"}).json()["id"]
        self.call("POST", f"/v1/tenants/{tid}/funds", headers={"Idempotency-Key": uuid.uuid4().hex},
                  json={"amount": amount, "payment_method_id": pm})

    def grant(self, tid: str, amount: str) -> None:
        self.call("POST", f"/v1/tenants/{tid}/grants",
                  json={"amount": amount, "expires_at": "2099-01-01T00:00:00Z", "reason": "e2e credit"})

    def balance(self, tid: str) -> dict[str, object]:
        return dict(self.call("GET", f"/v1/tenants/{tid}/balance").json())

    def transactions(self, tid: str) -> list[dict[str, object]]:
        return list(self.call("GET", f"/v1/tenants/{tid}/transactions", params={"limit": 1000}).json()["items"])

    def stop(self) -> None:
        self.http.close()
        self.proc.stop()


class Kamailio:
    """Kamailio with the shipped configuration, in front of `next_hop`."""

    def __init__(self, workdir: Path, *, api_url: str, switch_token: str, next_hop: str) -> None:
        self.port = free_port(socket.SOCK_DGRAM)
        run = workdir / "kamailio-run"
        run.mkdir(exist_ok=True)
        argv = [shutil.which("kamailio") or "kamailio", "-f", str(KAMAILIO_DIR / "kamailio.cfg"), "-DD", "-E",
                "-l", f"udp:127.0.0.1:{self.port}", "-A", f'NEXT_HOP="{next_hop}"', "-Y", str(run),
                "-P", str(run / "kamailio.pid"), "-w", str(run), "-m", "64", "-M", "8"]
        env = {"COMMCREDITS_URL": api_url, "COMMCREDITS_SWITCH_TOKEN": switch_token}
        self.proc = Proc("kamailio", argv, workdir, env)
        self.proc.wait_until(lambda: udp_bound(self.port), timeout=20, what="listening")

    def stop(self) -> None:
        self.proc.stop()


@dataclass(frozen=True)
class SippCall:
    """One call as the SIPp caller saw it."""

    sip_call_id: str
    outcome: str  # answered | refused
    answered: float | None = None
    ended: float | None = None
    ended_by: str | None = None  # caller | switch
    code: int | None = None  # the SIP status of a refused call
    reason: str | None = None  # X-Commcredits-Reason of a refused call

    @property
    def call_id(self) -> str:
        """The id commcredits knows the call by: MD5 of the SIP Call-ID (kamailio.cfg)."""
        return hashlib.md5(self.sip_call_id.encode()).hexdigest()

    @property
    def seconds(self) -> float:
        assert self.answered is not None and self.ended is not None
        return self.ended - self.answered


def parse_sipp_log(text: str) -> list[SippCall]:
    calls = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0] != "CALL":
            continue
        if parts[2] == "refused":  # CALL id refused CODE REASON
            reason = parts[4] if len(parts) > 4 else None
            calls.append(SippCall(parts[1], "refused", code=int(float(parts[3])), reason=reason))
        else:  # CALL id answered S US ended S US by who
            answered = float(parts[3]) + float(parts[4]) / 1e6
            ended = float(parts[6]) + float(parts[7]) / 1e6
            calls.append(SippCall(parts[1], "answered", answered, ended, parts[9]))
    return calls


class Callee:
    """The SIPp UAS that answers every call Kamailio relays."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port(socket.SOCK_DGRAM)
        argv = [shutil.which("sipp") or "sipp", "-sf", str(KAMAILIO_DIR / "sipp-uas.xml"), "-i", "127.0.0.1",
                "-p", str(self.port), "-nostdin", "-trace_err", "-error_file", str(workdir / "uas-errors.log")]
        self.proc = Proc("sipp-uas", argv, workdir)
        self.proc.wait_until(lambda: udp_bound(self.port), timeout=10, what="listening")
        self.uri = f"sip:127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.stop()


def run_callers(workdir: Path, *, kamailio_port: int, name: str, tenant: str, user: str, callee: str,
                calls: int, concurrent: int, talk_ms: int, caller: str = "+12025550100",
                timeout_s: int = 60) -> list[SippCall]:
    """SIPp as `calls` callers, `concurrent` at a time, each talking `talk_ms` unless the switch
    hangs up first; returns SIPp's call log."""
    log = workdir / f"{name}-calls.log"
    argv = [shutil.which("sipp") or "sipp", "-sf", str(KAMAILIO_DIR / "sipp-uac.xml"), "-i", "127.0.0.1",
            "-p", str(free_port(socket.SOCK_DGRAM)), f"127.0.0.1:{kamailio_port}", "-s", callee,
            "-key", "tenant", tenant, "-key", "user", user, "-key", "caller", caller,
            "-m", str(calls), "-l", str(concurrent), "-r", str(max(concurrent, 1)), "-rp", "100",
            "-recv_timeout", str(talk_ms), "-timeout", f"{timeout_s}s", "-timeout_error", "-nostdin",
            "-trace_logs", "-log_file", str(log), "-trace_err", "-error_file", str(workdir / f"{name}-errors.log"),
            "-trace_stat", "-stf", str(workdir / f"{name}-stats.csv")]
    proc = Proc(f"sipp-{name}", argv, workdir)
    try:
        proc.popen.wait(timeout=timeout_s + 10)
    finally:
        proc.stop()
    assert proc.popen.returncode == 0, f"SIPp {name} exited {proc.popen.returncode}:\n{proc.output()[-3000:]}"
    return parse_sipp_log(log.read_text() if log.exists() else "")
