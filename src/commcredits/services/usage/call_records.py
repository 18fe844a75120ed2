"""Validating incoming call records (from `POST /v1/cdrs`, files and the switch).

A record that cannot be charged is rejected with a stable reason and never stops the rest of
its batch. Field names follow API.md: id, tenant_id, call_type, caller, callee, started_at,
duration_seconds, user_id?, organizer_id?, call_id?, conference_id?.

Types are strict: `parse_record` takes a record as JSON carries it (the API, JSON Lines):
text fields and the id are JSON strings, `duration_seconds` a JSON integer (not `"60"`, not
`60.0`, not `true`), `started_at` an ISO 8601 string (internal callers may pass a datetime).
Every text is bounded in length and must be storable by every database (no NUL, no lone
surrogate); ids also refuse control characters. A CSV row is text by nature:
`record_from_text` converts its cells explicitly (a whole number of ASCII digits for the
duration) and then applies the same checks. `record_from_clean_row` is the same for a row
of a line already known to be ASCII without control characters (most of a switch's file):
it builds the record when every check passes and otherwise answers None, so the line takes
the full path and gets its exact reject (a test compares the two on generated rows).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from ...domain.funding import CALL_TYPES
from ...errors import RecordRejected

MAX_DURATION_S = 7 * 86_400
MAX_ID = 100  # characters of a record id
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,12}")  # a duration as CSV text: ASCII digits only (no "1_000", no "٣")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# a call record starts in a year every time zone and database can hold
EARLIEST, LATEST = datetime(1970, 1, 2, tzinfo=UTC), datetime(9998, 12, 31, tzinfo=UTC)


class CallRecord(NamedTuple):
    """A checked record. A named tuple rather than a frozen dataclass: every record of a file
    makes one, and a frozen dataclass pays an `object.__setattr__` per field (2.7 µs for
    these eleven against 0.2 µs, measured on the bench machine; `domain/rating/result.py`
    made the same choice for `RatedCall`)."""

    id: str
    tenant_id: str
    call_type: str
    caller: str
    callee: str
    started_at: datetime
    duration_s: int
    user_id: str | None = None
    organizer_id: str | None = None
    call_id: str | None = None
    conference_id: str | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    id: str
    code: str
    detail: str


def _text(raw: Mapping[str, Any], key: str, *, required: bool, limit: int = 200) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise RecordRejected("missing_field", f"{key} is required")
        return None
    if type(value) is not str:  # strict: a JSON number, object or list is not text
        raise RecordRejected("invalid_field", f"{key} must be a string, not {_json_type(value)}")
    text = value.strip()
    if len(text) > limit:
        raise RecordRejected("invalid_field", f"{key} is longer than {limit} characters")
    if not storable(text):
        raise RecordRejected("invalid_field", f"{key} is not valid text (NUL or a lone surrogate)")
    return text


def _json_type(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    names: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}
    return names.get(type(value), type(value).__name__)


def storable(text: str) -> bool:
    """Whether every database can store `text`: no NUL (PostgreSQL refuses it) and no lone
    surrogate (from a JSON "\\ud800" escape: not encodable as UTF-8)."""
    if text.isascii():
        return "\x00" not in text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _call_start(value: Any) -> datetime:
    instant = parse_instant(value)
    if not EARLIEST <= instant <= LATEST:
        raise RecordRejected("invalid_time", f"started_at {value!r} is out of range")
    return instant


def parse_instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        instant = value
    elif type(value) is not str:
        raise RecordRejected("invalid_time", f"started_at must be an ISO 8601 string, not {_json_type(value)}")
    elif len(value) > 64:
        raise RecordRejected("invalid_time", "started_at is longer than 64 characters")
    else:
        try:
            instant = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise RecordRejected("invalid_time", f"started_at {value!r} is not an ISO 8601 time") from None
    if instant.tzinfo is None:
        raise RecordRejected("invalid_time", f"started_at {value!r} has no time zone (add Z for UTC)")
    try:
        return instant.astimezone(UTC)
    except OverflowError:  # "0001-01-01T00:00:00+01:00" is before the first instant a datetime holds
        raise RecordRejected("invalid_time", f"started_at {value!r} is out of range") from None


def parse_duration(value: Any) -> int:
    if value is None or value == "":
        raise RecordRejected("missing_field", "duration_seconds is required")
    if type(value) is not int:  # strict: not "60", 60.0 or true
        raise RecordRejected("invalid_duration", f"duration_seconds must be a whole number, not {_json_type(value)}")
    if value < 0:
        raise RecordRejected("negative_duration", "duration_seconds is negative" if value < -MAX_DURATION_S
                             else f"duration_seconds {value} is negative")
    if value > MAX_DURATION_S:
        raise RecordRejected("invalid_duration", f"duration_seconds is longer than a week ({MAX_DURATION_S})")
    return value


def parse_record(raw: Mapping[str, Any]) -> CallRecord | Rejected:
    """Check a record's shape; the tenant-dependent checks come when it is charged."""
    record_id = _record_id(raw.get("id"))
    if isinstance(record_id, Rejected):
        return record_id
    try:
        call_type = _text(raw, "call_type", required=True) or ""
        if call_type not in CALL_TYPES:
            raise RecordRejected("invalid_call_type", f"call_type {call_type!r} is not one of {', '.join(CALL_TYPES)}")
        return CallRecord(
            id=record_id, tenant_id=_text(raw, "tenant_id", required=True, limit=36) or "",
            call_type=call_type, caller=_text(raw, "caller", required=False, limit=32) or "",
            callee=_text(raw, "callee", required=True, limit=32) or "",
            started_at=_call_start(raw.get("started_at")),
            duration_s=parse_duration(raw.get("duration_seconds")),
            user_id=_text(raw, "user_id", required=False, limit=36),
            organizer_id=_text(raw, "organizer_id", required=False, limit=36),
            call_id=_text(raw, "call_id", required=False), conference_id=_text(raw, "conference_id", required=False),
        )
    except RecordRejected as exc:  # the one place a record's reason is read
        return Rejected(record_id, exc.code, exc.detail)


