"""Call control for the switch: authorize, extend, end.

Emergency calls are answered before any database access, so an unreachable database never
blocks them (the switch should also route emergency numbers without asking, as a second
line). Any other call fails closed: when the database is unreachable the answer is
`503 unavailable` and the switch must deny it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import OperationalError

from ..errors import CommCreditsError
from ..services import call_control
from ..services.principal import authenticate
from .deps import PrincipalDep, RuntimeDep, get_runtime

router = APIRouter(prefix="/v1/calls", tags=["call control"])


class Unavailable(CommCreditsError):
    status, code, title = 503, "unavailable", "Service unavailable"


class AuthorizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant_id: str = Field(max_length=36)
    call_id: str = Field(min_length=1, max_length=200)
    call_type: str
    caller: str = Field(default="", max_length=32)
    callee: str = Field(min_length=1, max_length=32)
    user_id: str | None = None
    organizer_id: str | None = None
    started_at: str | None = None
    reserve: str | None = Field(default=None, description='"full" to hold all affordable time at once')


class ExtendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reserve: str | None = None


class EndIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    duration_seconds: int = Field(ge=0, le=7 * 86_400)
    ended_at: str | None = None


@router.post("/authorize")
def authorize(body: AuthorizeIn, request: Request,
              authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    rt = get_runtime(request)
    emergency = call_control.emergency_decision(body.call_id, body.callee, body.caller)
    try:
        bearer = authorization[7:].strip() if authorization and authorization.lower().startswith("bearer ") else None
        who = authenticate(rt, bearer)
        return call_control.authorize(rt, who, body.model_dump())
    except OperationalError:
        if emergency is not None:
            return emergency
        raise Unavailable("the database is unreachable: deny the call (emergency calls are still allowed)") from None
    except CommCreditsError:
        if emergency is not None and body.callee.strip() in call_control.EMERGENCY_EVERYWHERE:
            return emergency
        raise


@router.post("/{call_id}/extend")
def extend(call_id: str, rt: RuntimeDep, who: PrincipalDep, body: ExtendIn | None = None) -> dict[str, Any]:
    return call_control.extend(rt, who, call_id, reserve=body.reserve if body else None)


@router.post("/{call_id}/end")
def end(call_id: str, body: EndIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    return call_control.end(rt, who, call_id, duration_seconds=body.duration_seconds, ended_at=body.ended_at)
