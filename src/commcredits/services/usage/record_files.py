"""Reading call-record files line by line: every physical line is accounted for.

The unit of a file is its physical line (ended by `\\n`). Each one ends as exactly one of:
the CSV header, a blank line, or a record, checked (`call_records`) or rejected with its
line number here. Nothing read here can make a line vanish or stop the run:

- a line is read with a bound (`MAX_LINE_BYTES`, line end included); a longer one is
  rejected and skipped to its end in small chunks, never held whole (a 10 MB line without a
  newline costs 64 KiB of memory);
- **CSV**: each line is parsed on its own by the csv module in strict mode, so a quoted
  field cannot span lines: a line with an odd number of `"` (an unclosed quoted field, or
  the rest of one from the line before) is a reject of that line alone (before, it
  swallowed the lines after it). A plain line (ASCII, no quote, no control character) is
  split at its commas, which is what the csv module does with it, and checked by
  `record_from_clean_row`; anything else, or a record that fails a check, takes the csv
  module and `record_from_text` for its exact reject. A header with the wrong fields is
  unusable input (`ValidationError`: the whole file is refused before anything is charged);
- **JSON Lines**: bytes that are not UTF-8, invalid JSON, numbers with too many digits and
  nesting too deep for the parser (`RecursionError`) are rejects of their line; a JSON value
  other than an object too. The line bound also bounds what a nested line can cost.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from ...errors import ValidationError
from .call_records import CallRecord, Rejected, parse_record, record_from_clean_row, record_from_text, shown_id

FORMATS = ("csv", "jsonl")
FIELDS = ("id", "tenant_id", "call_type", "caller", "callee", "started_at", "duration_seconds",
          "user_id", "organizer_id", "call_id", "conference_id")
MAX_LINE_BYTES = 65_536  # a record is a few hundred bytes; anything near this is not one
_SKIP_CHUNK = 65_536
Parsed = tuple[int, CallRecord | Rejected]  # (1-based line number, the record or why not)


@dataclass
class LineCount:
    """Lines read so far, by kind; records are counted by the ingest, by outcome."""

    lines: int = 0
    header: int = 0
    blank: int = 0
    bytes: int = 0


class Lines:
    """The physical lines of a binary stream with their numbers; an over-long line comes as
    None after being skipped to its end."""

    def __init__(self, stream: IO[bytes], limit: int = MAX_LINE_BYTES) -> None:
        self.stream, self.limit, self.count = stream, limit, LineCount()

    def __iter__(self) -> Iterator[tuple[int, bytes | None]]:
        read, count = self.stream.readline, self.count
        while chunk := read(self.limit + 1):
            count.lines += 1
            count.bytes += len(chunk)
            if len(chunk) <= self.limit:
                yield count.lines, chunk
                continue
            while not chunk.endswith(b"\n") and (chunk := read(_SKIP_CHUNK)):
                count.bytes += len(chunk)
            yield count.lines, None


def check_format(format_: str) -> str:
    if format_ not in FORMATS:
        raise ValidationError(f"unknown format {format_!r}: use {' or '.join(FORMATS)}")
    return format_


def read_records(lines: Lines, format_: str) -> Iterator[Parsed]:
    """The records of a file (or why not), with line numbers; header and blank lines are
    counted in `lines.count`, not yielded."""
    if check_format(format_) == "jsonl":
        return _jsonl(lines)
    return _csv(lines)


def _malformed(detail: str, record_id: str = "") -> Rejected:
    return Rejected(record_id, "malformed", detail)


def _too_long(limit: int) -> Rejected:
    return _malformed(f"the line is longer than {limit:,} bytes")


def _jsonl(lines: Lines) -> Iterator[Parsed]:
    for number, raw in lines:
        if raw is None:
            yield number, _too_long(lines.limit)
        elif not raw.strip():
            lines.count.blank += 1
        else:
            yield number, json_record(raw)


def json_record(raw: bytes) -> CallRecord | Rejected:
    """One JSON Lines line as a checked record or a reject; never raises."""
    try:
        value = json.loads(raw)
    except RecursionError:
        return _malformed("the JSON is nested too deeply")
    except UnicodeDecodeError:
        return _malformed("the line is not UTF-8 text")
    except ValueError as exc:  # JSONDecodeError, or an integer of more than 4,300 digits
        return _malformed(f"not a JSON object: {str(exc)[:200]}")
    if not isinstance(value, dict):
        return _malformed(f"not a JSON object but {type(value).__name__}")
    return parse_record(value)


def _csv(lines: Lines) -> Iterator[Parsed]:
    rows = iter(lines)
    first = next(rows, None)
    if first is None:
        return
    columns = _header(first[1], lines.limit)
    lines.count.header += 1
    where_id, width = columns.index("id"), len(columns)
    spots = tuple(columns.index(f) if f in columns else None for f in FIELDS)
    for number, raw in rows:
        if raw is None:
            yield number, _too_long(lines.limit)
        elif raw[:1].isspace() and not raw.strip():  # a line starting with a non-space is not blank
            lines.count.blank += 1
        else:
            line = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1] if raw.endswith(b"\n") else raw
            # a plain line (ASCII, no quote, no control character) is its cells split at commas;
            # ASCII text is printable exactly when it holds no control character (\x00-\x1f, \x7f)
            if raw.isascii() and b'"' not in line and (text := line.decode("ascii")).isprintable():
                row = text.split(",")
                if len(row) == width and (record := record_from_clean_row(row, spots)) is not None:
                    yield number, record
                    continue
            yield number, csv_record(raw, columns, where_id)


def _header(raw: bytes | None, limit: int) -> list[str]:
    try:
        if raw is None:
            raise ValueError(f"it is longer than {limit:,} bytes")
        cells = _cells(raw.decode("utf-8-sig"))
    except (ValueError, csv.Error) as exc:  # UnicodeDecodeError is a ValueError
        raise ValidationError(f"the CSV header (line 1) is unreadable: {exc}") from None
    columns = [c.strip() for c in cells]
    unknown = [c for c in columns if c not in FIELDS]
    if unknown or "id" not in columns or len(set(columns)) != len(columns):
        shown = ", ".join(columns)[:300]
        raise ValidationError(f"the CSV header must name record fields ({', '.join(FIELDS)}) once each, "
                              f"id among them; got {shown}")
    return columns


def _cells(text: str) -> list[str]:
    """The cells of one line; csv.Error when a quote is not closed on the line."""
    line = text[:-1] if text.endswith("\n") else text
    line = line[:-1] if line.endswith("\r") else line
    return next(csv.reader((line,), strict=True), [])


def csv_record(raw: bytes, columns: list[str], where_id: int) -> CallRecord | Rejected:
    """One CSV line (not the header) as a checked record or a reject; never raises."""
    if raw.count(b'"') % 2:  # closed quoted fields and "" escapes come in pairs on a line
        return _malformed("unbalanced quote: a quoted field must end on its own line")
    try:
        row = _cells(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return _malformed("the line is not UTF-8 text")
    except csv.Error as exc:
        return _malformed(f"unreadable CSV: {exc} (a quoted field must end on its own line)")
    if len(row) != len(columns):
        rid = shown_id(row[where_id].strip()) if where_id < len(row) else ""
        return _malformed(f"expected {len(columns)} columns, found {len(row)}", rid)
    return record_from_text(dict(zip(columns, row, strict=True)))
