"""Validating incoming call records (from `POST /v1/cdrs`, files and the switch).

A record that cannot be charged is rejected with a stable reason and never stops the rest of
its batch. Field names follow API.md: id, tenant_id, call_type, caller, callee, started_at,
duration_seconds, user_id?, organizer_id?, call_id?, conference_id?.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..domain.funding import CALL_TYPES

MAX_DURATION_S = 7 * 86_400
# a call record starts in a year every time zone and database can hold
EARLIEST, LATEST = datetime(1970, 1, 2, tzinfo=UTC), datetime(9998, 12, 31, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CallRecord:
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
            raise ValueError(f"missing_field:{key} is required")
        return None
    if type(value) is str:  # the common case, checked first: files and JSON carry strings
        text = value.strip()
    elif isinstance(value, str | int):
        text = str(value).strip()
    else:
        raise ValueError(f"invalid_field:{key} must be a string")
    if len(text) > limit:
        raise ValueError(f"invalid_field:{key} is longer than {limit} characters")
    if not storable(text):
        raise ValueError(f"invalid_field:{key} is not valid text (NUL or a lone surrogate)")
    return text


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
        raise ValueError(f"invalid_time:started_at {value!r} is out of range")
    return instant


def parse_instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        instant = value
    else:
        try:
            text = value.strip() if type(value) is str else str(value).strip()
            instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"invalid_time:started_at {value!r} is not an ISO 8601 time") from None
    if instant.tzinfo is None:
        raise ValueError(f"invalid_time:started_at {value!r} has no time zone (add Z for UTC)")
    return instant.astimezone(UTC)


def parse_duration(value: Any) -> int:
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError("missing_field:duration_seconds is required")
    try:
        seconds = int(value.strip() if type(value) is str else str(value).strip())
    except ValueError:
        raise ValueError(f"invalid_duration:duration_seconds {value!r} is not a whole number") from None
    if seconds < 0:
        raise ValueError(f"negative_duration:duration_seconds {seconds} is negative")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"invalid_duration:duration_seconds {seconds} is longer than a week")
    return seconds


def parse_record(raw: Mapping[str, Any]) -> CallRecord | Rejected:
    """Check a record's shape; the tenant-dependent checks come when it is charged."""
    record_id = str(raw.get("id") or "").strip()
    if not record_id:
        return Rejected("", "missing_field", "id is required")
    if len(record_id) > 100:
        return Rejected(record_id[:100], "invalid_field", "id is longer than 100 characters")
    if not storable(record_id):
        shown = record_id.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
        return Rejected(shown, "invalid_field", "id is not valid text (NUL or a lone surrogate)")
    try:
        call_type = _text(raw, "call_type", required=True) or ""
        if call_type not in CALL_TYPES:
            raise ValueError(f"invalid_call_type:call_type {call_type!r} is not one of {', '.join(CALL_TYPES)}")
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
    except ValueError as exc:
        code, _, detail = str(exc).partition(":")
        return Rejected(record_id, code, detail)
