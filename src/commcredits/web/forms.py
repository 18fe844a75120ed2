"""What a form POST answers: a redirect back to its page with a message code when it worked
(post/redirect/get), or the error as the page shows it when it did not."""

from __future__ import annotations

from typing import Any

from fastapi.responses import RedirectResponse, Response

from ..errors import CommCreditsError, Forbidden, Unauthenticated
from .render import sentence
from .session import TenantPage


def flash(done: str, messages: dict[str, str]) -> dict[str, str] | None:
    text = messages.get(done)
    return {"kind": "ok", "text": text} if text else None


def problem(where: str, exc: CommCreditsError) -> dict[str, Any]:
    """A service error as the page shows it; who-may errors go to the error page instead."""
    if isinstance(exc, Forbidden | Unauthenticated):
        raise exc
    return {"where": where, "title": exc.title, "detail": sentence(exc.detail), "code": exc.code,
            "reason": exc.extra.get("reason")}


def done(p: TenantPage, path: str, code: str, anchor: str = "") -> Response:
    return RedirectResponse(f"{p.url}/{path}?done={code}{anchor}", status_code=303)
