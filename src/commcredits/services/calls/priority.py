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
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SWITCH_INTERVAL_S = 0.0005
BULK_NICE = 10
_lock = threading.Lock()
_state = {"users": 0, "was": sys.getswitchinterval()}


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
