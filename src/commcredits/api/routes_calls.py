"""Call control for the switch: authorize, extend, end.

The switch asks before every call, so these three endpoints are served by a lean ASGI path
(`CallControlPath`, installed in front of the FastAPI app): the body is validated with the
same pydantic models the OpenAPI document shows (strict types, bounded strings), the request
is queued at the call desk and awaited on the event loop (no worker thread per request),
and the answer is encoded with orjson. The FastAPI routes below declare the contract and
serve the same handler when the app runs without the fast path.

Emergency calls are answered before anything else, from the callee alone: they are allowed
whatever else is wrong with the request (a bad token, a malformed field, an unknown
tenant) and when the database is unreachable. Any other call fails closed: when the
database is unreachable the answer is `503 unavailable` and the switch must deny it.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any, cast

import orjson
from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, field_validator
from sqlalchemy.exc import OperationalError

from ..errors import CommCreditsError, Unavailable
from ..errors import ValidationError as InvalidRequest
from ..services.calls import call_control
from ..services.calls.call_control import (
    AuthorizeRequest,
    CallAnswer,
    CallRequest,
    EndRequest,
    ExtendRequest,
    Settlement,
)
from ..services.runtime import Runtime
from ..services.usage.call_records import parse_instant, storable

router = APIRouter(prefix="/v1/calls", tags=["call control"])
log = logging.getLogger("commcredits.calls")
PROBLEM = b"application/problem+json"
MAX_BODY = 16_384
Text = Annotated[StrictStr, Field(max_length=200)]


def _clean(value: str | None) -> str | None:
    if value is not None and not storable(value):
        raise ValueError("must be text without NUL characters")
    return value


def _instant(value: str | None) -> str | None:
    if value is not None:
        try:
            parse_instant(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 time such as 2026-11-22T10:00:00Z") from None
    return value


class AuthorizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant_id: Annotated[StrictStr, Field(min_length=1, max_length=36)]
    call_id: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    call_type: Annotated[StrictStr, Field(max_length=24)]
    caller: Annotated[StrictStr, Field(max_length=32)] = ""
    callee: Annotated[StrictStr, Field(min_length=1, max_length=32)]
    user_id: Annotated[StrictStr, Field(max_length=36)] | None = None
    organizer_id: Annotated[StrictStr, Field(max_length=36)] | None = None
    started_at: Annotated[StrictStr, Field(max_length=40, description="ISO 8601, UTC; default now")] | None = None
    reserve: Annotated[StrictStr, Field(max_length=8, pattern="^full$",
                                        description='"full" to hold all affordable time at once')] | None = None

    _text = field_validator("tenant_id", "call_id", "call_type", "caller", "callee", "user_id",
                            "organizer_id")(_clean)
    _time = field_validator("started_at")(_instant)

    def request(self) -> AuthorizeRequest:
        return AuthorizeRequest(self.tenant_id, self.call_id, self.call_type, self.callee, self.caller, self.user_id,
                                self.organizer_id, parse_instant(self.started_at) if self.started_at else None,
                                self.reserve == "full")


class ExtendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reserve: Annotated[StrictStr, Field(max_length=8, pattern="^full$")] | None = None


class EndIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    duration_seconds: Annotated[StrictInt, Field(ge=0, le=7 * 86_400)]
    ended_at: Annotated[StrictStr, Field(max_length=40, description="ISO 8601, UTC")] | None = None

    _time = field_validator("ended_at")(_instant)


def _call_id(value: str) -> str:
    if not value or len(value) > 200 or not storable(value):
        raise InvalidRequest("the call id must be 1-200 characters of text")
    return value


async def _answer(rt: Runtime, bearer: str | None, request: CallRequest) -> CallAnswer | Settlement:
    try:
        return cast(CallAnswer | Settlement, await call_control.ask(rt, bearer, request))
    except OperationalError:
        raise Unavailable("the database is unreachable: deny the call (emergency calls are still allowed)") from None


async def authorize_raw(rt: Runtime, bearer: str | None, raw: bytes) -> CallAnswer | Settlement:
    """Authorize from the raw JSON body: emergency first, then the checked request."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _invalid("the body is not JSON") from None
    emergency = None
    if isinstance(data, dict) and isinstance(data.get("callee"), str) and isinstance(data.get("caller", ""), str):
        emergency = call_control.emergency_decision(str(data.get("call_id") or ""), data["callee"][:32],
                                                    data.get("caller", "")[:32])
    try:
        body = AuthorizeIn.model_validate(data)
        return await _answer(rt, bearer, body.request())
    except Exception:
        if emergency is not None:
            return emergency
        raise


async def extend_raw(rt: Runtime, bearer: str | None, call_id: str, raw: bytes) -> CallAnswer | Settlement:
    body = ExtendIn.model_validate_json(raw) if raw.strip() else ExtendIn()
    return await _answer(rt, bearer, ExtendRequest(_call_id(call_id), body.reserve == "full"))


