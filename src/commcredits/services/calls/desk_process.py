"""The call desk in a process of its own, for a server process (`commcredits serve`).

In one process, the event loop (HTTP parsing, validation, answers) and the desk's writer
(deciding and writing batches) are both Python, so they take turns on one interpreter lock:
a batch waits while the loop parses and the loop waits while a batch is decided, and the
machine's second core stays idle. Here the desk runs in a child process, so the two work at
once. The loop talks to it over a socket pair, with no thread in between, and the desk's
writer reads the socket itself: one hop each way.

- **The loop's side** (`DeskLink`): `ask` sends the checked request (kind, bearer token,
  request) as one frame and awaits its answer; the frames that come back set the waiting
  futures. Everything else about the request stays in the server process: validation,
  emergency calls, encoding the answer and the problem+json errors.
- **The desk's side** (`serve_desk`): the same `CallDesk` and `handle_batch` as with a desk
  thread: batches, one transaction each, group commit, answers only once the batch is on
  disk. Each durable group's answers go back in one frame, with the tenants whose balance
  changed and the desk's figures (`desk_metrics.py`). The server process runs
  `balance_changed` for those tenants (auto-recharge, notices), as it does with a desk
  thread, and shows the figures on its `/metrics`.
- **What a crash can cost:** nothing that was answered, as with a desk thread. If the desk's
  process dies, the server process answers every waiting request `503 unavailable` (the
  switch retries; authorize, extend and end are idempotent) and starts a new desk for the
  next request. If the server process dies, the desk reads the end of its socket, finishes
  what it already took, and exits.
- **Several server processes** (`serve --workers N`) each have their own desk process, as
  they each had their own desk thread. Every decision still reads and locks in the
  database, so correctness never depends on one process's memory.

`COMMCREDITS_CALL_DESK=thread` keeps the desk in the server process (what `call_control.call`
and in-process apps, such as the tests' clients, always use). Frames are a 4-byte big-endian
length and a pickle, exchanged only between a server process and the child it started, over
a private socket pair.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import os
import pickle
import select
import signal
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from itertools import count
from typing import Any

from ...config import Settings
from ...errors import CommCreditsError, Unavailable
from ..rating.rating_live import live_index
from . import desk_metrics
from .call_desk import run_balance_changed
from .desk_metrics import Figures
from .priority import call_control_began, call_control_ended

log = logging.getLogger(__name__)
_HEAD = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024
READY = "ready"  # the desk's first frame: it is up (its rating index is built on the first call, as ever)
START_TIMEOUT_S = 60


def _frame(payload: Any) -> bytes:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEAD.pack(len(data)) + data


class Frames:
    """Splits a byte stream into the frames' payloads."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        self.buf += data
        out = []
        while len(self.buf) >= _HEAD.size:
            (size,) = _HEAD.unpack_from(self.buf)
            if size > MAX_FRAME:
                raise ValueError(f"a call desk frame of {size} bytes")
            if len(self.buf) < _HEAD.size + size:
                break
            out.append(pickle.loads(self.buf[_HEAD.size:_HEAD.size + size]))
            del self.buf[:_HEAD.size + size]
        return out


# ---------------------------------------------------------------- the server process's side


