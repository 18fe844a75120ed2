"""Call control proven with a real switch: Kamailio asks commcredits, SIPp calls through it.

All on 127.0.0.1 with ports chosen free: `commcredits serve --sandbox` on a temporary SQLite
database (call chunks of 10 s, so calls are extended and cut off within seconds), a SIPp
callee (UAS), Kamailio with integrations/kamailio/kamailio.cfg in front of it, and SIPp
callers (UAC) per scenario. Each call's record in our store is compared with SIPp's own log
of it (answer and hang-up instants). Kamailio and SIPp come from Debian packages
(integrations/kamailio/install-deps.sh, run by .ci/run): missing binaries fail the test in
CI and skip it elsewhere.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import SHARED, Callee, Kamailio, Service, SippCall, run_callers

CHUNK_S = 10
PER_SECOND_KEY = "E2E-PER-SECOND"  # UK at 0.60/min billed per second: 0.01 a second
PER_SECOND_CARD = (b"category,prefix,destination,rate_per_minute,connection_fee,initial_increment,next_increment,"
                   b"effective_from\noutbound,44,United Kingdom,0.6000,0,1,1,2026-01-01\n")
US, UK = "+12025550123", "+442079460000"

MISSING = [b for b in ("kamailio", "sipp") if shutil.which(b) is None]
if MISSING and os.environ.get("CI"):
    raise RuntimeError(f"{MISSING} missing: .ci/run must run integrations/kamailio/install-deps.sh")
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"{MISSING} not installed: "
                                "run integrations/kamailio/install-deps.sh")


class Switch:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.service = Service(workdir, chunk_seconds=CHUNK_S)
        self.callee: Callee | None = None
        self.kamailio: Kamailio | None = None
        self.service.import_ratecard((SHARED / "testdata" / "sample-ratecard.csv").read_bytes(), currency="USD")
        self.service.import_ratecard(PER_SECOND_CARD, currency="USD", rating_key=PER_SECOND_KEY,
                                     name="e2e-per-second", rounding="half_up", decimals="2")
        self.callee = Callee(workdir)
        self.kamailio = Kamailio(workdir, api_url=self.service.url, switch_token=self.service.switch_token(),
                                 next_hop=self.callee.uri)

    def call(self, name: str, tenant: str, user: str, callee: str, *, calls: int, concurrent: int,
             talk_ms: int) -> list[SippCall]:
        assert self.kamailio is not None
        return run_callers(self.workdir, kamailio_port=self.kamailio.port, name=name, tenant=tenant, user=user,
                           callee=callee, calls=calls, concurrent=concurrent, talk_ms=talk_ms)

    def records(self, tenant: str) -> dict[str, dict[str, object]]:
        """The tenant's call records and reservations, by call id, straight from the database."""
        with sqlite3.connect(self.service.db_path) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT r.call_id, r.decision, r.reason, r.funding, r.granted_s, r.status, "
                              "c.duration_s, c.charge FROM reservations r LEFT JOIN call_records c ON c.id = r.call_id "
                              "WHERE r.tenant_id = ?", (tenant,)).fetchall()
        return {row["call_id"]: dict(row) for row in rows}

    def settled(self, tenant: str, answered: int, timeout: float = 45.0) -> dict[str, dict[str, object]]:
        """Wait until Kamailio has posted the end of every answered call."""
        deadline = time.monotonic() + timeout
        while True:
            records = self.records(tenant)
            if sum(1 for r in records.values() if r["status"] == "settled") >= answered:
                return records
            if time.monotonic() > deadline:
                assert self.kamailio is not None
                raise AssertionError(f"ends not posted: {records}\n{self.kamailio.proc.output()[-3000:]}")
            time.sleep(0.2)

    def close(self) -> None:
        for proc in (self.kamailio, self.callee, self.service):
            if proc is not None:
                proc.stop()


@pytest.fixture(scope="module")
def switch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Switch]:
    sw = Switch(tmp_path_factory.mktemp("kamailio-e2e"))
    try:
        yield sw
    finally:
        sw.close()


def micros(amount: object) -> int:
    whole, _, frac = str(amount).lstrip("-").partition(".")
    value = int(whole) * 1_000_000 + int((frac + "000000")[:6])
    return -value if str(amount).startswith("-") else value


