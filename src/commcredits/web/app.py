"""The admin center as an application of its own, mounted at /admin by `commcredits.app.create_app`.

Being a sub-application gives the pages their own error handling: a service error becomes
a page in plain words (never a stack trace, never problem+json), a missing session a
redirect to the login page, a user without an admin role the "no access" page. Every
response carries a strict Content-Security-Policy (no inline script or style), refuses
framing, and is not cached.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import CommCreditsError, Unauthenticated
from ..services.runtime import Runtime
from . import (
    routes_auth,
    routes_billing,
    routes_cards,
    routes_operator,
    routes_rates,
    routes_spend,
    routes_tenant,
    routes_transactions,
    routes_usage,
)
from .render import PREFIX, STATIC, page, sentence
from .session import CsrfRefused, LoginRequired, NoAccess, current_session, login_redirect_target, me
from .session import _tenant_page as tenant_page

log = logging.getLogger("commcredits.web")
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
TITLES = {401: "Please log in", 403: "You don't have access to this", 404: "Not found",
          409: "That cannot be done now", 422: "Some details are not right"}


def error_page(status: int, title: str, detail: str, request: Request | None = None) -> Response:
    context = _signed_in(request) if request is not None else {}
    return page("error.html", status, title=title, detail=sentence(detail), status=status, home=f"{PREFIX}/",
                **context)


def _signed_in(request: Request) -> dict[str, Any]:
    """The header and menu of a signed-in viewer, so an error page keeps them; {} otherwise."""
    try:
        session = current_session(request)
    except LoginRequired:
        return {}
    in_path = re.match(rf"^{PREFIX}/t/([^/]+)/", request.url.path)
    tid = in_path.group(1) if in_path else session.principal.tenant_id  # a tenant admin's own menu elsewhere
    if tid:
        try:
            context = tenant_page(request, tid, session).context("")
            return {k: context[k] for k in ("me", "t", "base", "can", "active")}
        except (CommCreditsError, NoAccess):
            pass
    return {"me": me(session)}


def install_handlers(web: FastAPI) -> None:
    @web.exception_handler(LoginRequired)
    async def _login(_: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(exc.next_path, status_code=303)

    @web.exception_handler(NoAccess)
    async def _no_access(_: Request, exc: NoAccess) -> Response:
        return page("no_access.html", 403, me=me(exc.session))

    @web.exception_handler(CsrfRefused)
    async def _csrf(_: Request, __: CsrfRefused) -> Response:
        return error_page(403, "The form could not be accepted",
                          "it did not carry this session's security token (it may have come from another site, "
                          "or your session changed). Reload the page and try again")

    @web.exception_handler(CommCreditsError)
    async def _service(request: Request, exc: CommCreditsError) -> Response:
        if isinstance(exc, Unauthenticated):
            return RedirectResponse(login_redirect_target(request), status_code=303)
        response = error_page(exc.status, TITLES.get(exc.status, exc.title), exc.detail, request)
        if "retry_after" in exc.extra:  # a busy export: the page says when, and so does the header
            response.headers["Retry-After"] = str(exc.extra["retry_after"])
        return response

    @web.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(str(e.get("loc", ("?",))[-1]) for e in exc.errors())
        return error_page(422, TITLES[422], f"these fields are missing or malformed: {fields}", request)

    @web.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = "there is no such page" if exc.status_code == 404 else str(exc.detail)
        return error_page(exc.status_code, TITLES.get(exc.status_code, "Request refused"), detail, request)

    @web.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.error("admin page failed", exc_info=exc)
        return error_page(500, "Something went wrong", "the page could not be shown because of an error on our "
                          "side. It has been logged; please try again in a moment", request)


def create_web_app(rt: Runtime) -> FastAPI:
    web = FastAPI(title="commcredits admin center", docs_url=None, redoc_url=None, openapi_url=None)
    web.state.runtime = rt
    install_handlers(web)

    @web.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith(f"{PREFIX}/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    for module in (routes_auth, routes_billing, routes_cards, routes_transactions, routes_usage, routes_tenant,
                   routes_operator, routes_rates, routes_spend):
        web.include_router(module.router)
    web.mount("/static", StaticFiles(directory=STATIC), name="static")
    return web
