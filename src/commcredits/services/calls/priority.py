"""How bulk work in a server process (a rate-deck index build, a usage export) yields to call
control, which shares the process's interpreter and the machine's cores with it.

- `yielding()`: while bulk work runs, the interpreter's switch interval is short
  (`SWITCH_INTERVAL_S`): a thread that wants the GIL (the event loop with an answer to send,
  the call desk's writer with a batch) asks the bulk thread to drop it after at most that
  long instead of Python's default 5 ms. An authorize passes the GIL between threads several
  times (loop -> writer -> syncer -> loop), so the default can add tens of milliseconds to
  it while a bulk thread computes. Nested and concurrent uses share one setting; the old
  interval comes back when the last one ends. Without bulk work the interval stays as it is
  (docs/performance.md: alone, a shorter interval neither helps nor hurts call control).
- `lower_this_thread()`: the calling thread runs at a lower CPU priority (Linux schedules
  threads on their own nice value), so on a busy machine the cores go to the threads that
  answer the switch first.
- `give_way()`: bulk work that can stop between small steps (an export, between a few dozen
  rows) calls it before each step; while call control has requests in this process (at the
  call desk, from `submit` to their answer: `call_control_began`/`call_control_ended`) and
  for `GRACE_S` after the last answer (the event loop still sends it), it waits, at most
  `MAX_WAIT_S` per call, so bulk work always progresses. Waiting drops the GIL and stops
  the work's database reads too: the desk's threads take the GIL back after each round trip
  to the database without waiting behind a bulk thread's C call (a `csv.writer.writerows`
  of a few hundred rows holds the GIL for milliseconds, whatever the switch interval), and
  on PostgreSQL the export's backend stops competing with the desk's backends for the
  cores. With no call-control work it costs a comparison.

These are scheduling hints within one process: nothing decides anything on them, a wrong
reading costs at most a short wait, and other processes are not seen (each has its own).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import TypeVar

T = TypeVar("T")
# 0.5 ms gave authorize p99 66-71 ms during a 300,000-row import on SQLite, 0.1 ms 53-54 (docs/performance.md)
SWITCH_INTERVAL_S = 0.0001
BULK_NICE = 10
GRACE_S = 0.001  # call control counts as busy this long after its last answer
MAX_WAIT_S = 0.02  # the longest one give_way() waits: bulk work always progresses
_lock = threading.Lock()
_state = {"users": 0, "was": sys.getswitchinterval()}
_calls_lock = threading.Lock()
_calls = {"in_flight": 0, "idle_since": 0.0}
_idle = threading.Event()  # set while no call-control request is in flight
_idle.set()


@contextmanager
def yielding() -> Iterator[None]:
    """Run the block with the short switch interval (see the module doc)."""
    with _lock:
        if _state["users"] == 0:
            _state["was"] = sys.getswitchinterval()
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        _state["users"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["users"] -= 1
            if _state["users"] == 0:
                sys.setswitchinterval(_state["was"])


def lower_this_thread(nice: int = BULK_NICE) -> None:
    """Lower the calling thread's CPU priority by `nice` (Linux; elsewhere nothing happens)."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except (AttributeError, OSError):  # not Linux, or not allowed: run at the usual priority
        pass


def run_as_background_process(nice: int = BULK_NICE) -> None:
    """For a worker process doing bulk work (a rate-deck import): run only on CPU time nothing
    else wants (Linux `SCHED_IDLE`: a call-control thread that wakes up takes the core at once,
    instead of waiting for the worker's time slice to end; the worker still progresses, with
    the lowest weight); elsewhere, or if refused, `nice` it."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # type: ignore[attr-defined,unused-ignore]
    except (AttributeError, OSError):
        with suppress(OSError):
            os.nice(nice)


def call_control_began() -> None:
    """A call-control request entered this process's desk."""
    with _calls_lock:
        _calls["in_flight"] += 1
        _idle.clear()


def call_control_ended(_: object = None) -> None:
    """A call-control request was answered (or refused); the argument is ignored (a future)."""
    with _calls_lock:
        _calls["in_flight"] = max(0, _calls["in_flight"] - 1)
        if not _calls["in_flight"]:
            _calls["idle_since"] = time.monotonic()
            _idle.set()


def call_control_busy() -> bool:
    """Call control has work in this process, or answered its last request under GRACE_S ago."""
    return not _idle.is_set() or time.monotonic() - _calls["idle_since"] < GRACE_S


def give_way(max_wait_s: float | None = None) -> float:
    """Wait while call control is busy, at most `max_wait_s` (default MAX_WAIT_S); returns the
    seconds waited (0.0 at once when call control is idle). The wait is on an event the desk
    sets when its last request is answered, so a waiting thread does not wake to look."""
    if not call_control_busy():
        return 0.0
    began = time.monotonic()
    deadline = began + (MAX_WAIT_S if max_wait_s is None else max_wait_s)
    now = began
    while now < deadline and call_control_busy():
        if _idle.wait(deadline - now):  # idle: the event loop still sends the answers
            time.sleep(max(0.0, min(_calls["idle_since"] + GRACE_S, deadline) - time.monotonic()))
        now = time.monotonic()
    return now - began


def paced(items: Iterable[T], every: int = 256) -> Iterator[T]:
    """`items`, giving way to call control (`give_way`) before each `every` of them: for bulk
    work that walks a long list on the server (an index rebuilt after an import)."""
    for n, item in enumerate(items):
        if n % every == 0:
            give_way()
        yield item