async def end_raw(rt: Runtime, bearer: str | None, call_id: str, raw: bytes) -> CallAnswer | Settlement:
    body = EndIn.model_validate_json(raw)
    ended = parse_instant(body.ended_at) if body.ended_at else None
    return await _answer(rt, bearer, EndRequest(_call_id(call_id), body.duration_seconds, ended))


def _invalid(detail: str) -> CommCreditsError:
    return InvalidRequest(detail)


def _bearer(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def _problem(status: int, code: str, title: str, detail: str, **extra: Any) -> tuple[int, bytes, bytes]:
    body = {"type": f"https://commcredits.dev/problems/{code}", "title": title, "status": status,
            "detail": detail, "code": code, **extra}
    return status, orjson.dumps(body), PROBLEM


def _error(exc: Exception) -> tuple[int, bytes, bytes]:
    if isinstance(exc, ValidationError):
        errors = [{"field": ".".join(str(p) for p in e.get("loc", ())), "reason": e.get("msg")} for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors) or "invalid request"
        return _problem(422, "validation_error", "Invalid request", detail, errors=errors)
    if isinstance(exc, CommCreditsError):
        return _problem(exc.status, exc.code, exc.title, exc.detail, **exc.extra)
    raise exc


_PATH = re.compile(r"^/v1/calls/(?:(authorize)|([^/]+)/(extend|end))$")


async def handle(rt: Runtime, path: str, bearer: str | None, raw: bytes) -> tuple[int, bytes, bytes]:
    """(status, body, content type) for a call-control request."""
    match = _PATH.match(path)
    if match is None:
        return _problem(404, "not_found", "Not found", f"no such path {path}")
    try:
        if match.group(1):
            result = await authorize_raw(rt, bearer, raw)
        elif match.group(3) == "extend":
            result = await extend_raw(rt, bearer, match.group(2), raw)
        else:
            result = await end_raw(rt, bearer, match.group(2), raw)
    except Exception as exc:
        return _error(exc)
    return 200, orjson.dumps(result), b"application/json"


class CallControlPath:
    """ASGI: serve POST /v1/calls/* directly (`serves`), everything else through the wrapped app."""

    def __init__(self, app: Any, rt: Runtime) -> None:
        self.app, self.rt = app, rt

    @staticmethod
    def serves(scope: Any) -> bool:
        return bool(scope["type"] == "http" and scope["method"] == "POST"
                    and scope.get("path", "").startswith("/v1/calls/"))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not self.serves(scope):
            await self.app(scope, receive, send)
            return
        raw, bearer = b"", None
        for name, value in scope["headers"]:
            if name == b"authorization":
                bearer = _bearer(value.decode("latin-1"))
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if len(raw) > MAX_BODY:
                status, body, kind = _problem(413, "too_large", "Request too large", f"at most {MAX_BODY} bytes")
                break
            if not message.get("more_body"):
                try:
                    status, body, kind = await handle(self.rt, scope["path"], bearer, raw)
                except Exception as exc:  # a defect: still a problem+json answer, logged with its traceback
                    log.exception("call control failed")
                    status, body, kind = _problem(500, "internal", "Internal error", type(exc).__name__)
                break
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


# ---------------------------------------------------------------- the declared contract


def _respond(result: tuple[int, bytes, bytes]) -> Response:
    status, body, kind = result
    return Response(body, status_code=status, media_type=kind.decode())


@router.post("/authorize", response_model=dict[str, Any])
async def authorize(body: AuthorizeIn, request: Request,
                    authorization: Annotated[str | None, Header()] = None) -> Response:
    """Allow or deny a call before it is connected; hold money for its granted time."""
    rt = request.app.state.runtime
    return _respond(await handle(rt, "/v1/calls/authorize", _bearer(authorization), body.model_dump_json().encode()))


@router.post("/{call_id}/extend", response_model=dict[str, Any])
async def extend(call_id: str, request: Request, body: ExtendIn | None = None,
                 authorization: Annotated[str | None, Header()] = None) -> Response:
    """More time for a call in progress: the next chunk, or everything affordable."""
    raw = body.model_dump_json(exclude_none=True).encode() if body else b""
    return _respond(await handle(request.app.state.runtime, f"/v1/calls/{call_id}/extend", _bearer(authorization), raw))


@router.post("/{call_id}/end", response_model=dict[str, Any])
async def end(call_id: str, body: EndIn, request: Request,
              authorization: Annotated[str | None, Header()] = None) -> Response:
    """Settle a call: charge its real duration (idempotent on the call id), release the hold."""
    raw = body.model_dump_json(exclude_none=True).encode()
    return _respond(await handle(request.app.state.runtime, f"/v1/calls/{call_id}/end", _bearer(authorization), raw))
