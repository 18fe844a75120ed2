"""`PUT /v1/tenants/{tid}/users/{uid}/password`: the operator, or the user themself with
their own API token, sets the user's password for the web admin center. Also the bare
site root, which sends a browser to the admin pages."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from ..api.deps import PrincipalDep, RuntimeDep
from ..services.access import web_auth
from .render import PREFIX

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


@router.get("/", include_in_schema=False)
def root() -> Response:
    return RedirectResponse(f"{PREFIX}/", status_code=307)
