"""The PSTN usage report as CSV and Excel files, streamed.

An export is checked (access, filters, tenant) before the first byte; then the rows come from
driver-level SELECTs, a page of `PAGE` rows each, every page read in chunks in a short read
transaction of its own (never the writer gate) and continuing after the last row of the page
before; then each chunk is formatted and written, and the output is handed out in pieces of
about 256 KB.
The generators are synchronous and run in a thread of their own (`threaded`), which hands
pieces to the response through a queue of at most `DEPTH` pieces: an export never holds the
event loop that answers call control, it reads and formats while the loop sends, and a slow
client stops it after a few pieces instead of letting memory grow. Formatting uses cached
formatters: money strings per amount, "Domestic/International" and "Destination Dialed" per
(number type, scope, country, location). Figures: docs/reports.md.

Exports yield to call control, which shares the process: at most `MAX_EXPORTS` stream at once
per server process (another is refused before its first byte with `429 too_many_exports` and
`Retry-After`), each export's thread runs at a lower CPU priority, and while any export runs
the interpreter hands the GIL to a waiting thread after `calls.priority.SWITCH_INTERVAL_S`
instead of 5 ms (`calls.priority`). And an export pauses while call control has work: before
each chunk of `ROWS` rows and each `SLICE` rows it formats, it waits while requests are at the
call desk (`calls.priority.give_way`, at most 20 ms at a time, so it always progresses).
Alone, an export never waits; under continuous call load it writes about `SLICE` rows per
20 ms, and call control keeps its latency (docs/performance.md, "Exports").
"""

from __future__ import annotations

import asyncio
import csv
import io
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from itertools import islice, repeat
from operator import add
from typing import Any
from zoneinfo import ZoneInfo

from ...db import report_stream
from ...db import tenants as tenant_db
from ...db.engine import read_tx
from ...domain.access import VIEW_BILLING
from ...domain.money import format_micros, minor_units
from ...errors import CommCreditsError, NotFound
from ..access.principal import Principal, require_tenant
from ..calls.priority import give_way, lower_this_thread, yielding
from ..runtime import Runtime
from . import xlsx_stream as xl
from .reports import _WIDTHS, COLUMNS, _destination, _filters

FLUSH = 256 * 1024  # characters of CSV handed out at a time
_EXCEL_EPOCH = datetime(1899, 12, 30)
_DAY = timedelta(days=1)
_TIMES = (COLUMNS.index("Start Time"), COLUMNS.index("End Time"))
ROWS = 256  # rows fetched, then formatted, as one chunk
PAGE = 1_024  # rows read in one read transaction, then formatted after it ended
SLICE = 32  # rows formatted between two looks at call control (a few tenths of a millisecond)
DEPTH = 4  # pieces an export may have ready before the client takes them
HUGE_ROWS = 1_500_000  # past this many rows the sheet XML may pass 2 GiB: write it as ZIP64
MAX_EXPORTS = 2  # exports streaming at once in one server process (one per core of the reference machine)
RETRY_AFTER_S = 10  # what a refused export is told to wait


class TooManyExports(CommCreditsError):
    status, code, title = 429, "too_many_exports", "Too many exports in progress"


