"""The call desk in a process of its own (`services/calls/desk_process.py`): it decides as the
desk thread does, keeps the product's errors, survives its own death (503, then a new desk),
and prices with a rate deck the server process imported before that import is answered."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import time
import uuid

import pytest
from tests.api.test_calls_api import AT, calls  # noqa: F401 - the fixture
from tests.conftest import OPERATOR

from commcredits.errors import NotFound, Unauthenticated, Unavailable
from commcredits.services.calls import call_control, desk_process
from commcredits.services.calls.call_control import AuthorizeRequest, EndRequest
from commcredits.services.calls.desk_process import Frames, _frame
from commcredits.services.rating import rating
from commcredits.services.runtime import Runtime
from commcredits.services.usage.call_records import parse_instant

UK = "+442079460000"  # 0.025/min, 60 then 1 s: a 300 s chunk holds 0.13


def _authorize(tid: str, uid: str, callee: str = UK) -> AuthorizeRequest:
    return AuthorizeRequest(tid, uuid.uuid4().hex, "user_out", callee, "+12025550100", uid, None, parse_instant(AT))


def _process_runtime(rt: Runtime) -> Runtime:
    return dataclasses.replace(rt, settings=dataclasses.replace(rt.settings, call_desk="process"), caches={})


def test_frames_come_out_whole_however_the_bytes_arrive() -> None:
    payloads = [("ready"), ([(1, True, {"a": "b" * 300})], ["t1"]), (7, "end", None, EndRequest("c", 5))]
    stream = b"".join(_frame(p) for p in payloads)
    for step in (1, 3, 64, len(stream)):
        frames, out = Frames(), []
        for i in range(0, len(stream), step):
            out += frames.feed(stream[i:i + step])
        assert out == payloads


def test_an_oversized_frame_is_refused() -> None:
    with pytest.raises(ValueError, match="frame"):
        Frames().feed((desk_process.MAX_FRAME + 1).to_bytes(4, "big"))


@pytest.mark.parametrize("engine", ["sqlite", "postgres"], indirect=True)
def test_the_desk_process_decides_and_refuses_as_the_desk_thread(calls, rt) -> None:  # noqa: F811
    """The same requests for two tenants alike, one through each desk: the same answers,
    the same errors, the same balances."""
    (t_thread, u_thread), (t_process, u_process) = calls.setup(funds="0.30"), calls.setup(funds="0.30")
    bad = "not-a-token"

    def script(tid: str, uid: str) -> list[tuple[str, str | None, object]]:
        first = [_authorize(tid, uid) for _ in range(4)]  # 0.30: two holds of 0.13, one of 0.04
        return ([("authorize", calls.switch, r) for r in first]
                + [("authorize", bad, _authorize(tid, uid))]
                + [("end", calls.switch, EndRequest(r.call_id, 61)) for r in first]
                + [("end", calls.switch, EndRequest(first[0].call_id, 61)),   # again: the same settlement
                   ("end", calls.switch, EndRequest(first[0].call_id, 99)),   # another duration: 409
                   ("end", calls.switch, EndRequest("never-authorized", 5))])

    def shown(result: object) -> object:
        if isinstance(result, BaseException):
            return type(result).__name__, getattr(result, "code", None)
        assert isinstance(result, dict)
        return {k: v for k, v in result.items() if k not in ("call_id", "reservation")} | {
            "held": (result.get("reservation") or {}).get("amount")}

    threaded = []
    for _kind, bearer, request in script(t_thread, u_thread):
        try:
            threaded.append(shown(call_control.call(rt, bearer, request)))  # type: ignore[arg-type]
        except Exception as exc:
            threaded.append(shown(exc))

    prt = _process_runtime(rt)

    async def through_process() -> list[object]:
        out = []
        try:
            for kind, bearer, request in script(t_process, u_process):
                try:
                    out.append(shown(await desk_process.ask(prt, kind, bearer, request)))
                except Exception as exc:
                    out.append(shown(exc))
        finally:
            await desk_process.stop(prt)
        return out

    processed = asyncio.run(through_process())
    assert processed == threaded
    decisions = [a["decision"] for a in threaded[:4]]  # type: ignore[index]
    assert decisions == ["allow", "allow", "allow", "deny"]  # two chunks, then what 0.04 buys, then none
    assert threaded[4] == ("Unauthenticated", Unauthenticated.code)
    assert threaded[-2:] == [("Conflict", "end_conflict"), ("NotFound", NotFound.code)]
    def figures(tid: str) -> tuple[str, str, str]:
        view = calls.balance(tid)
        return view["balance"], view["reserved"], view["available"]

    assert figures(t_thread) == figures(t_process) == ("0.18", "0.00", "0.18")  # charged alike, nothing held


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_killed_desk_answers_503_then_a_new_desk_takes_over(calls, rt) -> None:  # noqa: F811
    tid, uid = calls.setup(funds="10.00")
    prt = _process_runtime(rt)

    async def run() -> None:
        try:
            link = await desk_process.link_of(prt)
            first = await desk_process.ask(prt, "authorize", calls.switch, _authorize(tid, uid))
            assert first["decision"] == "allow"
            os.kill(link.process.pid, signal.SIGKILL)
            with pytest.raises(Unavailable):
                for _ in range(200):  # until the loop has seen the socket close
                    await desk_process.ask(prt, "authorize", calls.switch, _authorize(tid, uid))
                    await asyncio.sleep(0.01)
            again = await desk_process.ask(prt, "end", calls.switch, EndRequest(first["call_id"], 30))
            assert again["status"] == "charged" and again["charge"] == "0.03"  # a first minute of 0.025
            assert (await desk_process.link_of(prt)).process.pid != link.process.pid
        finally:
            await desk_process.stop(prt)

    asyncio.run(run())


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_an_import_is_answered_once_the_desk_process_prices_with_it(calls, rt) -> None:  # noqa: F811
    """The server process's own import waits for its desk to catch up: the next call is rated
    with the new deck at once, not a check interval later."""
    tid, uid = calls.setup(funds="10.00")
    prt = _process_runtime(rt)
    card = "category,prefix,destination,rate_per_minute,connection_fee,initial_increment,next_increment," \
           "effective_from\noutbound,44,United Kingdom,0.5000,0,60,1,2026-01-01\n"

    async def run() -> None:
        try:
            before = await desk_process.ask(prt, "authorize", calls.switch, _authorize(tid, uid))
            assert before["reservation"]["amount"] == "0.13"
            await asyncio.to_thread(rating.import_deck, prt, OPERATOR,
                                    rating.parse_deck(format_="ratecard", files={"uk.csv": card.encode()},
                                                      currency="USD"))
            after = await desk_process.ask(prt, "authorize", calls.switch, _authorize(tid, uid))
            assert after["reservation"]["amount"] == "2.50"  # 5 minutes at 0.50
        finally:
            await desk_process.stop(prt)

    asyncio.run(run())


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_stopped_desk_answers_what_it_took_and_exits_by_itself(calls, rt) -> None:  # noqa: F811
    """At shutdown the desk reads the end of its socket and exits (status 0), after answering
    what it already took; it is not left to be killed."""
    tid, uid = calls.setup(funds="10.00")
    prt = _process_runtime(rt)

    async def run() -> tuple[dict, desk_process.DeskLink, float]:
        link = await desk_process.link_of(prt)
        answer = await desk_process.ask(prt, "authorize", calls.switch, _authorize(tid, uid))
        began = time.monotonic()
        await desk_process.stop(prt)
        return answer, link, time.monotonic() - began

    answer, link, took = asyncio.run(run())
    assert answer["decision"] == "allow"
    assert link.process.exitcode == 0 and took < 5, (link.process.exitcode, took)
