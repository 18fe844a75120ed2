"""Reading CSV rows and cell values for the importers, with file and line in every error.

`read_rows` yields data rows with their 1-based physical line numbers, skipping blank lines
and lines starting with `#` (headers and comments). Cell parsers raise `DeckError(reason)`;
`Problems` attaches the file and line and collects them, so an import reports its first
error (and keeps the others in `.others`) and returns nothing partial.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import TypeVar

from commcredits.domain.rating_model import ANY, DeckError

T = TypeVar("T")
MAX_PROBLEMS = 100


@dataclass(frozen=True, slots=True)
class Row:
    file: str
    line: int
    cells: tuple[str, ...]

    def cell(self, i: int) -> str:
        return self.cells[i] if i < len(self.cells) else ""


def read_rows(text: str | bytes, file: str) -> Iterator[Row]:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DeckError(f"not UTF-8 text ({exc.reason})", file=file) from None
    text = text.removeprefix("\ufeff")
    for n, raw in enumerate(text.splitlines(), 1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        cells = next(csv.reader([raw])) if '"' in raw else raw.split(",")
        yield Row(file, n, tuple(c.strip() for c in cells))


class Problems:
    """Collects row errors; `check` raises the first with the rest in `.others`."""

    def __init__(self) -> None:
        self.errors: list[DeckError] = []

    def add(self, row: Row | None, reason: str, file: str = "") -> None:
        if len(self.errors) < MAX_PROBLEMS:
            self.errors.append(DeckError(reason, file=row.file if row else file,
                                         line=row.line if row else None))

    def run(self, row: Row, parse: Callable[[Row], T]) -> T | None:
        try:
            return parse(row)
        except DeckError as exc:
            self.add(row, exc.reason)
            return None

    def check(self) -> None:
        if self.errors:
            first = self.errors[0]
            raise DeckError(first.reason, file=first.file, line=first.line,
                            others=tuple(self.errors[1:]))


def decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise DeckError(f"{what} {text!r} is not a decimal number") from None
    if not value.is_finite() or value < 0:
        raise DeckError(f"{what} {text!r} must be a finite number >= 0")
    return value


def fraction(text: str, what: str, *, empty: str | None = None) -> Fraction:
    if text == "" and empty is not None:
        text = empty
    return Fraction(decimal(text, what))


def micros(text: str, what: str) -> int:
    """An amount (connect fee, max cost) in whole micro-units; empty = 0."""
    value = decimal(text or "0", what)
    scaled = value.scaleb(6)
    if scaled != scaled.to_integral_value():
        raise DeckError(f"{what} {text!r} has more than 6 decimals")
    return int(scaled)


def integer(text: str, what: str, low: int = 0, high: int | None = None) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise DeckError(f"{what} {text!r} is not an integer")
    value = int(text)
    if value < low or (high is not None and value > high):
        raise DeckError(f"{what} {text!r} is out of range")
    return value


_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


def duration(text: str, what: str) -> int:
    """Whole seconds from `60s`, `1m`, `1h30m`, `0`, or a plain count of units (`1`)."""
    if text.isdigit():
        return int(text)
    m = _DURATION.fullmatch(text)
    if not text or m is None:
        raise DeckError(f"{what} {text!r} is not a duration such as 60s, 1m or 0")
    h, mi, s = (Fraction(Decimal(x)) if x else Fraction(0) for x in m.groups())
    total = h * 3600 + mi * 60 + s
    if total.denominator != 1:
        raise DeckError(f"{what} {text!r} is not a whole number of seconds")
    return int(total)


def int_set(text: str, what: str, low: int, high: int) -> frozenset[int]:
    if text in ("", ANY):
        return frozenset()
    return frozenset(integer(p.strip(), what, low, high) for p in text.split(";"))


def time_of_day(text: str) -> int:
    if text in ("", ANY, "00:00:00"):
        return 0
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", text)
    if m is None or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3] or 0) > 59:
        raise DeckError(f"time {text!r} is not a time of day such as 08:00:00")
    return int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3] or 0)


def instant(text: str, what: str) -> datetime:
    """An RFC 3339 timestamp (naive = UTC) or a date (midnight UTC), as aware UTC."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise DeckError(f"{what} {text!r} is not a date or RFC 3339 time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def choice(text: str, what: str, mapping: dict[str, str]) -> str:
    if text not in mapping:
        raise DeckError(f"{what} {text!r} must be one of {', '.join(sorted(mapping))}")
    return mapping[text]


def identifier(text: str, what: str) -> str:
    if not text:
        raise DeckError(f"{what} is empty")
    return text