def _record_id(value: Any) -> str | Rejected:
    """The record id (the idempotency key): a JSON string of 1..100 printable characters."""
    if value is None or value == "":
        return Rejected("", "missing_field", "id is required")
    if type(value) is not str:
        return Rejected("", "invalid_field", f"id must be a string, not {_json_type(value)}")
    record_id = value.strip()
    if not record_id:
        return Rejected("", "missing_field", "id is required")
    if len(record_id) > MAX_ID:
        return Rejected(shown_id(record_id), "invalid_field", f"id is longer than {MAX_ID} characters")
    if not storable(record_id) or _CONTROL.search(record_id):
        return Rejected(shown_id(record_id), "invalid_field",
                        "id is not valid text (NUL, a control character or a lone surrogate)")
    return record_id


def shown_id(text: str) -> str:
    """An id as a reject may show it: at most 100 characters, NUL, control characters and
    lone surrogates escaped, so any file or database can hold it."""
    text = text[:MAX_ID].encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def record_from_text(cells: Mapping[str, str]) -> CallRecord | Rejected:
    """A record from text cells (a CSV row): empty cells are missing values and the duration
    must be a whole number in ASCII digits; then the checks of `parse_record`."""
    fields: dict[str, Any] = {k: v for k, v in cells.items() if v != ""}
    duration = fields.get("duration_seconds")
    if duration is not None:
        text = duration.strip()
        if not _WHOLE_NUMBER.fullmatch(text):
            record_id = _record_id(fields.get("id"))
            shown = record_id.id if isinstance(record_id, Rejected) else record_id
            return Rejected(shown, "invalid_duration",
                            f"duration_seconds {text[:20]!r} is not a whole number of seconds")
        fields["duration_seconds"] = int(text)
    return parse_record(fields)


# positions of the record fields (FIELDS order) in a CSV row; None for a column not in the file
Spots = tuple[int | None, ...]
_OPTIONAL = ((7, 36), (8, 36), (9, 200), (10, 200))  # user_id, organizer_id, call_id, conference_id
_new = tuple.__new__  # builds the named tuple without its Python-level __new__ (all eleven fields given)


def record_from_clean_row(row: list[str], spots: Spots) -> CallRecord | None:
    """`record_from_text` for a row whose line is ASCII without control characters (so
    every cell is storable text and no id holds a control character): the record when
    every check passes, else None (the row then takes `record_from_text` for its reject)."""
    i_id, i_tenant, i_type, i_caller, i_callee, i_start, i_duration = spots[:7]
    if i_id is None or i_tenant is None or i_type is None or i_callee is None or i_start is None \
            or i_duration is None:
        return None
    record_id, tenant_id, call_type = row[i_id].strip(), row[i_tenant].strip(), row[i_type].strip()
    callee, started, duration = row[i_callee].strip(), row[i_start], row[i_duration].strip()
    caller = row[i_caller].strip() if i_caller is not None else ""
    if not (record_id and tenant_id and callee and started and duration) or len(record_id) > MAX_ID \
            or len(tenant_id) > 36 or len(callee) > 32 or len(caller) > 32 or call_type not in CALL_TYPES \
            or len(started) > 64 or not (duration.isascii() and duration.isdigit() and len(duration) <= 12):
        return None
    seconds = int(duration)  # 1-12 ASCII digits: what _WHOLE_NUMBER accepts, less a sign that would be refused
    if seconds > MAX_DURATION_S:
        return None
    try:
        instant = datetime.fromisoformat(started.strip().replace("Z", "+00:00"))
        if instant.tzinfo is None:
            return None
        instant = instant.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    if not EARLIEST <= instant <= LATEST:
        return None
    optional: list[str | None] = []
    for field_no, limit in _OPTIONAL:
        at = spots[field_no]
        value = row[at] if at is not None else ""
        if value == "":
            optional.append(None)
        elif len(value := value.strip()) > limit:
            return None
        else:
            optional.append(value)
    return _new(CallRecord, (record_id, tenant_id, call_type, caller, callee, instant, seconds, *optional))
