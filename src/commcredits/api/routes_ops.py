"""Jobs, the sandbox clock, health and metrics."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..domain.lots import add_months
from ..errors import NotFound, ValidationError
from ..services import jobs
from ..services.access.principal import require_operator
from ..views.jobs import clock_move_out, jobs_run_out
from .deps import PrincipalDep, RuntimeDep
from .schemas import ClockIn

router = APIRouter(tags=["operations"])

_DURATION = re.compile(
    r"^P(?:(?P<y>[0-9]{1,7})Y)?(?:(?P<mo>[0-9]{1,7})M)?(?:(?P<w>[0-9]{1,7})W)?(?:(?P<d>[0-9]{1,7})D)?"
    r"(?:T(?:(?P<h>[0-9]{1,9})H)?(?:(?P<mi>[0-9]{1,9})M)?(?:(?P<s>[0-9]{1,9})S)?)?$"
)


def apply_duration(start: Any, text: str) -> Any:
    """Add an ISO 8601 duration; years and months are calendar months."""
    m = _DURATION.match(text or "")
    if not m or text in ("P", "PT"):
        raise ValidationError(f"advance {text!r} is not an ISO 8601 duration such as P13M or PT2H")
    g = {k: int(v or 0) for k, v in m.groupdict().items()}
    try:
        moved = add_months(start, 12 * g["y"] + g["mo"])
        return moved + timedelta(weeks=g["w"], days=g["d"], hours=g["h"], minutes=g["mi"], seconds=g["s"])
    except (OverflowError, ValueError):
        raise ValidationError(f"advance {text!r} moves the clock past the year 9999") from None


@router.post("/v1/jobs/run")
def run_jobs(rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    require_operator(who)
    return jobs_run_out(jobs.run_due_jobs(rt))


@router.post("/v1/sandbox/clock")
def move_clock(body: ClockIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    require_operator(who)
    if not rt.settings.sandbox:
        raise NotFound("the sandbox clock exists only on a sandbox database (commcredits init --sandbox, "
                       "or serve --sandbox on a new database)")
    if (body.now is None) == (body.advance is None):
        raise ValidationError("give exactly one of 'now' or 'advance'")
    if body.now is not None:
        if body.now.tzinfo is None:
            raise ValidationError("'now' needs a time zone, e.g. 2026-11-22T10:00:00Z")
        target = body.now
    else:
        target = apply_duration(rt.clock.now(), body.advance or "")
    if not 2000 <= target.year <= 9000:
        raise ValidationError("the sandbox clock stays between the years 2000 and 9000")
    return clock_move_out(jobs.move_clock(rt, target))


@router.get("/healthz", include_in_schema=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
