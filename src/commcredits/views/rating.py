"""A tenant's price list (a JSON page, the CSV download) and re-rating reports as JSON
(API.md "Rates", "Re-rating"), and a quote. The admin center's rates page and its download use the same
rows; `commcredits rates rerate` prints the same JSON as `POST /v1/rerate`."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from ..domain.money import format_micros, minor_units
from ..domain.rating.layers import PriceRow
from ..domain.rating.result import RatedCall
from ..domain.rating.timing import from_epoch
from ..formatting import iso
from ..services.rating.rate_decks import Activation, DeckVersion, DeckVersions
from ..services.rating.rerate import RerateReport, TenantRerate
from ..services.rating.tenant_rates import PriceList, PricePage, rate_text

CSV_COLUMNS = ("prefix", "destination", "category", "rate_per_minute", "connection_fee",
               "currency", "effective_from")


def price_item_out(row: PriceRow) -> dict[str, Any]:
    return {"prefix": row.prefix, "destination": row.destination, "category": row.category,
            "rate_per_minute": rate_text(row),
            "connection_fee": format_micros(row.connect_fee_micros, minor_units(row.currency)),
            "currency": row.currency, "effective_from": iso(from_epoch(row.effective_from)),
            "initial_increment": row.initial_increment, "next_increment": row.next_increment}


def price_page_out(page: PricePage) -> dict[str, Any]:
    return {"currency": page.currency, "items": [price_item_out(r) for r in page.rows],
            "next_cursor": page.next_cursor}


def price_list_csv(prices: PriceList) -> Iterator[str]:
    """The whole list as CSV text, header first (streamed a line at a time)."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(CSV_COLUMNS)
    yield buf.getvalue()
    for row in prices.rows():
        buf.seek(0)
        buf.truncate()
        body = price_item_out(row)
        out.writerow([body[c] for c in CSV_COLUMNS])
        yield buf.getvalue()


def tenant_rerate_out(r: TenantRerate) -> dict[str, Any]:
    return {"tenant_id": r.tenant_id, "records": r.records, "changed": r.changed, "unrated": r.unrated,
            "credits_difference": str(r.credits_difference), "postpaid_difference": str(r.postpaid_difference),
            "currency": r.credits_difference.currency}


def rerate_out(report: RerateReport) -> dict[str, Any]:
    """The period as given (`isoformat`, its own zone) and each tenant that had calls in it."""
    return {"from": report.start.isoformat(), "to": report.end.isoformat(),
            "tenants": [tenant_rerate_out(t) for t in report.tenants]}


def quote_out(rated: RatedCall) -> dict[str, Any]:
    """A priced call as `GET /v1/rates/quote` answers it (API.md "Quote"), and the CLI prints it."""
    digits = minor_units(rated.currency)
    explained = rated.explain()
    return {
        "charge": format_micros(rated.charge_micros, digits),
        "connect_fee": format_micros(rated.connect_fee_micros, digits),
        "currency": rated.currency, "billed_seconds": rated.billed_seconds,
        "duration_seconds": rated.duration_s, "destination_id": rated.destination_id,
        "prefix": rated.prefix, "rate_id": rated.rate_id,
        "rating_plan_id": rated.rating_plan_id, "subject": rated.subject,
        "deck": rated.deck, "deck_version": rated.deck_version,
        "rounding": {"method": rated.rounding, "decimals": rated.decimals},
        "capped": rated.capped, "exact_total": explained["exact_total"],
        "spans": explained["spans"],
    }


def deck_versions_out(page: DeckVersions) -> dict[str, Any]:
    """`GET /v1/rate-decks` (and `commcredits rates versions`)."""
    return {"items": [_version_out(v) for v in page.items],
            "next_cursor": str(page.next_cursor) if page.next_cursor is not None else None}


def _version_out(v: DeckVersion) -> dict[str, Any]:
    r = v.summary
    return {"id": r.id, "version": r.id, "name": r.name, "format": r.format, "mode": r.mode,
            "currency": r.currency, "rows": r.rows, "rating_keys": r.rating_keys,
            "effective_from": iso(r.effective_from) if r.effective_from else None,
            "imported_at": iso(r.imported_at), "imported_by": r.imported_by,
            "fallback_rating_key": r.fallback_rating_key, "parents": r.parents,
            "counts": r.stats, "in_force_for": list(v.in_force_for), "live_for": list(v.live_for)}


def activation_out(a: Activation) -> dict[str, Any]:
    """`POST /v1/rate-decks/{id}/activate` (and `commcredits rates activate`)."""
    return {"id": a.deck.id, "version": a.deck.id, "name": a.deck.name, "rating_keys": a.deck.rating_keys,
            "activated_at": iso(a.activated_at)}
