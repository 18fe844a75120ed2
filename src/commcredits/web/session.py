"""The web pages' dependencies: the login session from its cookie, the CSRF check of every
form POST, and the tenant a page is about with what the viewer may do there.

CSRF: every form carries the session's token in a hidden `csrf_token` field, and a POST
whose token is missing or wrong is refused (403), as is one whose `Origin` is another site.
The login form, which has no session yet, uses a double-submit cookie instead. The session
cookie itself is HttpOnly, SameSite=Lax, scoped to the admin pages, and Secure when the
page is served over https (or the public URL is https).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Form, Request
from fastapi.responses import Response

from ..db.tenants import Tenant
from ..domain.access import MANAGE_BILLING, MANAGE_USERS, is_admin, permits
from ..errors import NotFound
from ..services.access import tenants as tenant_svc
from ..services.access import web_auth
from ..services.access.web_auth import WebSession
from ..services.runtime import Runtime
from .render import PREFIX

SESSION_COOKIE = "cc_session"
LOGIN_COOKIE = "cc_login_csrf"


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class NoAccess(Exception):
    """A tenant user without any admin role: the pages show nothing of billing."""

    def __init__(self, session: WebSession) -> None:
        super().__init__("no admin role")
        self.session = session


class CsrfRefused(Exception):
    pass


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def safe_next(path: str | None) -> str:
    """Only a path inside the admin pages may follow a login (no open redirect)."""
    if path and path.startswith(PREFIX + "/") and not path.startswith("//") and "\\" not in path:
        return path
    return PREFIX + "/"


def login_redirect_target(request: Request) -> str:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{PREFIX}/login?next={quote(path, safe='')}"


def current_session(request: Request) -> WebSession:
    session = web_auth.resolve(get_runtime(request), request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise LoginRequired(login_redirect_target(request))
    return session


def same_origin(request: Request) -> bool:
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if not origin:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


def checked_session(request: Request, csrf_token: Annotated[str, Form()] = "") -> WebSession:
    """The session of a form POST whose CSRF token is right."""
    session = current_session(request)
    if not same_origin(request) or not web_auth.csrf_ok(session, csrf_token):
        raise CsrfRefused()
    return session


def cookie_secure(request: Request) -> bool:
    return request.url.scheme == "https" or get_runtime(request).settings.public_url.startswith("https://")


def set_session_cookie(response: Response, request: Request, secret: str) -> None:
    response.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="lax", secure=cookie_secure(request),
                        path=PREFIX)


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path=PREFIX, httponly=True, samesite="lax",
                           secure=cookie_secure(request))


def login_csrf(request: Request) -> str:
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)


def set_login_cookie(response: Response, request: Request, value: str) -> None:
    response.set_cookie(LOGIN_COOKIE, value, httponly=True, samesite="strict", secure=cookie_secure(request),
                        path=PREFIX)


def me(session: WebSession) -> dict[str, Any]:
    who = session.principal
    return {"name": session.display_name, "email": session.email, "roles": list(who.roles),
            "csrf": session.csrf_token, "is_operator": who.is_operator}


@dataclass(frozen=True)
class TenantPage:
    """A page about one tenant: who is looking, the tenant, and what the viewer may do."""

    rt: Runtime
    session: WebSession
    tenant: Tenant
    can_billing: bool
    can_users: bool

    @property
    def who(self) -> Any:
        return self.session.principal

    @property
    def url(self) -> str:
        return f"{PREFIX}/t/{self.tenant.id}"

    def context(self, active: str, **more: Any) -> dict[str, Any]:
        t = self.tenant
        return {
            "me": me(self.session), "active": active, "base": self.url,
            "t": {"id": t.id, "name": t.name, "currency": t.currency, "tz": t.timezone,
                  "billing_mode": t.billing_mode},
            "can": {"billing": self.can_billing, "users": self.can_users},
            "flash": None, "error": None, **more,
        }


def _tenant_page(request: Request, tid: str, session: WebSession) -> TenantPage:
    who = session.principal
    if not who.is_operator:
        if who.tenant_id != tid:
            raise NotFound(f"tenant {tid} not found")
        if not is_admin(who.roles):
            raise NoAccess(session)
    rt = get_runtime(request)
    tenant = tenant_svc.get_tenant(rt, who, tid)
    return TenantPage(rt, session, tenant,
                      can_billing=who.is_operator or permits(who.roles, MANAGE_BILLING),
                      can_users=who.is_operator or permits(who.roles, MANAGE_USERS))


def tenant_view(request: Request, tid: str, session: Annotated[WebSession, Depends(current_session)]) -> TenantPage:
    return _tenant_page(request, tid, session)


def tenant_form(request: Request, tid: str, session: Annotated[WebSession, Depends(checked_session)]) -> TenantPage:
    return _tenant_page(request, tid, session)


SessionDep = Annotated[WebSession, Depends(current_session)]
CheckedSessionDep = Annotated[WebSession, Depends(checked_session)]
ViewDep = Annotated[TenantPage, Depends(tenant_view)]
FormDep = Annotated[TenantPage, Depends(tenant_form)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