class DeskLink(asyncio.Protocol):
    """The event loop's end of the socket pair (one per server process)."""

    def __init__(self, rt: Any, process: Any) -> None:
        self.rt, self.process = rt, process
        self.transport: asyncio.Transport | None = None
        self.frames = Frames()
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.ids = count()
        self.lost = False
        self.loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = self.loop.create_future()
        self.hooks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="commcredits-after-commit")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            payloads = self.frames.feed(data)
        except Exception:  # never expected: drop the desk; the next request starts another
            log.exception("unreadable answer from the call desk")
            assert self.transport is not None
            self.transport.close()
            return
        for payload in payloads:
            if payload == READY:
                if not self.ready.done():
                    self.ready.set_result(None)
                continue
            answers, tenants, figures = payload
            if figures is not None:
                desk_metrics.observe(figures)
            for rid, ok, result in answers:
                future = self.waiting.pop(rid, None)
                if future is None or future.done():
                    continue
                if ok:
                    future.set_result(result)
                else:
                    future.set_exception(result)
            for tenant_id in tenants:
                self.hooks.submit(run_balance_changed, self.rt, tenant_id)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        gone = Unavailable("the call desk stopped before answering: retry")
        if not self.ready.done():
            self.ready.set_exception(gone)
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(gone)
        self.waiting.clear()

    async def ask(self, kind: str, bearer: str | None, request: Any) -> Any:
        if self.lost or self.transport is None:
            raise Unavailable("the call desk stopped: retry")
        rid = next(self.ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting[rid] = future
        call_control_began()  # bulk work in this process gives way until it is answered (priority.py)
        try:
            self.transport.write(_frame((rid, kind, bearer, request)))
            return await future
        finally:
            self.waiting.pop(rid, None)
            call_control_ended()

    async def close(self) -> None:
        """Stop the desk: it reads the end of its socket, finishes what it took, answers it,
        and exits. (The transport is closed here, on its event loop: closed from another
        thread, it would wait for the loop's next wake-up.)"""
        if self.transport is not None:
            self.transport.close()
        await asyncio.to_thread(self._reap)

    def _reap(self) -> None:
        self.process.join(timeout=15)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        self.hooks.shutdown(wait=True)


_START = threading.Lock()


RATING = "rating"  # a control request: catch up with the rate decks now, answer when done
RATING_WAIT_S = 300


def _tell_desk(rt: Any) -> Callable[[], None]:
    """The server process's rating-index listener: its own import or activation is answered
    only once its desk prices with it too (another process's desk notices within a second)."""
    def tell() -> None:
        link: DeskLink | None = rt.caches.get("desk_link")
        if link is None or link.lost:
            return  # a desk started later builds from the database
        try:
            on_loop = asyncio.get_running_loop() is link.loop
        except RuntimeError:
            on_loop = False
        done = asyncio.run_coroutine_threadsafe(link.ask(RATING, None, None), link.loop)
        if not on_loop:  # (never block the loop that has to read the answer)
            done.result(timeout=RATING_WAIT_S)
    return tell


async def link_of(rt: Any) -> DeskLink:
    """This server process's link to its desk, starting the desk on first use, and again after
    it stopped. Raises Unavailable when the desk does not come up (it connects to the database
    only with its first batch, so an unreachable database is that batch's 503)."""
    link: DeskLink | None = rt.caches.get("desk_link")
    if link is not None and not link.lost:
        return link
    with _START:  # one event loop per server process; the lock only guards the cache entry
        starting = rt.caches.get("desk_link_starting")
        if starting is None:
            starting = rt.caches["desk_link_starting"] = asyncio.Lock()
    async with starting:
        link = rt.caches.get("desk_link")
        if link is not None and not link.lost:
            return link
        if link is not None:
            await link.close()
        link = await _start(rt)
        rt.caches["desk_link"] = link
        if not rt.caches.get("desk_listens"):
            rt.caches["desk_listens"] = True
            live_index(rt.caches, rt.engine).listeners.append(_tell_desk(rt))
        return link


async def _start(rt: Any) -> DeskLink:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    process = mp.get_context("spawn").Process(target=serve_desk, args=(rt.settings, theirs),
                                              name="commcredits-call-desk", daemon=True)
    try:
        await asyncio.to_thread(process.start)
    finally:
        theirs.close()
    loop = asyncio.get_running_loop()
    _, link = await loop.create_unix_connection(lambda: DeskLink(rt, process), sock=ours)
    try:
        await asyncio.wait_for(asyncio.shield(link.ready), START_TIMEOUT_S)
    except BaseException as exc:
        await link.close()
        if isinstance(exc, TimeoutError):
            raise Unavailable(f"the call desk did not start within {START_TIMEOUT_S} s: retry") from None
        raise
    return link


async def ask(rt: Any, kind: str, bearer: str | None, request: Any) -> Any:
    """The desk process's answer to one request (or the CommCreditsError refusing it)."""
    return await (await link_of(rt)).ask(kind, bearer, request)


async def stop(rt: Any) -> None:
    """Stop this server process's desk, if it has one (at shutdown)."""
    link: DeskLink | None = rt.caches.pop("desk_link", None)
    rt.caches.pop("desk_link_starting", None)  # bound to this event loop
    if link is not None:
        await link.close()


# ---------------------------------------------------------------- the desk's process


def serve_desk(settings: Settings, sock: socket.socket) -> None:
    """The desk process: read requests, decide them in batches, send back durable answers."""
    from ..runtime import Runtime
    from .call_batch import handle_batch
    from .call_desk import MAX_BATCH, CallDesk, Job

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which then closes the socket
    rt = Runtime.from_settings(settings)
    out = threading.Lock()

    def send(payload: Any) -> None:
        data = _frame(payload)
        with out, suppress(OSError):  # OSError: the server process is gone, nobody waits for these
            sock.sendall(data)

    def publish(answers: list[tuple[Job, Any]], tenants: list[str], figures: Figures) -> None:
        for _ in answers:
            call_control_ended()
        sent = [(job.rid, *_portable(result)) for job, result in answers]  # type: ignore[attr-defined]
        try:
            send((sent, tenants, figures))
        except (pickle.PicklingError, TypeError, AttributeError):  # one answer that does not pickle
            log.exception("a call desk answer does not pickle")
            send(([(rid, *_pickles(ok, result)) for rid, ok, result in sent], tenants, figures))

    def catch_up(rid: int) -> None:
        live_index(rt.caches, rt.engine).check()
        send(([(rid, True, None)], [], None))

    frames = Frames()
    pending: deque[Job] = deque()
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    ended = False

    def receive(data: bytes) -> None:
        nonlocal ended
        if not data:
            ended = True
            return
        for rid, kind, bearer, request in frames.feed(data):
            if kind == RATING:  # built beside the writer, which keeps the index it has meanwhile
                threading.Thread(target=catch_up, args=(rid,), name="rating-index", daemon=True).start()
                continue
            job = Job(kind, bearer, request)
            job.rid = rid  # type: ignore[attr-defined]
            pending.append(job)

    def take(wait_s: float) -> list[Job] | None:
        """What has arrived (waiting up to `wait_s` for a first request), at most MAX_BATCH;
        None once the server process closed its end and everything taken is done."""
        if not pending and not ended:
            if not poller.poll(wait_s * 1000):
                return []
            receive(sock.recv(1 << 16))
            try:  # and whatever else is already there, without waiting
                while not ended:
                    receive(sock.recv(1 << 16, socket.MSG_DONTWAIT))
            except BlockingIOError:
                pass
        if not pending:
            return None if ended else []
        batch = [pending.popleft() for _ in range(min(MAX_BATCH, len(pending)))]
        for _ in batch:  # a rating index rebuilt in this process gives way until they are answered
            call_control_began()
        return batch

    desk = CallDesk(rt, lambda conn, jobs: handle_batch(rt, conn, jobs), publish=publish, take=take)
    send(READY)
    try:
        desk.writer.join()
    finally:
        desk.close()
        rt.engine.dispose()
        os._exit(0)


def _pickles(ok: bool, result: Any) -> tuple[bool, Any]:
    try:
        pickle.dumps(result)
        return ok, result
    except Exception:
        return False, CommCreditsError(f"an answer the call desk could not send: {type(result).__name__}")


def _portable(result: Any) -> tuple[bool, Any]:
    """(ok, result) as the server process can unpickle and answer it: answers as they are, the
    product's own errors as they are, a database that cannot be reached as 503, any other
    failure as a plain 500 naming it."""
    from sqlalchemy.exc import OperationalError

    if not isinstance(result, BaseException):
        return True, result
    if isinstance(result, CommCreditsError):
        return False, result
    if isinstance(result, OperationalError):
        return False, Unavailable("the database is unreachable: deny the call (emergency calls are still allowed)")
    log.error("call desk failure: %r", result)
    return False, CommCreditsError(f"{type(result).__name__}: {result}")
