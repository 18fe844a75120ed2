"""An error as the API's application/problem+json body (RFC 9457 with a stable `code`): the
one shape, used by the API's error mapping (`api/problems.py`), by stored idempotent answers
and by the CLI where it prints a refusal as the API would."""

from __future__ import annotations

from typing import Any

from ..errors import CommCreditsError


def problem_body(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": f"https://commcredits.dev/problems/{code}", "title": title, "status": status,
            "detail": detail, "code": code, **extra}


def problem_out(exc: CommCreditsError) -> dict[str, Any]:
    """An error of the one tree (errors.py) as its problem body."""
    return problem_body(exc.status, exc.code, exc.title, exc.detail, **exc.extra)
