"""Round trips of one call-desk batch on PostgreSQL: a batch that settles calls and
authorizes new ones waits for the server three times (the tokens, tenant lock and holds; the
charging core's reads with the new transactions' ids and the decisions' balances, products
and holders, read before the settlements and lowered by them in memory; the commit,
carrying the settlements' writes and the holds), whatever its size.

Round trips are counted exactly from libpq's protocol trace (`PQtrace`): one is a run of
messages the client sends followed by the server's answers."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from tests.api.test_calls_api import AT, calls  # noqa: F401 - the fixture

from commcredits.db.engine import write_tx
from commcredits.services.calls import call_control
from commcredits.services.calls.call_batch import handle_batch
from commcredits.services.calls.call_control import AuthorizeRequest, EndRequest
from commcredits.services.calls.call_desk import Job
from commcredits.services.usage.call_records import parse_instant

CALLS = 6


def _authorize(tid: str, uid: str) -> AuthorizeRequest:
    return AuthorizeRequest(tid, uuid.uuid4().hex, "user_out", "+442079460000", "+12025550100", uid, None,
                            parse_instant(AT))


def round_trips(trace: str) -> list[list[str]]:
    """The client-to-server turns in a libpq trace (a line per message: time, F or B, size,
    type, details), each as the statements (or messages) the client sent in it."""
    turns: list[list[str]] = []
    last = "B"
    for line in trace.splitlines():
        fields = line.split("\t")
        if len(fields) < 4 or fields[1] not in ("F", "B"):
            continue
        if fields[1] == "F":
            if last == "B":
                turns.append([])
            kind = fields[3]
            if kind in ("Parse", "Query", "CopyData"):
                turns[-1].append(fields[4][:70] if len(fields) > 4 else kind)
            elif kind != "Bind" and not turns[-1]:
                turns[-1].append(kind)
        last = fields[1]
    return turns


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
@pytest.mark.parametrize("plan", [False, True], ids=["credits", "calling-plan"])
def test_a_batch_of_ends_and_authorizations_waits_three_times(calls, rt, tmp_path: Path, plan: bool) -> None:  # noqa: F811
    tid, uid = calls.setup(funds="50.00")
    if plan:  # a tenant whose calls may draw on a minute pool: its pool state is read with the rest
        calls.api.call("POST", f"/v1/tenants/{tid}/subscriptions", json={"product": "domestic_calling_plan",
                                                                         "quantity": 1})
        calls.api.call("PATCH", f"/v1/tenants/{tid}/users/{uid}",
                       json={"licenses": ["domestic_calling_plan", "communications_credits"]})
    first = [_authorize(tid, uid) for _ in range(CALLS)]
    for request in first:
        assert call_control.call(rt, calls.switch, request)["decision"] == "allow"
    jobs = [Job("end", calls.switch, EndRequest(r.call_id, 65)) for r in first]
    jobs += [Job("authorize", calls.switch, _authorize(tid, uid)) for _ in range(CALLS)]

    trace = tmp_path / "trace.txt"
    with write_tx(rt.engine) as conn, trace.open("w") as out:
        conn.exec_driver_sql("SELECT 1")  # the transaction's BEGIN, before counting
        pgconn = conn.connection.driver_connection.pgconn
        pgconn.trace(out.fileno())
        try:
            results, _ = handle_batch(rt, conn, jobs)
            conn.commit()
        finally:
            pgconn.untrace()
    turns = round_trips(trace.read_text())
    shown = "\n".join(f"{n + 1}: " + " | ".join(t) for n, t in enumerate(turns))

    assert all(r["status"] == "charged" for r in results[:CALLS]), results[:CALLS]
    assert all(r["funding"] == "credits" for r in results[:CALLS])  # international: beyond the plan
    assert all(r["decision"] == "allow" for r in results[CALLS:]), results[CALLS:]
    assert len(turns) <= 3, f"{len(turns)} round trips:\n{shown}"
