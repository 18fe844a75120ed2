"""The live rating index of one process, built off the request path and swapped atomically.

`LiveIndex.get()` always answers with the complete index it holds, at once; only the very
first call of a process waits for the first build. At most once a second (`CHECK_EVERY_S`)
a call starts a background check: one small query for the version in force per rating key
(`rate_deck_heads`). When that changed (an import or activation in any process), the
thread decodes the documents it has not seen, builds a new `RatingIndex` (reusing the
compiled plans of decks it already had, so a rollback or a small update recompiles nothing
big) and swaps it in with one assignment. Requests
during the build keep the previous index; the build thread runs at a lower CPU priority
and hands the interpreter to call control every 0.1 ms (`calls.priority`). Every process does this for itself; nothing
depends on state held by another.

The process that imports or activates does not wait for its next check: `adopt` swaps in
an index it built right after its commit, and `refresh_now` builds synchronously, so what
it imported prices its next quote or re-rating.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from ...db import rate_decks
from ...db.engine import read_tx
from ...domain.rating import Deck, RatingIndex
from ...rating_import import deck_from_json
from ..calls.priority import give_way, lower_this_thread, paced, yielding

CHECK_EVERY_S = 1.0
_PACED = 1_000  # a deck document's list longer than this is walked giving way to call control
log = logging.getLogger(__name__)
_gc_lock = threading.Lock()
_gc_state = {"pausers": 0, "was_enabled": True}


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector while a deck is parsed or an index built, then
    freeze what was built.

    Building a 300,000-row deck allocates millions of objects; each full collection that
    triggers walks all of them with the GIL held, up to seconds during which no request of
    the process runs. With the collector held, memory is still freed by reference counting
    (the decks and indexes have no cycles); `gc.freeze()` afterwards moves the new index to
    the permanent generation, so later collections (the request path's) never walk it
    either. Nested and concurrent uses share one pause."""
    with _gc_lock:
        if _gc_state["pausers"] == 0:
            _gc_state["was_enabled"] = gc.isenabled()
            gc.disable()
        _gc_state["pausers"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_state["pausers"] -= 1
            if _gc_state["pausers"] == 0:
                gc.freeze()
                if _gc_state["was_enabled"]:
                    gc.enable()


def live_decks(decks: dict[int, Deck], live: dict[int, set[str]]) -> list[Deck]:
    """The decks in force, each with only the profiles of the keys it is live for."""
    out = []
    for version in sorted(live):
        deck, keys = decks[version], live[version]
        if set(deck.rating_keys) <= keys:
            out.append(deck)
        else:
            out.append(dataclasses.replace(
                deck, profiles=tuple(p for p in deck.profiles if p.rating_key in keys),
                ends=tuple(e for e in deck.ends if e.rating_key in keys)))
    return out


class LiveIndex:
    """One per Runtime (process): see the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.index: RatingIndex | None = None
        self.token: dict[str, int] | None = None
        self.checked = 0.0
        self.build: Callable[[Iterable[Deck]], RatingIndex] = self._build
        self._lock = threading.Lock()  # one build at a time
        self._worker: threading.Thread | None = None
        self._decks: dict[int, Deck] = {}
        # told after this process swapped in its own change (`adopt`, `refresh_now` with a new
        # version): a call desk in its own process catches up before the change is answered
        self.listeners: list[Callable[[], None]] = []

    def _build(self, decks: Iterable[Deck]) -> RatingIndex:
        """A new index, compiling only the decks the current one does not hold."""
        return RatingIndex.build(decks, reuse=self.index)

    def get(self) -> RatingIndex:
        index = self.index
        if index is None:
            return self.refresh_now()
        now = time.monotonic()
        if now - self.checked >= CHECK_EVERY_S:
            self.checked = now
            self._start_check()
        return index

    def _start_check(self) -> None:
        worker = self._worker
        if worker is not None and worker.is_alive():
            return
        self._worker = threading.Thread(target=self.check, name="rating-index", daemon=True)
        self._worker.start()

    def check(self) -> None:
        """Catch up with the database now, in the background's way (off the request path)."""
        lower_this_thread()  # a background build (another process's import) yields to call control
        try:
            with self._lock, gc_paused(), yielding():
                self._refresh(force=False)
        except Exception:  # the next check tries again; requests keep the index they have
            log.exception("rating index refresh failed")

    def refresh_now(self) -> RatingIndex:
        """Build from the database now (first use, and after this process's own change)."""
        with self._lock, gc_paused():
            before = self.token
            self._refresh(force=self.index is None)
            index, changed = self.index, self.token != before
        assert index is not None
        if changed and before is not None:
            self._tell()
        return index

    def adopt(self, index: RatingIndex, token: dict[str, int], deck: Deck) -> None:
        """Swap in an index this process built right after its own commit."""
        with self._lock:
            self._decks[deck.version] = deck
            self.index, self.token = index, dict(token)
            self.checked = time.monotonic()
        self._tell()

    def _tell(self) -> None:
        for listener in list(self.listeners):
            try:
                listener()
            except Exception:  # the listener's own process notices within CHECK_EVERY_S anyway
                log.exception("a rating index listener failed")

    def decks(self) -> dict[int, Deck]:
        return self._decks

    def _refresh(self, *, force: bool) -> None:
        with read_tx(self.engine) as conn:
            token = rate_decks.heads(conn)
            if not force and token == self.token:
                return
            live = rate_decks.lineage(rate_decks.summaries(conn), token)
            # with an index serving calls meanwhile, the build gives way to call control between
            # small steps; the first build (no index yet) is what calls wait for: it never waits
            serving = self.index is not None
            docs = rate_decks.documents(conn, [v for v in live if v not in self._decks],
                                        pause=give_way if serving else None)
        for version, doc in docs:
            if serving:  # its long lists walked a slice at a time
                doc.update({k: paced(v) for k, v in doc.items() if isinstance(v, list) and len(v) > _PACED})
            self._decks[version] = deck_from_json(doc).with_version(version)  # checked once, not twice
        self._decks = {v: d for v, d in self._decks.items() if v in live}
        index = self.build(live_decks(self._decks, live))
        self.index, self.token = index, token  # the swap: one assignment each
        self.checked = time.monotonic()


def live_index(caches: dict[str, object], engine: Engine) -> LiveIndex:
    holder = caches.get("rating_live")
    if not isinstance(holder, LiveIndex):
        holder = caches.setdefault("rating_live", LiveIndex(engine))
    assert isinstance(holder, LiveIndex)
    return holder