def assert_store_matches_sipp(calls: list[SippCall], records: dict[str, dict[str, object]]) -> None:
    """Every answered call has a settled record whose duration is SIPp's, to the second."""
    answered = [c for c in calls if c.outcome == "answered"]
    charged = {k: r for k, r in records.items() if r["duration_s"] is not None}
    assert sorted(charged) == sorted(c.call_id for c in answered)
    for c in answered:
        assert abs(int(charged[c.call_id]["duration_s"]) - c.seconds) <= 1.0, (c, charged[c.call_id])  # type: ignore[call-overload]


def test_a_funded_tenants_calls_complete_are_extended_and_charged(switch: Switch) -> None:
    svc = switch.service
    tid = svc.tenant("Funded")
    uid = svc.user(tid, ["communications_credits"])
    svc.fund(tid, "50.00")
    calls = switch.call("funded", tid, uid, US, calls=2, concurrent=2, talk_ms=12_000)
    assert [c.outcome for c in calls] == ["answered", "answered"]
    assert {c.ended_by for c in calls} == {"caller"}  # 12 s outlived the first 10 s chunk
    records = switch.settled(tid, answered=2)
    assert_store_matches_sipp(calls, records)
    assert {(r["granted_s"], r["charge"], r["funding"]) for r in records.values()} == {(20, 20_000, "credits")}
    bal = svc.balance(tid)
    assert (bal["balance"], bal["reserved"]) == ("49.96", "0.00")  # two minutes of US at 0.015 -> 0.02 each
    usage = [t for t in svc.transactions(tid) if t["type"] == "usage"]
    assert sorted(t["amount"] for t in usage) == ["-0.02", "-0.02"]


def test_ten_callers_share_credit_for_three_calls_and_are_cut_off(switch: Switch) -> None:
    svc = switch.service
    tid = svc.tenant("Small", rating_key=PER_SECOND_KEY)
    uid = svc.user(tid, ["communications_credits"])
    svc.grant(tid, "0.30")  # 30 s of UK at 0.01/s: three calls of 10 s
    calls = switch.call("shared", tid, uid, UK, calls=10, concurrent=10, talk_ms=15_000)
    answered = [c for c in calls if c.outcome == "answered"]
    refused = [c for c in calls if c.outcome == "refused"]
    assert len(calls) == 10 and len(answered) == 3
    assert {(c.code, c.reason) for c in refused} == {(402, "insufficient_balance")}
    assert {c.ended_by for c in answered} == {"switch"}  # cut off at the end of the credit
    records = switch.settled(tid, answered=3)
    assert_store_matches_sipp(calls, records)
    assert sum(1 for r in records.values() if r["decision"] == "deny") == 7
    bal = svc.balance(tid)
    increment_price = 10_000  # one 1 s increment at 0.01
    assert micros(bal["balance"]) >= -increment_price * len(answered), bal
    assert bal["reserved"] == "0.00"
    spent = sum(int(r["charge"]) for r in records.values() if r["charge"] is not None)  # type: ignore[call-overload]
    assert micros(bal["balance"]) == 300_000 - spent
    print(f"\nshared credit: 0.30 for 10 callers -> answered {len(answered)}, "
          f"durations {[round(c.seconds, 2) for c in answered]} s, charged {spent / 1e6:.2f}, "
          f"balance {bal['balance']} (floor {-increment_price * len(answered) / 1e6:.2f})")


def test_a_tenant_at_zero_is_denied_but_may_call_emergency(switch: Switch) -> None:
    svc = switch.service
    tid = svc.tenant("Empty")
    uid = svc.user(tid, ["communications_credits"])
    calls = switch.call("zero", tid, uid, US, calls=2, concurrent=2, talk_ms=2_000)
    assert {(c.outcome, c.code, c.reason) for c in calls} == {("refused", 402, "insufficient_balance")}
    emergency = switch.call("emergency", tid, uid, "911", calls=1, concurrent=1, talk_ms=2_000)
    assert [(c.outcome, c.ended_by) for c in emergency] == [("answered", "caller")]  # no time limit
    records = switch.settled(tid, answered=1)
    assert_store_matches_sipp(emergency, records)
    assert records[emergency[0].call_id]["funding"] == "free"
    assert svc.balance(tid)["balance"] == "0.00"


def test_an_unlicensed_users_international_call_is_denied(switch: Switch) -> None:
    svc = switch.service
    tid = svc.tenant("Unlicensed")
    uid = svc.user(tid, [])
    svc.grant(tid, "5.00")
    calls = switch.call("unlicensed", tid, uid, UK, calls=1, concurrent=1, talk_ms=2_000)
    assert [(c.outcome, c.code, c.reason) for c in calls] == [("refused", 402, "license_required")]
    assert svc.balance(tid)["balance"] == "5.00"
