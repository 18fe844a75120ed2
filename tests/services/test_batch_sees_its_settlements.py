"""A call-desk batch decides its authorizations against the balances its own settlements
and call records leave: the balances are read before the batch charges anything (with the
charging reads, in one round trip on PostgreSQL) and lowered in memory by what it charged
and freed of the holds it released. Deciding in one batch must give exactly the answers
that deciding one request per batch gives, including when a settlement runs past what
was held and leaves a deficit."""

from __future__ import annotations

import uuid

import pytest
from tests.api.test_calls_api import AT, calls  # noqa: F401 - the fixture

from commcredits.db.engine import write_tx
from commcredits.services.calls import call_control
from commcredits.services.calls.call_batch import handle_batch
from commcredits.services.calls.call_control import AuthorizeRequest, EndRequest, RecordsRequest
from commcredits.services.calls.call_desk import Job
from commcredits.services.usage.call_records import parse_instant, parse_record

CALLEE = "+12025550123"  # 0.015 a minute in 60 s increments on the sample card: 0.02 a minute


def _authorize(tid: str, uid: str, full: bool) -> AuthorizeRequest:
    return AuthorizeRequest(tid, uuid.uuid4().hex, "user_out", CALLEE, "+12025550100", uid, None,
                            parse_instant(AT), full)


def _batch(rt, jobs: list[Job]) -> list:  # type: ignore[no-untyped-def]
    with write_tx(rt.engine) as conn:
        results, _ = handle_batch(rt, conn, jobs)
    return results


def _decided(answer: dict) -> tuple:  # type: ignore[type-arg]
    """What a decision grants, without the ids that differ from call to call."""
    reservation = answer.get("reservation") or {}
    return answer["decision"], answer.get("reason"), answer["max_seconds"], reservation.get("amount")


@pytest.mark.parametrize("seconds", [0, 130, 600])  # nothing, within the hold, far past it (a deficit)
@pytest.mark.parametrize("full", [False, True])
def test_one_batch_decides_as_one_request_per_batch_would(calls, rt, seconds: int, full: bool) -> None:  # noqa: F811
    answers = []
    for together in (False, True):
        tid, uid = calls.setup(funds="0.30")
        first = _authorize(tid, uid, full=True)  # holds everything affordable
        assert call_control.call(rt, calls.switch, first)["decision"] == "allow"
        record = parse_record({"id": uuid.uuid4().hex, "tenant_id": tid, "call_type": "user_out",
                               "caller": "+12025550100", "callee": CALLEE, "user_id": uid,
                               "started_at": AT, "duration_seconds": 70})
        jobs = [Job("end", calls.switch, EndRequest(first.call_id, seconds)),
                Job("records", calls.switch, RecordsRequest([record])),
                Job("authorize", calls.switch, _authorize(tid, uid, full))]
        results = _batch(rt, jobs) if together else [_batch(rt, [job])[0] for job in jobs]
        assert not any(isinstance(r, BaseException) for r in results), results
        balance = calls.api.balance(tid)
        answers.append((results[0]["charge"], _decided(results[2]), balance["balance"], balance["reserved"]))
    assert answers[0] == answers[1]
