"""Billing > Transactions: every journal entry for reconciliation, newest first, paged,
filtered by type and period (days in the tenant's time zone), with a CSV download (UTF-8
with a byte order mark, for Excel). Each purchase links to its receipt, each expiry names
the lot it ended."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse

from ..domain.money import Money
from ..errors import CommCreditsError, ValidationError
from ..formatting import iso
from ..services.ledger.transaction_pages import (
    KINDS,
    TransactionLine,
    TransactionPage,
    transaction_lines,
    transactions_page,
)
from ..services.usage import reports
from .feedback import FormProblem, explain, form_error
from .render import KIND_NAMES, page
from .routes_usage import FromQ, Short, ToQ, _bounds, _day
from .session import TenantPage, ViewDep

router = APIRouter(prefix="/t/{tid}")
CSV_COLUMNS = ("Transaction", "Time (UTC)", "Type", "Amount", "Balance after", "Currency", "Reference", "Receipt")


def _csv_rows(lines: Iterator[TransactionLine], currency: str) -> Iterator[list[Any]]:
    """The header, then one row per transaction: amounts as decimal strings, times in UTC."""
    def text(amount: Money | None) -> str | None:
        return None if amount is None else amount.text

    yield list(CSV_COLUMNS)
    for x in lines:
        yield [str(x.id), iso(x.created_at), x.type, text(x.amount), text(x.balance_after), currency, x.reference,
               x.receipt_number or ""]


def _filters(p: TenantPage, kind: str, start: str, end: str) -> dict[str, Any]:
    if kind and kind not in KINDS:
        raise FormProblem("txn-type", "Unknown type", "choose a type from the list")
    first = _day(start, "txn-from", "start") if start.strip() else None
    last = _day(end, "txn-to", "end") if end.strip() else None
    if first and last and last < first:
        raise FormProblem("txn-to", "The period ends before it starts",
                          f"choose a “To” date on or after {first.strftime('%d %b %Y')}")
    lo = _bounds(p, first, first)[0] if first else None
    hi = _bounds(p, last, last)[1] if last else None
    return {"kind": kind or None, "start": lo, "end": hi}


@router.get("/transactions")
def transactions(p: ViewDep, type: Short = "", start: FromQ = "", end: ToQ = "", cursor: Short = "") -> Response:
    query = {"type": type, "from": start, "to": end}
    listing = TransactionPage((), p.tenant.currency, None)
    error, status = None, 200
    try:
        listing = transactions_page(p.rt, p.who, p.tenant.id, **_filters(p, type, start, end),
                                    cursor=cursor or None, limit=50)
    except FormProblem as exc:
        error, status = form_error("Transactions", exc), 422
    except CommCreditsError as exc:
        error, status = explain("Transactions", exc, {}), exc.status
    return page("transactions.html", status, **p.context(
        "transactions", listing=listing, filters=query, kinds=KIND_NAMES, error=error,
        query=urlencode({k: v for k, v in query.items() if v})))


@router.get("/transactions/export")
def transactions_export(p: ViewDep, type: Short = "", start: FromQ = "", end: ToQ = "") -> Response:
    try:
        where = _filters(p, type, start, end)
    except FormProblem as exc:
        raise ValidationError(exc.detail) from None
    rows = _csv_rows(transaction_lines(p.rt, p.who, p.tenant.id, **where), p.tenant.currency)
    period = f"-{start or 'start'}-to-{end or 'now'}" if start or end else ""
    return StreamingResponse(reports.as_csv(rows, bom=True), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="transactions{period}.csv"'})
