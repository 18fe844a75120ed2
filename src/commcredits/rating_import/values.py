"""Reading CSV rows and cell values for the importers, with file and line in every error.

`read_rows` yields data rows with their 1-based physical line numbers, skipping blank lines
and lines starting with `#` (headers and comments). Cell parsers raise `DeckError(reason)`;
`Problems` attaches the file and line and collects them, so an import reports its first
error (and keeps the others in `.others`) and returns nothing partial.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import TypeVar

from ..domain.rating.model import ANY, DeckError

T = TypeVar("T")
MAX_PROBLEMS = 100
MAX_CELL = 200  # characters in any one cell; longer is refused before it is parsed
MAX_INCREMENT_S = 86_400  # billing increments and rate units: 1 s .. 1 day
MAX_GROUP_START_S = 30 * 86_400  # a rate group starts at most 30 days into a call
MAX_PREFIX_DIGITS = 20
MAX_RATE_ENV = "COMMCREDITS_MAX_RATE_PER_MINUTE"
DEFAULT_MAX_RATE_PER_MINUTE = Decimal(1000)
_PLAIN_DECIMAL = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,18})?|\.[0-9]{1,18}")
_DIGITS = re.compile(r"[0-9]{1,20}")  # MAX_PREFIX_DIGITS
_WORD_PREFIX = re.compile(r"[A-Za-z][A-Za-z_]{0,31}")  # CGRateS service prefixes: voicemail


def max_rate_per_minute() -> Decimal:
    """The operator's ceiling on any price per minute or fee, in major units
    (`COMMCREDITS_MAX_RATE_PER_MINUTE`, default 1000)."""
    raw = os.environ.get(MAX_RATE_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_RATE_PER_MINUTE
    if not _PLAIN_DECIMAL.fullmatch(raw):
        raise DeckError(f"{MAX_RATE_ENV}={raw[:40]!r} is not a plain decimal number")
    return Decimal(raw)


@dataclass(frozen=True, slots=True)
class Row:
    file: str
    line: int
    cells: tuple[str, ...]

    def cell(self, i: int) -> str:
        return self.cells[i] if i < len(self.cells) else ""


def as_text(data: str | bytes, file: str) -> str:
    """Decode an upload as UTF-8 CSV text; a binary file (a zip, an image) or another
    encoding is a DeckError naming the file."""
    if isinstance(data, bytes):
        if data[:4] in (b"PK\x03\x04", b"PK\x05\x06") or data[:2] == b"\x1f\x8b":
            raise DeckError("is a zip/gzip archive, not a CSV text file", file=file)
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DeckError(f"is not UTF-8 text (byte {exc.start}: {exc.reason})",
                            file=file) from None
    if "\x00" in data:
        raise DeckError("is binary (it has NUL bytes), not a CSV text file", file=file)
    return data.removeprefix("\ufeff")


def read_rows(text: str | bytes, file: str) -> Iterator[Row]:
    text = as_text(text, file)
    # line by line (universal newlines), not one splitlines() of a whole large upload: that
    # is one C call holding the GIL while requests of the process wait
    for n, line in enumerate(io.StringIO(text, newline=None), 1):
        raw = line.rstrip("\n")
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        try:
            cells = next(csv.reader([raw], strict=True)) if '"' in raw else raw.split(",")
        except csv.Error as exc:
            raise DeckError(f"is not valid CSV ({exc})", file=file, line=n) from None
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


def shown(text: str) -> str:
    """A cell as quoted in an error, cut to a readable length."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def decimal(text: str, what: str) -> Decimal:
    """A plain non-negative decimal (digits, at most one '.'): no sign, exponent or
    underscore, at most 15 integer and 18 fractional digits, checked on the text before
    any conversion (so '1e1000000' costs nothing)."""
    if text.startswith("-") and _PLAIN_DECIMAL.fullmatch(text[1:]):
        raise DeckError(f"{what} {shown(text)} must not be negative")
    if not _PLAIN_DECIMAL.fullmatch(text):
        if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", text[:MAX_CELL]):
            raise DeckError(f"{what} {shown(text)} has too many digits (at most 15 before "
                            "and 18 after the point)")
        raise DeckError(f"{what} {shown(text)} is not a decimal number")
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise DeckError(f"{what} {shown(text)} is not a decimal number") from None


