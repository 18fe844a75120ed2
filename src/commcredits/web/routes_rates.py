"""Reports > Calling rates: what each destination costs the tenant per minute, in its
currency, with a search box (a country or destination name, a number or its first digits)
and the whole list as a CSV download. Any admin of the tenant may look (DOMAIN.md).

A search of five digits or more (spaces, dashes and a leading + allowed) is a number: it
shows the rate that number would be charged (the longest matching prefix); fewer digits
match prefixes starting with them; anything else matches destination names.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from ..errors import CommCreditsError
from ..services.rating import tenant_rates
from ..views.rating import price_list_csv, price_page_out
from .feedback import explain
from .render import page
from .session import ViewDep

router = APIRouter(prefix="/t/{tid}")
PAGE = 100
Search = Annotated[str, Query(max_length=tenant_rates.MAX_Q)]
Cursor = Annotated[str, Query(max_length=9, pattern=r"^[0-9]*$")]
_NUMBER = re.compile(r"\+?[0-9][0-9 ()-]{4,30}")


def _lookup(p: ViewDep, q: str) -> tenant_rates.PriceList:
    text = q.strip()
    if _NUMBER.fullmatch(text):
        digits = "+" + re.sub(r"[^0-9]", "", text)
        return tenant_rates.tenant_rates(p.rt, p.who, p.tenant.id, destination=digits)
    return tenant_rates.tenant_rates(p.rt, p.who, p.tenant.id, q=text or None)


@router.get("/rates")
def rates(p: ViewDep, q: Search = "", cursor: Cursor = "") -> Response:
    listing, error, status = None, None, 200
    try:
        prices = _lookup(p, q)
        chunk = tenant_rates.page(prices, limit=PAGE, cursor=cursor or None)
        listing = {**price_page_out(chunk), "total": chunk.total}
    except CommCreditsError as exc:
        error, status = explain("Calling rates", exc, {"q": "rates-q", "destination": "rates-q"}), exc.status
    return page("rates.html", status, **p.context("rates", listing=listing, q=q, error=error))


@router.get("/rates/export")
def rates_export(p: ViewDep, q: Search = "") -> Response:
    return StreamingResponse(price_list_csv(_lookup(p, q)), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="calling-rates.csv"'})
