"""A request whose caller stopped waiting before the desk took it is dropped, and the desk
goes on answering the others (setting the answer of a cancelled future would raise in the
syncer thread and stop every later answer)."""

from __future__ import annotations

import threading
from typing import Any

from commcredits.services.calls.call_desk import CallDesk, Job


def test_a_cancelled_request_is_dropped_and_the_desk_keeps_answering(rt: Any) -> None:
    entered, release = threading.Event(), threading.Event()
    seen: list[list[str]] = []

    def handler(conn: Any, jobs: Any) -> tuple[list[Any], list[str]]:
        seen.append([j.request for j in jobs])
        if jobs[0].request == "first":
            entered.set()
            assert release.wait(10)
        return [f"answer to {j.request}" for j in jobs], []

    desk = CallDesk(rt, handler)
    try:
        first = desk.submit(Job("authorize", None, "first"))
        assert entered.wait(10)  # the writer is busy with the first batch
        gone = desk.submit(Job("authorize", None, "gone"))
        kept = desk.submit(Job("authorize", None, "kept"))
        assert gone.cancel()  # the caller gave up while it waited
        release.set()
        assert first.result(10) == "answer to first"
        assert kept.result(10) == "answer to kept"
        assert desk.submit(Job("end", None, "later")).result(10) == "answer to later"
        assert gone.cancelled()
        assert ["gone"] not in seen and all("gone" not in batch for batch in seen)
    finally:
        release.set()
        desk.close()
