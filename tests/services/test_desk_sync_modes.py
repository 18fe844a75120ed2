"""Who makes the call desk's batches durable (`Settings.call_desk_sync`): the writer itself,
the syncer thread, or `auto` (the writer while syncs are fast). In every mode each answer
follows a sync that began after its batch committed; `auto` hands batches to the syncer
once syncs turn slow; a failed sync turns its batch's answers into that failure, and the
desk goes on."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

import pytest

from commcredits.services.calls import call_desk
from commcredits.services.calls.call_desk import CallDesk, Job


class Recorder:
    """Events in order: ("commit", batch), ("sync", thread) and ("answer", request, thread)."""

    def __init__(self, sync_delay_s: float = 0.0, fail_syncs: int = 0) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.lock = threading.Lock()
        self.delay, self.fail = sync_delay_s, fail_syncs
        self.batches = 0

    def handler(self, conn: Any, jobs: Any) -> tuple[list[Any], list[str]]:
        conn.exec_driver_sql("SELECT 1")  # inside the batch's transaction
        return [f"answer to {j.request}" for j in jobs], []

    def note(self, *event: Any) -> None:
        with self.lock:
            self.events.append(event)

    def sync(self, engine: Any, on: Any = None) -> None:
        self.note("sync", threading.current_thread().name)
        time.sleep(self.delay)
        if self.fail:
            self.fail -= 1
            raise OSError("the disk went away")


def _desk(rt: Any, mode: str, rec: Recorder, monkeypatch: pytest.MonkeyPatch) -> CallDesk:
    monkeypatch.setattr(call_desk, "sync_to_disk", rec.sync)
    original = call_desk.write_tx

    def write_tx(*args: Any, **kw: Any) -> Any:  # note the commit as the transaction ends
        from contextlib import contextmanager

        @contextmanager
        def tx() -> Any:
            with original(*args, **kw) as conn:
                yield conn
            rec.note("commit", threading.current_thread().name)
        return tx()
    monkeypatch.setattr(call_desk, "write_tx", write_tx)
    rt.settings = replace(rt.settings, call_desk_sync=mode)
    return CallDesk(rt, rec.handler)


def _ask(desk: CallDesk, rec: Recorder, name: str) -> Any:
    future = desk.submit(Job("authorize", None, name))
    future.add_done_callback(lambda f: rec.note("answer", name, threading.current_thread().name))
    try:
        return future.result(10)
    except OSError as exc:
        return exc


@pytest.mark.parametrize("engine", ["sqlite", "postgres"], indirect=True)
@pytest.mark.parametrize("mode", ["writer", "syncer", "auto"])
def test_every_answer_follows_a_sync_begun_after_its_commit(rt: Any, mode: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder()
    desk = _desk(rt, mode, rec, monkeypatch)
    try:
        for n in range(20):
            assert _ask(desk, rec, f"call {n}") == f"answer to call {n}"
    finally:
        desk.close()
    events = rec.events
    for n in range(20):
        answered = next(i for i, e in enumerate(events) if e[:2] == ("answer", f"call {n}"))
        committed = max(i for i, e in enumerate(events[:answered]) if e[0] == "commit")
        assert any(e[0] == "sync" for e in events[committed:answered]), events[max(0, committed - 2):answered + 1]
    syncers = {e[1] for e in events if e[0] == "sync"}
    expected = {"writer": {"commcredits-call-desk"}, "syncer": {"commcredits-call-desk-sync"},
                "auto": {"commcredits-call-desk"}}[mode]  # auto: these syncs take no time
    assert syncers == expected


def test_auto_hands_batches_to_the_syncer_once_syncs_turn_slow(rt: Any, monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="commcredits.call_desk")
    rec = Recorder()
    desk = _desk(rt, "auto", rec, monkeypatch)
    try:
        for n in range(5):
            _ask(desk, rec, f"fast {n}")
        rec.delay = 3 * call_desk.WRITER_SYNCS_BELOW_S
        for n in range(10):
            _ask(desk, rec, f"slow {n}")
        rec.delay = 0.0
        for n in range(30):
            _ask(desk, rec, f"fast again {n}")
    finally:
        desk.close()
    syncs = [e[1] for e in rec.events if e[0] == "sync"]
    assert syncs[:5] == ["commcredits-call-desk"] * 5
    assert "commcredits-call-desk-sync" in syncs[5:15]  # slow: handed over
    assert syncs[-5:] == ["commcredits-call-desk"] * 5  # fast again: the writer syncs
    told = [r.getMessage() for r in caplog.records if r.name == "commcredits.call_desk"]
    assert any(m.endswith("the syncer thread makes batches durable") for m in told), told  # each change is logged
    assert told[-1].endswith("the writer makes batches durable"), told


@pytest.mark.parametrize("mode", ["writer", "syncer"])
def test_a_failed_sync_fails_its_answers_and_the_desk_goes_on(rt: Any, mode: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder(fail_syncs=1)
    desk = _desk(rt, mode, rec, monkeypatch)
    try:
        failed = _ask(desk, rec, "first")
        assert isinstance(failed, OSError)  # durability unknown: the switch retries
        assert _ask(desk, rec, "second") == "answer to second"
    finally:
        desk.close()