class _Slots:
    """The exports streaming in one process (one per Runtime): `take` or refuse."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0

    def take(self) -> Callable[[], None]:
        """A slot, as the function that gives it back (once, however often it is called)."""
        with self.lock:
            if self.running >= MAX_EXPORTS:
                raise TooManyExports(f"{self.running} exports are being written; try again in {RETRY_AFTER_S} s",
                                     retry_after=RETRY_AFTER_S)
            self.running += 1
        given = threading.Event()

        def give_back() -> None:
            with self.lock:
                if not given.is_set():
                    given.set()
                    self.running -= 1
        return give_back


def _slots(rt: Runtime) -> _Slots:
    slots = rt.caches.get("usage_exports")
    if not isinstance(slots, _Slots):
        slots = rt.caches.setdefault("usage_exports", _Slots())
    assert isinstance(slots, _Slots)
    return slots


@dataclass(frozen=True)
class Export:
    """What one export reads: checked before the response starts."""

    rt: Runtime
    tenant_id: str
    currency: str
    digits: int
    where: dict[str, Any]
    # gives the export's slot back: when its rows have been read, or when the export is dropped unread
    done: Callable[[], None] = field(default=lambda: None, compare=False, repr=False)


def open_export(rt: Runtime, who: Principal, tenant_id: str, *, start: datetime | None, end: datetime | None,
                user_id: str | None, call_type: str | None) -> Export:
    require_tenant(who, tenant_id, VIEW_BILLING)
    _filters(call_type, start, end)
    with read_tx(rt.engine) as conn:
        tenant = tenant_db.get(conn, tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} not found")
    done = _slots(rt).take()  # after the checks: a refused request holds no slot
    export = Export(rt, tenant_id, tenant.currency, minor_units(tenant.currency),
                    {"start": start, "end": end, "user_id": user_id, "call_type": call_type}, done)
    weakref.finalize(export, done)  # a response dropped before it streamed
    return export


def _same(value: Any) -> Any:
    return value


def _chunks(export: Export) -> Iterator[tuple[list[tuple[Any, ...]], Callable[[Any], datetime]]]:
    """Chunks of driver rows, with how to read their instants (text on SQLite): pages of PAGE
    rows, each read whole in a read transaction of its own and formatted after it ended, so
    an export that waits for call control holds no snapshot while it waits
    (`db.report_stream`)."""
    after = None
    try:
        while True:
            with read_tx(export.rt.engine) as conn:
                page = list(report_stream.export_chunks(conn, export.tenant_id, chunk=ROWS, after=after, limit=PAGE,
                                                        **export.where))
            for rows in page:
                yield rows, datetime.fromisoformat if isinstance(rows[0][13], str) else _same
                if not give_way():  # the next chunk (and read) waits while call control has work
                    time.sleep(0)  # let the event loop have the interpreter now, not at the next forced switch
            if sum(map(len, page)) < PAGE:
                return
            after = report_stream.resume_after(page[-1][-1])
    finally:
        export.done()


class _Places(dict[tuple[Any, ...], tuple[str, str]]):
    """(Domestic/International, Destination Dialed) per (number type, domestic, country, location)."""

    def __missing__(self, key: tuple[Any, ...]) -> tuple[str, str]:
        ntype, domestic, country, location = key
        value = _destination({"number_type": ntype, "domestic": domestic, "destination_country": country,
                              "usage_location": location})
        self[key] = value
        return value


def csv_rows(export: Export) -> Iterator[Iterator[tuple[Any, ...]]]:
    """The report's rows as CSV values (strings and whole seconds), SLICE rows at a time: each
    slice is the next part of one iterator per chunk, so take them in order and use each up
    before the next. Each chunk is turned into columns and every column is mapped by a
    C-level callable (a cached formatter, a datetime method), so no Python code runs per row;
    the slices keep each C-level run, which holds the GIL, short, and between two of them
    the export gives way to call control (`calls.priority.give_way`)."""
    money = lru_cache(maxsize=16_384)(partial(format_micros, decimals=export.digits))
    places = _Places()
    for chunk, instant in _chunks(export):
        (rid, cid, conf, loc, uid, upn, name, caller, ctype, ntype, dom, country, callee, started, dur, fee, charge,
         cur, cap, blocked) = zip(*chunk, strict=True)
        starts = started if instant is _same else list(map(instant, started))
        ends = map(add, starts, map(timedelta, repeat(0), dur))
        scope, dest = zip(*map(places.__getitem__, zip(ntype, dom, country, loc, strict=True)), strict=True)
        rows = zip(rid, cid, conf, loc, uid, upn, name, caller, ctype, ntype, scope, dest, callee,
                   map(add, map(datetime.isoformat, starts), repeat("Z")),
                   map(add, map(datetime.isoformat, ends), repeat("Z")), dur, map(money, fee), map(money, charge),
                   cur, cap, blocked, strict=True)
        for _ in range(0, len(chunk), SLICE):
            give_way()
            yield islice(rows, SLICE)


def csv_stream(export: Export, *, bom: bool = False) -> Iterator[bytes]:
    """The CSV file in pieces of about 256 KB; `bom` starts it with a UTF-8 byte order mark,
    which Excel needs to read non-ASCII names right (the web download sets it)."""
    buffer = io.StringIO()
    if bom:
        buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for rows in csv_rows(export):
        writer.writerows(rows)
        if buffer.tell() >= FLUSH:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _serial(zone: ZoneInfo | None) -> Callable[[datetime], float]:
    """An instant (naive UTC) as an Excel date serial, in `zone` if given."""
    if zone is None:
        return lambda t: (t - _EXCEL_EPOCH) / _DAY
    return lambda t: (t.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None) - _EXCEL_EPOCH) / _DAY


def _xlsx_blocks(export: Export, zone: ZoneInfo | None) -> Iterator[tuple[str, int]]:
    text = xl.text_cell
    cached: dict[Any, str] = {}

    def short(value: str) -> str:  # the few distinct values of a column: escaped once
        cell = cached.get(value)
        if cell is None:
            cell = cached[value] = text(value)
        return cell

    money = lru_cache(maxsize=16_384)(lambda m: xl.number_cell(format_micros(m, export.digits), xl.MONEY))
    place = lru_cache(maxsize=4_096)(lambda pair: short(pair[0]) + short(pair[1]))
    places, serial = _Places(), _serial(zone)
    for chunk, instant in _chunks(export):
        out: list[str] = []
        for rid, cid, conf, loc, uid, upn, name, caller, ctype, ntype, dom, country, callee, started, dur, fee, \
                charge, cur, cap, blocked in chunk:
            if not len(out) % SLICE:
                give_way()
            start = instant(started)
            out.append(f"<row>{text(rid)}{text(cid)}{text(conf)}{short(loc)}{short(uid)}{short(upn)}{short(name)}"
                       f"{text(caller)}{short(ctype)}{short(ntype)}{place(places[ntype, dom, country, loc])}"
                       f'{text(callee)}<c s="1"><v>{serial(start)}</v></c>'
                       f'<c s="1"><v>{serial(start + timedelta(seconds=dur))}</v></c><c><v>{dur}</v></c>'
                       f"{money(fee)}{money(charge)}{short(cur)}{short(cap)}{short(blocked)}</row>")
        if len(cached) > 100_000:  # a tenant with very many users: keep the cache bounded
            cached.clear()
        yield "".join(out), len(out)


def xlsx_stream(export: Export, *, zone: str | None = None) -> Iterator[bytes]:
    """The Excel workbook in pieces: dates as dates (in `zone` when given, which the header
    names, else UTC), money as numbers in the currency's format, seconds as numbers; the
    header row bold and frozen, an autofilter over the table, column widths."""
    tz = ZoneInfo(zone) if zone and zone != "UTC" else None
    header = [f"{n} ({zone})" if tz and i in _TIMES else n for i, n in enumerate(COLUMNS)]
    with read_tx(export.rt.engine) as conn:
        calls = report_stream.count(conn, export.tenant_id, **export.where)
    money_format = f'#,##0.{"0" * export.digits} "{export.currency}"' if export.digits else \
        f'#,##0 "{export.currency}"'
    yield from xl.stream_xlsx("PSTN usage", header, [_WIDTHS.get(n, 12) for n in COLUMNS], _xlsx_blocks(export, tz),
                              date_format="yyyy-mm-dd hh:mm:ss", money_format=money_format, huge=calls > HUGE_ROWS)


_END = object()


async def threaded(pieces: Iterator[bytes]) -> AsyncIterator[bytes]:
    """`pieces`, made in a worker thread, with at most DEPTH of them waiting. Leaving early
    (the client went away) stops the thread, which closes the generator and its read
    transaction."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Queue[Any] = asyncio.Queue()
    room, stop = threading.Semaphore(DEPTH), threading.Event()

    def hand(item: Any) -> None:
        try:
            loop.call_soon_threadsafe(ready.put_nowait, item)
        except RuntimeError:  # the loop is gone (server shutting down)
            stop.set()

    def produce() -> None:
        lower_this_thread()  # the cores go to call control first
        try:
            with yielding():
                for piece in pieces:
                    while not room.acquire(timeout=1):
                        if stop.is_set():
                            return
                    if stop.is_set():
                        return
                    hand(piece)
            hand(_END)
        except Exception as exc:  # handed to the response, which then fails the stream
            hand(exc)
        finally:
            pieces.close()  # type: ignore[attr-defined]

    threading.Thread(target=produce, name="usage-export", daemon=True).start()
    try:
        while (item := await ready.get()) is not _END:
            if isinstance(item, Exception):
                raise item
            room.release()
            yield item
    finally:
        stop.set()
        room.release()
