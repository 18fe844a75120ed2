"""Logging in and out, the operator's login, the Account page and the home redirect.

Their errors are shown as on every other form (`feedback.py`): a summary at the top, the
message next to the field it is about (`aria-invalid`, `aria-describedby`, the focus moves
there) and a page title starting "Error:". A failed sign-in names no field it could give
away: it sits at the password, and the e-mail address stays filled in. A throttled sign-in
has no field; the summary takes the focus.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ..errors import CommCreditsError, ValidationError
from ..services.access import web_auth
from .render import PREFIX, page, sentence
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


def _error(where: str, title: str, detail: str, field: str | None) -> dict[str, Any]:
    return {"where": where, "title": title, "detail": sentence(detail) + ".", "field": field}


def _login_error(exc: CommCreditsError) -> dict[str, Any]:
    if isinstance(exc, web_auth.LoginThrottled):
        return _error("Sign in", "Too many failed sign-ins", exc.detail, None)
    if isinstance(exc, web_auth.TenantRequired):
        return _error("Sign in", "Choose an organisation",
                      "this e-mail address belongs to several organisations: enter the organisation ID", "login-tenant")
    return _error("Sign in", "The e-mail address or the password is not right",
                  "check the address and type the password again", "login-password")


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
                       error=None, ended=request.query_params.get("ended") == "1")


@router.post("/login")
def login(request: Request, rt: RuntimeDep, email: Field = "", password: Field = "", tenant_id: Field = "",
          csrf_token: Field = "", next: Field = "") -> Response:
    _check_login_csrf(request, csrf_token)
    try:
        secret = web_auth.login(rt, email=email, password=password, tenant_id=tenant_id.strip() or None,
                                client=_client(request))
    except (web_auth.LoginThrottled, web_auth.TenantRequired, web_auth.LoginFailed) as exc:
        need_tenant = bool(tenant_id) or isinstance(exc, web_auth.TenantRequired)
        response = _login_page(request, "login.html", next_path=next, status=exc.status, email=email,
                               tenant_id=tenant_id, need_tenant=need_tenant, error=_login_error(exc), ended=False)
        return _throttled(response, exc) if isinstance(exc, web_auth.LoginThrottled) else response
    return _logged_in(request, secret, next)


@router.get("/operator/login")
def operator_login_form(request: Request) -> Response:
    return _login_page(request, "operator_login.html", next_path=f"{PREFIX}/operator", error=None)


@router.post("/operator/login")
def operator_login(request: Request, rt: RuntimeDep, token: Field = "", csrf_token: Field = "") -> Response:
    _check_login_csrf(request, csrf_token)
    try:
        secret = web_auth.operator_login(rt, token=token, client=_client(request))
    except web_auth.LoginThrottled as exc:
        return _throttled(_login_page(request, "operator_login.html", next_path=f"{PREFIX}/operator", status=429,
                                      error=_error("Operator sign-in", "Too many failed sign-ins", exc.detail,
                                                   None)), exc)
    except web_auth.LoginFailed:
        return _login_page(request, "operator_login.html", next_path=f"{PREFIX}/operator", status=401,
                           error=_error("Operator sign-in", "That is not a valid operator token",
                                        "copy the token that commcredits init or serve printed", "operator-token"))
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
    return page("account.html", me=me(session), error=None, flash="Your password was changed." if ok else None,
                home=_home(session))


@router.post("/account/password")
def change_password(request: Request, rt: RuntimeDep, session: CheckedSessionDep, current: Field = "",
                    new: Field = "", repeat: Field = "") -> Response:
    try:
        if new != repeat:
            raise ValidationError("type the same new password in both fields", code="repeat")
        secret = web_auth.change_own_password(rt, session, current=current, new=new)
    except CommCreditsError as exc:
        if exc.status in (401, 403):
            raise
        return page("account.html", 422, me=me(session), error=_password_error(exc), flash=None,
                    home=_home(session))
    response = RedirectResponse(f"{PREFIX}/account?ok=1", status_code=303)
    set_session_cookie(response, request, secret)
    return response


def _password_error(exc: CommCreditsError) -> dict[str, Any]:
    where = "Change your password"
    if exc.code == "repeat":
        return _error(where, "The two new passwords differ", exc.detail, "account-repeat")
    if "current password" in exc.detail:
        return _error(where, "The current password is not right", "type the password you signed in with",
                      "account-current")
    return _error(where, "The new password cannot be used", exc.detail, "account-new")


def _home(session: web_auth.WebSession) -> str:
    who = session.principal
    return f"{PREFIX}/operator" if who.is_operator else f"{PREFIX}/t/{who.tenant_id}/billing"

