"""Timings: which destination-rate candidate is in force at an instant, and until when.

Instants are integer epoch seconds (rating works to the second). A deck's timings and
midnights are read in the deck's time zone: UTC by default, computed with integer
arithmetic only; any other IANA zone goes through `zoneinfo` (wall-clock times that do not
exist on a DST change day resolve as `zoneinfo` does, fold=0).

Selection rule (RATING.md): among the candidates of the matched prefix whose timing matches
the local day and whose start time has passed, the higher weight wins; at equal weight the
timing that started last wins (a timing is in force until the next one starts), and at
equal start the entry listed first. The selection can change only at the next local
midnight or at the next start time of a candidate matching that day, which is returned as
the span's end.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from functools import lru_cache
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .model import DeckError, Timing

DAY = 86400
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
SECOND = timedelta(seconds=1)


def epoch_seconds(instant: datetime) -> int:
    """Whole seconds since the epoch (floor) of an aware datetime; no float involved."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("started_at must be an aware datetime (UTC)")
    return (instant - EPOCH) // SECOND


def from_epoch(seconds: int) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


class Candidate(Protocol):
    @property
    def timing(self) -> Timing: ...
    @property
    def weight(self) -> Fraction: ...


C = TypeVar("C", bound=Candidate)


class LocalClock:
    """Converts epoch seconds to (local date, second of day) in one zone, and back."""

    __slots__ = ("name", "zone")

    def __init__(self, name: str) -> None:
        self.name = name
        self.zone: ZoneInfo | None = None
        if name != "UTC":
            try:
                self.zone = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                raise DeckError(f"unknown time zone {name!r}") from None

    def local(self, t: int) -> tuple[date, int]:
        if self.zone is None:
            day, tod = divmod(t, DAY)
            return date.fromordinal(EPOCH_ORDINAL + day), tod
        dt = from_epoch(t).astimezone(self.zone)
        return dt.date(), dt.hour * 3600 + dt.minute * 60 + dt.second

    def at(self, d: date, tod: int) -> int:
        if self.zone is None:
            return (d.toordinal() - EPOCH_ORDINAL) * DAY + tod
        wall = datetime.combine(d, time(tod // 3600, tod // 60 % 60, tod % 60), self.zone)
        return epoch_seconds(wall)


@lru_cache(maxsize=64)
def clock_for(name: str) -> LocalClock:
    return LocalClock(name)


def timing_matches_day(timing: Timing, d: date) -> bool:
    if timing.years and d.year not in timing.years:
        return False
    if timing.months and d.month not in timing.months:
        return False
    if timing.month_days and d.day not in timing.month_days:
        return False
    if timing.weekdays:
        wd = d.isoweekday()
        return wd in timing.weekdays or (wd == 7 and 0 in timing.weekdays)
    return True


def select_in_force(candidates: Sequence[C], t: int,
                    clock: LocalClock) -> tuple[C | None, int]:
    """The candidate in force at `t` (or None) and the instant the choice may change."""
    d, tod = clock.local(t)
    until = clock.at(d + timedelta(days=1), 0)
    best: C | None = None
    best_key = (Fraction(0), 0)
    for c in candidates:
        tm = c.timing
        if not timing_matches_day(tm, d):
            continue
        if tm.start_s <= tod:
            key = (c.weight, tm.start_s)
            if best is None or key > best_key:
                best, best_key = c, key
        else:
            b = clock.at(d, tm.start_s)
            if t < b < until:
                until = b
    return best, until
