"""Rate decks and quotes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from ..services import rating, rerate
from ..services.principal import require_operator
from .deps import PrincipalDep, RuntimeDep

router = APIRouter(prefix="/v1", tags=["rating"])


@router.post("/rate-decks", status_code=201)
async def import_deck(
    rt: RuntimeDep, who: PrincipalDep,
    format: Annotated[str, Form(description="cgrates or ratecard")],
    files: Annotated[list[UploadFile], File(description="the CSV files (cgrates: by their names)")],
    currency: Annotated[str | None, Form()] = None,
    rounding: Annotated[str | None, Form()] = None,
    decimals: Annotated[int | None, Form(ge=0, le=18)] = None,
    rating_key: Annotated[str | None, Form()] = None,
    name: Annotated[str | None, Form()] = None,
) -> dict[str, Any]:
    require_operator(who)  # before reading the upload
    contents = {f.filename or f"file{i}.csv": await f.read() for i, f in enumerate(files)}
    deck = rating.parse_deck(format_=format, files=contents, currency=currency, rounding=rounding,
                             decimals=decimals, rating_key=rating_key, name=name)
    return rating.import_deck(rt, who, deck)


@router.get("/rate-decks")
def list_decks(rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    return {"items": rating.list_decks(rt, who), "next_cursor": None}


@router.get("/rates/quote")
def quote(
    rt: RuntimeDep, who: PrincipalDep,
    category: str, destination: str,
    duration_seconds: Annotated[int, Query(ge=0, le=30 * 86_400)],
    started_at: datetime | None = None,
    rating_key: str | None = None, subject: str | None = None, tenant_id: str | None = None,
) -> dict[str, Any]:
    return rating.quote(rt, who, category=category, destination=destination,
                        started_at=started_at or rt.clock.now(), duration_seconds=duration_seconds,
                        rating_key=rating_key, subject=subject, tenant_id=tenant_id)



class RerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    tenant_id: str | None = None


@router.post("/rerate")
def rerate_period(body: RerateIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    """Price a period's calls again with the decks now in force; differences become new transactions."""
    return rerate.rerate(rt, who, start=body.start, end=body.end, tenant_id=body.tenant_id)
