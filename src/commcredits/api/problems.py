"""The one place errors become HTTP: application/problem+json with a stable `code`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import CommCreditsError
from ..views.problems import problem_body
from .problem_docs import RefuseNul, allowed_methods, install_openapi

PROBLEM = "application/problem+json"


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse(problem_body(status, code, title, detail, **extra), status_code=status, media_type=PROBLEM)


def install(app: FastAPI) -> None:
    install_openapi(app)
    app.add_middleware(RefuseNul)

    @app.exception_handler(CommCreditsError)
    async def _domain(_: Request, exc: CommCreditsError) -> JSONResponse:
        response = problem(exc.status, exc.code, exc.title, exc.detail, **exc.extra)
        if "retry_after" in exc.extra:  # 429 and 503 say when to come back (RFC 9110)
            response.headers["Retry-After"] = str(exc.extra["retry_after"])
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "reason": e.get("msg")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors) or "invalid request"
        return problem(422, "validation_error", "Invalid request", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
        code = codes.get(exc.status_code, "http_error")
        response = problem(exc.status_code, code, str(exc.detail), str(exc.detail))
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            response.headers["Allow"] = allowed_methods(app, request.url.path) or response.headers.get("Allow", "")
        return response
