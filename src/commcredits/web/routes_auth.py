"""Logging in and out, the operator's login, the Account page and the home redirect."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ..errors import CommCreditsError, ValidationError
from ..services import web_auth
from .render import PREFIX, page
from .session import (
    LOGIN_COOKIE,
    CheckedSessionDep,
    CsrfRefused,
    RuntimeDep,
    SessionDep,
    clear_session_cookie,
    login_csrf,
    me,
    safe_next,
    same_origin,
    set_login_cookie,
    set_session_cookie,
)

router = APIRouter()
Field = Annotated[str, Form()]


def _login_page(request: Request, template: str, *, next_path: str, status: int = 200, **ctx: object) -> Response:
    token = login_csrf(request)
    response = page(template, status, csrf=token, next=safe_next(next_path), **ctx)
    set_login_cookie(response, request, token)
    return response


def _client(request: Request) -> str:
    """The client's address (behind a proxy: run uvicorn with --forwarded-allow-ips)."""
    return request.client.host if request.client else "-"


def _throttled(response: Response, exc: web_auth.LoginThrottled) -> Response:
    response.headers["Retry-After"] = str(exc.extra.get("retry_after", 1))
    return response


def _check_login_csrf(request: Request, submitted: str) -> None:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not same_origin(request) or not expected or not hmac.compare_digest(expected, submitted):
        raise CsrfRefused()


def _logged_in(request: Request, secret: str, next_path: str) -> Response:
    response = RedirectResponse(safe_next(next_path), status_code=303)
    set_session_cookie(response, request, secret)
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.get("/login")
def login_form(request: Request, next: str = "") -> Response:
    return _login_page(request, "login.html", next_path=next, email="", tenant_id="", need_tenant=False,
                       login_error=None, ended=request.query_params.get("ended") == "1")


@router.post("/login")
def login(request: Request, rt: RuntimeDep, email: Field = "", password: Field = "", tenant_id: Field = "",
          csrf_token: Field = "", next: Field = "") -> Response:
    _check_login_csrf(request, csrf_token)
    try:
        secret = web_auth.login(rt, email=email, password=password, tenant_id=tenant_id.strip() or None,
                                client=_client(request))
    except web_auth.LoginThrottled as exc:
        return _throttled(_login_page(request, "login.html", next_path=next, status=429, email=email,
                                      tenant_id=tenant_id, need_tenant=bool(tenant_id), login_error=exc.detail,
                                      ended=False), exc)
    except web_auth.TenantRequired as exc:
        return _login_page(request, "login.html", next_path=next, status=401, email=email, tenant_id=tenant_id,
                           need_tenant=True, login_error=exc.detail, ended=False)
    except web_auth.LoginFailed as exc:
        return _login_page(request, "login.html", next_path=next, status=401, email=email, tenant_id=tenant_id,
                           need_tenant=bool(tenant_id), login_error=exc.detail, ended=False)
    return _logged_in(request, secret, next)


@router.get("/operator/login")
def operator_login_form(request: Request) -> Response:
    return _login_page(request, "operator_login.html", next_path=f"{PREFIX}/operator", login_error=None)


@router.post("/operator/login")
def operator_login(request: Request, rt: RuntimeDep, token: Field = "", csrf_token: Field = "") -> Response:
    _check_login_csrf(request, csrf_token)
    try:
        secret = web_auth.operator_login(rt, token=token, client=_client(request))
    except web_auth.LoginThrottled as exc:
        return _throttled(_login_page(request, "operator_login.html", next_path=f"{PREFIX}/operator", status=429,
                                      login_error=exc.detail), exc)
    except web_auth.LoginFailed as exc:
        return _login_page(request, "operator_login.html", next_path=f"{PREFIX}/operator", status=401,
                           login_error=exc.detail)
    return _logged_in(request, secret, f"{PREFIX}/operator")


@router.post("/logout")
def logout(request: Request, rt: RuntimeDep, session: CheckedSessionDep) -> Response:
    web_auth.logout(rt, session)
    response = RedirectResponse(f"{PREFIX}/login?ended=1", status_code=303)
    clear_session_cookie(response, request)
    return response


@router.get("/")
def home(session: SessionDep) -> Response:
    return RedirectResponse(_home(session), status_code=303)


@router.get("/account")
def account(session: SessionDep, ok: str = "") -> Response:
    return page("account.html", me=me(session), form_error=None, flash="Your password was changed." if ok else None,
                home=_home(session))


@router.post("/account/password")
def change_password(request: Request, rt: RuntimeDep, session: CheckedSessionDep, current: Field = "",
                    new: Field = "", repeat: Field = "") -> Response:
    try:
        if new != repeat:
            raise ValidationError("the new password and its repetition differ")
        secret = web_auth.change_own_password(rt, session, current=current, new=new)
    except CommCreditsError as exc:
        if exc.status in (401, 403):
            raise
        return page("account.html", 422, me=me(session), form_error=exc.detail, flash=None, home=_home(session))
    response = RedirectResponse(f"{PREFIX}/account?ok=1", status_code=303)
    set_session_cookie(response, request, secret)
    return response


def _home(session: web_auth.WebSession) -> str:
    who = session.principal
    return f"{PREFIX}/operator" if who.is_operator else f"{PREFIX}/t/{who.tenant_id}/billing"

