"""The PSTN usage report and the funding advice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from ..services.usage import reports, usage_export
from ..views.usage import funding_advice_out, usage_page_out
from .deps import Cursor, PrincipalDep, RuntimeDep

router = APIRouter(prefix="/v1/tenants/{tid}", tags=["reports"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_name(tid: str, start: datetime | None, end: datetime | None, now: datetime) -> str:
    """`usage-<tenant>-2026-11-01_2026-11-30`: the first and last UTC day the export covers
    (`to` is exclusive); without `to` it covers up to now, without `from` every earlier call."""
    def utc_day(moment: datetime) -> str:
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).date().isoformat()

    last = utc_day(end - timedelta(microseconds=1) if end is not None else now)
    return f"usage-{tid[:8]}-{utc_day(start)}_{last}" if start is not None else f"usage-{tid[:8]}-until-{last}"


@router.get("/usage", response_model=None, responses={
    200: {"description": "a page of rows (json), or every match as a file",
          "content": {"application/json": {}, "text/csv": {}, XLSX: {}}},
    429: {"description": "csv and xlsx: too many exports are being written by this server "
                         "(`too_many_exports`); try again after `Retry-After` seconds"}})
def usage(
    tid: str,
    rt: RuntimeDep,
    who: PrincipalDep,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    user_id: str | None = None,
    call_type: str | None = None,
    format: Annotated[str, Query(pattern="^(json|csv|xlsx)$")] = "json",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> dict[str, Any] | Response:
    """One row per call with the PSTN usage report's columns; `format=csv|xlsx` exports every match."""
    if format == "json":
        return usage_page_out(reports.usage_page(
            rt, who, tid, start=start, end=end, user_id=user_id, call_type=call_type, cursor=cursor, limit=limit
        ))
    export = usage_export.open_export(rt, who, tid, start=start, end=end, user_id=user_id, call_type=call_type)
    name = export_name(tid, start, end, rt.clock.now())
    if format == "csv":
        return StreamingResponse(usage_export.threaded(usage_export.csv_stream(export)), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return StreamingResponse(usage_export.threaded(usage_export.xlsx_stream(export)), media_type=XLSX,
                             headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})


@router.get("/funding-advice")
def funding_advice(tid: str, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    return funding_advice_out(reports.funding_advice(rt, who, tid))
