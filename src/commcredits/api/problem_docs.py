"""What the OpenAPI document says about errors, and the one check made before any route.

Every operation declares the problem+json answers it can give (401, 403, 404, 409, 422 and
any other 4xx/5xx it names itself) with one shared `Problem` schema, replacing FastAPI's
default 422 body, which this service never sends (`problems.install` maps validation errors
to problem+json). Clients and the schema fuzzer (tests/api/test_schemathesis.py) can then
check every error against the document.

`RefuseNul` answers 422 for a URL carrying a NUL character before any route runs: PostgreSQL
refuses NUL in text, so a path or query parameter holding one would otherwise reach the
database as a server error. Bodies are checked field by field (`schemas.Storable`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

PROBLEM_MEDIA = "application/problem+json"
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details with a stable `code` (API.md lists them)",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
    },
    "additionalProperties": True,
}
COMMON = {
    "401": "No token, or an unknown or revoked one (`unauthenticated`)",
    "403": "The token's roles or kind do not allow this (`forbidden` and more specific codes)",
    "404": "No such resource, or another tenant's (`not_found`)",
    "409": "The request conflicts with the current state (`conflict`, `idempotency_conflict`, ...)",
    "422": "The request is not valid (`validation_error` and more specific codes)",
}
_REF = {"$ref": "#/components/schemas/Problem"}
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in COMMON.items():
                responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if status[:1] in ("4", "5"):
                    response["content"] = {PROBLEM_MEDIA: {"schema": _REF}}
    schemas = schema["components"]["schemas"]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return schema


def install_openapi(app: FastAPI) -> None:
    """Post-process FastAPI's generated document (idempotent, so caching is harmless)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        return _document_problems(generate())

    app.openapi = openapi  # type: ignore[method-assign]


def allowed_methods(app: FastAPI, path: str) -> str:
    """Every method some route answers on `path`, for the Allow header of a 405 (Starlette
    names only the methods of the first route that matched the path)."""
    try:
        from fastapi.routing import iter_route_contexts

        routes: list[Any] = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - FastAPI before lazy routers
        routes = list(app.routes)
    methods: set[str] = set()
    for route in routes:
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            methods.update(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


class RefuseNul:
    """ASGI middleware: a URL whose path or query holds NUL is a 422 problem, never a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and ("\x00" in scope["path"] or b"%00" in scope.get("query_string", b"")):
            from .problems import problem

            response = problem(422, "validation_error", "Invalid request", "the URL must not contain NUL characters")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