def price_per_minute(value: Fraction, unit_s: int, what: str, text: str) -> None:
    """Refuse a price above the operator's maximum per minute (unit 0 = flat, no price)."""
    if unit_s and value * 60 / unit_s > Fraction(max_rate_per_minute()):
        raise DeckError(f"{what} {shown(text)} is above the maximum of "
                        f"{max_rate_per_minute()} per minute ({MAX_RATE_ENV})")


def fee(text: str, what: str) -> int:
    """A connect fee or max cost in micros, at most the operator's maximum per minute."""
    value = micros(text, what)
    if value > max_rate_per_minute() * 1_000_000:
        raise DeckError(f"{what} {shown(text)} is above the maximum of "
                        f"{max_rate_per_minute()} ({MAX_RATE_ENV})")
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
    if not re.fullmatch(r"[0-9]{1,12}", text):
        raise DeckError(f"{what} {shown(text)} is not a whole number of at most 12 digits")
    value = int(text)
    if value < low or (high is not None and value > high):
        top = "" if high is None else f"..{high}"
        raise DeckError(f"{what} {shown(text)} is out of range ({low}{top})")
    return value


def increment(text: str, what: str) -> int:
    """A billing increment in whole seconds, 1 to 86,400."""
    return integer(text, what, 1, MAX_INCREMENT_S)


def prefix(text: str, what: str = "prefix", *, words: bool = False) -> str:
    """Digits of a number prefix (a leading '+' is dropped); with `words`, also a CGRateS
    service word such as `voicemail`."""
    digits = text.removeprefix("+")
    if _DIGITS.fullmatch(digits) or (words and _WORD_PREFIX.fullmatch(text)):
        return digits
    raise DeckError(f"{what} {shown(text)} must be 1 to {MAX_PREFIX_DIGITS} digits")


_DURATION = re.compile(r"(?:([0-9]+(?:\.[0-9]+)?)h)?(?:([0-9]+(?:\.[0-9]+)?)m)?(?:([0-9]+(?:\.[0-9]+)?)s)?")


def duration(text: str, what: str) -> int:
    """Whole seconds from `60s`, `1m`, `1h30m`, `0`, or a plain count of units (`1`)."""
    if len(text) > 24:
        raise DeckError(f"{what} {shown(text)} is too long for a duration")
    if text.isascii() and text.isdigit():
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
    m = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?", text)
    if m is None or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3] or 0) > 59:
        raise DeckError(f"time {text!r} is not a time of day such as 08:00:00")
    return int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3] or 0)


def instant(text: str, what: str) -> datetime:
    """An RFC 3339 timestamp (naive = UTC) or a date (midnight UTC), as aware UTC."""
    if len(text) > 40 or not text.isascii():
        raise DeckError(f"{what} {shown(text)} is not a date or RFC 3339 time")
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise DeckError(f"{what} {text!r} is not a date or RFC 3339 time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise DeckError(f"{what} {shown(text)} is out of range") from None


def choice(text: str, what: str, mapping: dict[str, str]) -> str:
    if text not in mapping:
        raise DeckError(f"{what} {shown(text)} must be one of {', '.join(sorted(mapping))}")
    return mapping[text]


def identifier(text: str, what: str) -> str:
    if not text:
        raise DeckError(f"{what} is empty")
    if len(text) > MAX_CELL or not text.isprintable():
        raise DeckError(f"{what} {shown(text)} must be printable and at most {MAX_CELL} "
                        "characters")
    return text
