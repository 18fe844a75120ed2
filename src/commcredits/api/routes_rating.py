"""Rate decks (import, versions, activation), quotes, re-rating and tenants' price lists."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ..errors import ValidationError
from ..services.access.principal import require_operator
from ..services.rating import rate_decks, rating, rerate
from ..services.rating import tenant_rates as tenant_price_list
from ..views.rating import (
    activation_out,
    deck_versions_out,
    price_list_csv,
    price_page_out,
    quote_out,
    rerate_out,
)
from .deps import PrincipalDep, RuntimeDep

router = APIRouter(prefix="/v1", tags=["rating"])


MAX_FILES = 10
MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # all files of one import together
Key = Annotated[str | None, Form(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$")]


async def _read_files(files: list[UploadFile]) -> dict[str, bytes]:
    if len(files) > MAX_FILES:
        raise ValidationError(f"at most {MAX_FILES} files per import")
    contents: dict[str, bytes] = {}
    total = 0
    for i, f in enumerate(files):
        data = await f.read(MAX_UPLOAD_BYTES - total + 1)
        total += len(data)
        if total > MAX_UPLOAD_BYTES:
            raise ValidationError(f"an import is at most {MAX_UPLOAD_BYTES // 1024 // 1024} MB")
        name = (f.filename or f"file{i}.csv")[-200:]
        contents[name] = data
    return contents


@router.post("/rate-decks", status_code=201)
async def import_deck(
    rt: RuntimeDep, who: PrincipalDep, response: Response,
    format: Annotated[str, Form(description="cgrates or ratecard", max_length=16)],
    files: Annotated[list[UploadFile], File(description="the CSV files (cgrates: by their names)")],
    currency: Annotated[str | None, Form(pattern=r"^[A-Za-z]{3}$")] = None,
    rounding: Annotated[str | None, Form(max_length=16)] = None,
    decimals: Annotated[int | None, Form(ge=0, le=18)] = None,
    rating_key: Key = None,
    name: Annotated[str | None, Form(min_length=1, max_length=200)] = None,
    mode: Annotated[Literal["replace", "update"], Form(
        description="replace: the whole deck of its keys; update: only the rows it names")] = "replace",
    dry_run: Annotated[bool, Form(description="apply nothing; answer the diff")] = False,
    force: Annotated[bool, Form(description="import even if recent calls would have no rate")] = False,
    fallback_rating_key: Annotated[str | None, Form(
        min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$",
        description="rate card override: prefixes it lacks are priced by this key's deck")] = None,
) -> dict[str, Any]:
    """Import a deck as a new version (409 coverage_loss if recent calls would lose their rate)."""
    require_operator(who)  # before reading the upload
    contents = await _read_files(files)
    body = await run_in_threadpool(  # a large upload is parsed in a worker process (rate_decks.import_upload)
        rate_decks.import_upload, rt, who, format_=format, files=contents, mode=mode,
        dry_run=dry_run, force=force, currency=currency, rounding=rounding, decimals=decimals,
        rating_key=rating_key, name=name, fallback_rating_key=fallback_rating_key)
    if dry_run:
        response.status_code = 200
    return cast(dict[str, Any], body)


@router.get("/rate-decks")
def list_decks(
    rt: RuntimeDep, who: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]+$")] = None,
) -> dict[str, Any]:
    """Every version, newest first: who imported it, when, row counts, what is in force."""
    return deck_versions_out(rate_decks.list_decks(rt, who, limit=limit, cursor=int(cursor) if cursor else None))


@router.post("/rate-decks/{deck_id}/activate")
def activate_deck(rt: RuntimeDep, who: PrincipalDep,
                  deck_id: Annotated[str, Path(max_length=20, description="the deck version")]) -> dict[str, Any]:
    """Roll back (or forward) to this version for its rating keys, at once."""
    require_operator(who)  # before saying anything about the id
    if not deck_id.isascii() or not deck_id.isdigit() or not 1 <= int(deck_id) <= 2**53:
        raise ValidationError("the deck id is a version number such as 3")
    return activation_out(rate_decks.activate(rt, who, int(deck_id)))


@router.get("/tenants/{tid}/rates", response_model=None)
def tenant_rates(
    rt: RuntimeDep, who: PrincipalDep, tid: Annotated[str, Path(max_length=36)],
    destination: Annotated[str | None, Query(min_length=1, max_length=32,
                                             description="a number: its longest-prefix match")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100,
                                   description="text search: a country or destination name, or digits")] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: Annotated[str | None, Query(max_length=9, pattern=r"^[0-9]+$")] = None,
) -> dict[str, Any] | StreamingResponse:
    """The prices the tenant pays now (admins of the tenant, the operator)."""
    prices = tenant_price_list.tenant_rates(rt, who, tid, destination=destination, q=q)
    if format == "csv":
        return StreamingResponse(price_list_csv(prices), media_type="text/csv",
                                 headers={"Content-Disposition": 'attachment; filename="rates.csv"'})
    return price_page_out(tenant_price_list.page(prices, limit=limit, cursor=cursor))


@router.get("/rates/quote")
def quote(
    rt: RuntimeDep, who: PrincipalDep,
    category: str, destination: str,
    duration_seconds: Annotated[int, Query(ge=0, le=30 * 86_400)],
    started_at: datetime | None = None,
    rating_key: str | None = None, subject: str | None = None, tenant_id: str | None = None,
) -> dict[str, Any]:
    return quote_out(rating.quote(rt, who, category=category, destination=destination,
                                  started_at=started_at or rt.clock.now(), duration_seconds=duration_seconds,
                                  rating_key=rating_key, subject=subject, tenant_id=tenant_id))



class RerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    tenant_id: str | None = None


@router.post("/rerate")
def rerate_period(body: RerateIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    """Price a period's calls again with the decks now in force; differences become new transactions."""
    return rerate_out(rerate.rerate(rt, who, start=body.start, end=body.end, tenant_id=body.tenant_id))
