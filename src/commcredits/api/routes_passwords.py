"""`PUT /v1/tenants/{tid}/users/{uid}/password`: the operator, or the user themself with
their own API token, sets the user's password for the web admin center."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from ..services.access import web_auth
from .deps import PrincipalDep, RuntimeDep

router = APIRouter()


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(max_length=web_auth.MAX_PASSWORD,
                          description=f"{web_auth.MIN_PASSWORD} to {web_auth.MAX_PASSWORD} characters")


@router.put("/v1/tenants/{tid}/users/{uid}/password", status_code=204, tags=["web login"])
def set_password(tid: str, uid: str, body: PasswordIn, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Set a user's web password (operator, or that user); ends the user's web sessions."""
    web_auth.set_password(rt, who, tid, uid, body.password)
    return Response(status_code=204)
