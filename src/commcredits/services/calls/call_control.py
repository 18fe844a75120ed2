"""Real-time call control for the switch: authorize, extend, end (settle), expire.

`authorize` decides allow/deny with the funding source and `max_seconds` and, for a
credit-funded call, holds money for the granted time (a reservation), so concurrent calls
share the available balance. `end` charges the real duration through the same charging
core as call records (the call id is the record id) and releases the hold, in ONE
transaction. Every call is described once by the call descriptor
(`domain/call_descriptor.py`), so authorize, extend, end and call records agree on who pays.

All three, and the call records the switch posts (`POST /v1/cdrs`), go through the call
desk (`call_desk.py`): requests queue, and a batch of them is decided and committed in one
transaction before any of them is answered (group commit); the decisions are in
`call_batch.py`. They are idempotent on the call id: authorize again
answers the first answer; end again with the same duration answers the first settlement,
with another duration `409 end_conflict`. A hold the switch never settles expires
(`expire_reservations`, run by the jobs).

Emergency calls are decided before anything else, from the callee alone
(`emergency_decision`): they are allowed whatever else is wrong with the request, and
also when the database is unreachable. Everything else fails closed: when the database
cannot be reached the API answers 503 and the switch must deny the call.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NotRequired, TypedDict, cast, overload

from ...db import reservations as res_db
from ...db import tenants as tenant_db
from ...db.engine import read_tx, unit_of_work
from ...domain.numbers import InvalidNumber, is_emergency, parse_number
from ..runtime import Runtime
from ..usage.call_records import CallRecord, Rejected
from ..usage.charging import Outcome
from .call_desk import Job, desk_of

EMERGENCY_EVERYWHERE = frozenset({"911", "112", "999", "000", "110", "119", "118", "100", "101", "102", "108"})


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    tenant_id: str
    call_id: str
    call_type: str
    callee: str
    caller: str = ""
    user_id: str | None = None
    organizer_id: str | None = None
    started_at: datetime | None = None
    reserve_full: bool = False


@dataclass(frozen=True, slots=True)
class ExtendRequest:
    call_id: str
    reserve_full: bool = False


@dataclass(frozen=True, slots=True)
class EndRequest:
    call_id: str
    duration_seconds: int
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RecordsRequest:
    """Call records to charge (`POST /v1/cdrs`), checked already; the caller is authorized by
    the API (a switch token bound to one tenant passes `only_tenant`)."""

    records: Sequence[CallRecord | Rejected]
    only_tenant: str | None = None


class HeldFunds(TypedDict):
    """The money an allowed call holds: the reservation as the switch sees it."""

    id: str
    amount: str
    expires_at: str


class CallAnswer(TypedDict):
    """The answer to an authorize or an extend (API.md "Call control"). It is a document, not
    an object: stored verbatim with the reservation and replayed byte for byte to a retry,
    and the switch reads it as JSON; the type names its fields."""

    call_id: str
    decision: str  # allow | deny
    reason: str
    max_seconds: int | None
    funding: str | None
    reservation: HeldFunds | None
    currency: str | None


class Settlement(TypedDict):
    """The answer to an end: the call's charge (as a record's outcome) and the hold released,
    stored with the reservation and replayed to a repeated end."""

    call_id: str
    duration_seconds: int
    status: str
    charge: str | None
    funding: str | None
    released: str
    currency: NotRequired[str | None]
    capability: NotRequired[str | None]
    pool_minutes: NotRequired[int]
    error: NotRequired[str]


def stored_answer(text: str) -> CallAnswer:
    """An answer as stored with its reservation."""
    return cast(CallAnswer, json.loads(text))


def stored_settlement(text: str) -> Settlement:
    """A settlement as stored with its reservation."""
    return cast(Settlement, json.loads(text))


CallRequest = AuthorizeRequest | ExtendRequest | EndRequest  # answered with the switch's JSON answer
Request = CallRequest | RecordsRequest  # records are answered with one charging outcome each
_KINDS = {AuthorizeRequest: "authorize", ExtendRequest: "extend", EndRequest: "end", RecordsRequest: "records"}


@overload
def submit(rt: Runtime, bearer: str | None, request: RecordsRequest) -> Future[list[Outcome]]: ...
@overload
def submit(rt: Runtime, bearer: str | None, request: EndRequest) -> Future[Settlement]: ...
@overload
def submit(rt: Runtime, bearer: str | None, request: AuthorizeRequest | ExtendRequest) -> Future[CallAnswer]: ...
def submit(rt: Runtime, bearer: str | None, request: Request) -> Future[Any]:
    """Queue a request at the desk; the future carries its answer once its batch committed
    (or the CommCreditsError that refuses it)."""
    from .call_batch import handle_batch

    desk = desk_of(rt, lambda conn, jobs: handle_batch(rt, conn, jobs))
    return desk.submit(Job(_KINDS[type(request)], bearer, request))


async def ask(rt: Runtime, bearer: str | None, request: Request) -> Any:
    """`submit` for the event loop: the answer from this process's desk thread, or from the
    desk's own process with `COMMCREDITS_CALL_DESK=process` (`desk_process.py`)."""
    if rt.settings.call_desk == "process":
        from . import desk_process

        return await desk_process.ask(rt, _KINDS[type(request)], bearer, request)
    return await asyncio.wrap_future(submit(rt, bearer, request))


def call(rt: Runtime, bearer: str | None, request: CallRequest, timeout: float = 30) -> CallAnswer | Settlement:
    """`submit` and wait (for synchronous callers: the CLI, scripts)."""
    answer: Future[Any] = submit(rt, bearer, request)
    return cast(CallAnswer | Settlement, answer.result(timeout))


def emergency_decision(call_id: str, callee: str, caller: str) -> CallAnswer | None:
    """Allow an emergency call without the database (callee checked against the caller's
    country's short codes, else against the codes used almost everywhere)."""
    region = None
    try:
        region = parse_number(caller).country if caller.startswith("+") else None
    except InvalidNumber:
        region = None
    digits = callee.strip()
    if (region and is_emergency(digits, region)) or digits in EMERGENCY_EVERYWHERE:
        return answer(call_id, "allow", "emergency", None, "free", None, None)
    return None


def answer(call_id: str, decision: str, reason: str, max_seconds: int | None, funding: str | None,
           reservation: HeldFunds | None, currency: str | None) -> CallAnswer:
    return {"call_id": call_id, "decision": decision, "reason": reason, "max_seconds": max_seconds,
            "funding": funding, "reservation": reservation, "currency": currency}


def expire_reservations(rt: Runtime, now: datetime) -> int:
    """Release holds the switch never settled (job)."""
    done = 0
    with read_tx(rt.engine) as conn:
        due = res_db.due(conn, now)
    for row in due:
        for tx in unit_of_work(rt.engine):
            with tx as conn:
                tenant_db.lock(conn, row["tenant_id"])
                current = res_db.get(conn, row["call_id"])
                expired = bool(current and current["status"] == "active" and current["expires_at"] <= now)
                if current and expired:
                    res_db.release(conn, current, status="expired", now=now)
        done += expired  # counted once the release committed (a try may run again)
    return done
