"""Annotated dependency aliases shared by every router."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from ..services.access.principal import Principal, authenticate
from ..services.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_principal(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    bearer = None
    if authorization and authorization.lower().startswith("bearer "):
        bearer = authorization[7:].strip()
    return authenticate(get_runtime(request), bearer)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[str | None, Query(max_length=200)]
Period = Annotated[str | None, Query(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="a month, YYYY-MM")]
