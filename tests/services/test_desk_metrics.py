"""The call desk's figures on `/metrics` (`services/calls/desk_metrics.py`): every batch is
counted once with its requests and the writer's time on it, every sync once with its time,
whichever thread synced, and with the desk in a process of its own the server process
observes what the desk sends with its answers."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import pytest
from prometheus_client import REGISTRY
from tests.api.test_calls_api import AT, calls  # noqa: F401 - the fixture
from tests.services.test_desk_process import _authorize, _process_runtime
from tests.services.test_desk_sync_modes import Recorder, _desk

from commcredits.errors import NotFound
from commcredits.services.calls import desk_process
from commcredits.services.calls.call_control import EndRequest
from commcredits.services.calls.call_desk import Job

NAMES = ("commcredits_call_desk_batch_requests", "commcredits_call_desk_batch_seconds",
         "commcredits_call_desk_sync_seconds")


def _now() -> dict[str, float]:
    """count and sum of each of the desk's histograms, as /metrics would show them"""
    return {f"{name}_{part}": REGISTRY.get_sample_value(f"{name}_{part}") or 0.0
            for name in NAMES for part in ("count", "sum")}


def _since(before: dict[str, float]) -> dict[str, float]:
    return {k: v - before[k] for k, v in _now().items()}


@pytest.mark.parametrize("mode", ["writer", "syncer"])
def test_each_batch_and_each_sync_is_counted_once(rt: Any, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder(sync_delay_s=0.004)  # slow enough that requests queue up behind each sync
    desk = _desk(rt, mode, rec, monkeypatch)
    before = _now()
    answers: list[Any] = []
    try:
        def ask(n: int) -> None:
            answers.append(desk.submit(Job("authorize", None, f"call {n}")).result(10))
        callers = [threading.Thread(target=ask, args=(n,)) for n in range(24)]
        for c in callers:
            c.start()
        for c in callers:
            c.join()
    finally:
        desk.close()
    seen = _since(before)
    commits = sum(1 for e in rec.events if e[0] == "commit")
    syncs = sum(1 for e in rec.events if e[0] == "sync")
    assert len(answers) == 24
    assert seen["commcredits_call_desk_batch_requests_sum"] == 24  # every request, in exactly one batch
    assert seen["commcredits_call_desk_batch_requests_count"] == commits
    assert seen["commcredits_call_desk_batch_seconds_count"] == commits
    assert seen["commcredits_call_desk_sync_seconds_count"] == syncs
    assert seen["commcredits_call_desk_sync_seconds_sum"] >= 0.004 * syncs  # the syncs' own time
    assert commits < 24  # requests shared batches while a sync ran


def test_a_batch_that_refused_everything_is_counted_without_a_sync(rt: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder()
    rec.handler = lambda conn, jobs: ([ValueError("refused")] * len(jobs), [])  # type: ignore[method-assign]
    desk = _desk(rt, "writer", rec, monkeypatch)
    before = _now()
    try:
        with pytest.raises(ValueError):
            desk.submit(Job("authorize", None, "refused")).result(10)
    finally:
        desk.close()
    seen = _since(before)
    assert seen["commcredits_call_desk_batch_requests_count"] == 1
    assert seen["commcredits_call_desk_sync_seconds_count"] == 0  # nothing written, nothing to sync


@pytest.mark.parametrize("engine", ["sqlite", "postgres"], indirect=True)
def test_the_server_process_shows_what_its_desk_process_did(calls, rt) -> None:  # noqa: F811
    tid, uid = calls.setup(funds="10.00")
    prt = _process_runtime(rt)
    before = _now()

    async def run() -> None:
        try:
            first = await asyncio.gather(*(desk_process.ask(prt, "authorize", calls.switch, _authorize(tid, uid))
                                           for _ in range(6)))
            assert all(a["decision"] == "allow" for a in first)
            await asyncio.gather(*(desk_process.ask(prt, "end", calls.switch, EndRequest(a["call_id"], 30))
                                   for a in first))
            with pytest.raises(NotFound):
                await desk_process.ask(prt, "end", calls.switch, EndRequest(uuid.uuid4().hex, 5))
        finally:
            await desk_process.stop(prt)

    asyncio.run(run())
    seen = _since(before)
    assert seen["commcredits_call_desk_batch_requests_sum"] == 13
    assert 3 <= seen["commcredits_call_desk_batch_requests_count"] <= 13
    assert seen["commcredits_call_desk_batch_seconds_sum"] > 0
    assert 2 <= seen["commcredits_call_desk_sync_seconds_count"] <= seen["commcredits_call_desk_batch_requests_count"]
    body = calls.api.call("GET", "/metrics").text
    assert "commcredits_call_desk_batch_requests_count" in body and "commcredits_call_desk_sync_seconds_sum" in body
