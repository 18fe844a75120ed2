"""The PSTN usage report and the funding advice."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from ..services import reports
from .deps import Cursor, PrincipalDep, RuntimeDep

router = APIRouter(prefix="/v1/tenants/{tid}", tags=["reports"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/usage", response_model=None, responses={
    200: {"description": "a page of rows (json), or every match as a file",
          "content": {"application/json": {}, "text/csv": {}, XLSX: {}}}})
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
        return reports.usage_page(
            rt, who, tid, start=start, end=end, user_id=user_id, call_type=call_type, cursor=cursor, limit=limit
        )
    _, rows = reports.usage_export(rt, who, tid, start=start, end=end, user_id=user_id, call_type=call_type)
    name = f"pstn-usage-{tid[:8]}"
    if format == "csv":
        return StreamingResponse(
            reports.as_csv(rows),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(
        reports.as_xlsx(rows), media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'}
    )


@router.get("/funding-advice")
def funding_advice(tid: str, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    return reports.funding_advice(rt, who, tid)
