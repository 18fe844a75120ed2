"""Prices for tenants: what each destination costs the tenant now, from its rating key
(override decks falling back to their fallback key), its currency and subject.

`destination` is a number: the longest-prefix match in each category. `q` is a text search:
digits (an optional leading `+`) match prefixes that start with them or that the number
starts with; anything else matches destination names (case-insensitive substring).
Admins of the tenant only (DOMAIN.md: any admin role), and the operator. The edges show
the rows (`views.rating`: a JSON page, the CSV download).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ...db import tenants as tenant_db
from ...db.engine import read_tx
from ...domain.access import VIEW_BILLING
from ...domain.money import format_micros
from ...domain.rating import RatingIndex, epoch_seconds
from ...domain.rating.layers import Entry, PriceRow, price_entries, price_for, price_row
from ...errors import NotFound, ValidationError
from ..access.principal import Principal, require_tenant
from ..runtime import Runtime
from .rating import rate_digits, rating_index

MAX_Q = 100
MAX_LIMIT = 1_000


def rate_text(row: PriceRow) -> str:
    """Price per minute as a decimal string: exact to the micro, else rounded half up at 6
    decimals (a price list shows, it does not charge), at least 2 decimals."""
    value = row.rate_per_minute
    micros = (value.numerator * 2_000_000 + value.denominator) // (2 * value.denominator)
    return format_micros(micros, 2)


def _matches(entry: Entry, q: str) -> bool:
    digits = q.removeprefix("+")
    if digits.isascii() and digits.isdigit():
        return entry.prefix.startswith(digits) or digits.startswith(entry.prefix)
    return q.casefold() in entry.destination.casefold()


@dataclass(frozen=True, slots=True)
class PriceList:
    """What a tenant pays now: `entries` rendered on demand (`rows`, `page`)."""

    currency: str
    index: RatingIndex
    entries: list[Entry]

    def rows(self, entries: list[Entry] | None = None) -> Iterator[PriceRow]:
        return (price_row(self.index, e) for e in (self.entries if entries is None else entries))


def tenant_rates(rt: Runtime, who: Principal, tenant_id: str, *, destination: str | None = None,
                 q: str | None = None) -> PriceList:
    """The prices the tenant pays now, filtered by `destination` (a number) or `q`."""
    require_tenant(who, tenant_id, VIEW_BILLING)
    if q is not None and (len(q) > MAX_Q or not q.strip() or not q.isprintable()):
        raise ValidationError(f"q must be 1 to {MAX_Q} printable characters")
    with read_tx(rt.engine) as conn:
        tenant = tenant_db.get(conn, tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} not found")
    index = rating_index(rt)
    t = epoch_seconds(rt.clock.now())
    if destination is not None:
        entries = price_for(index, key=tenant.rating_key, subject=tenant.id, t=t,
                            currency=tenant.currency, digits=rate_digits(destination))
        return PriceList(tenant.currency, index, entries)
    entries = price_entries(index, key=tenant.rating_key, subject=tenant.id, t=t,
                            currency=tenant.currency)
    if q is not None:
        entries = [e for e in entries if _matches(e, q.strip())]
    return PriceList(tenant.currency, index, entries)


@dataclass(frozen=True, slots=True)
class PricePage:
    """A page of a price list: its rows, the cursor of the next page (None on the last) and
    how many entries the whole list has."""

    currency: str
    rows: tuple[PriceRow, ...]
    next_cursor: str | None
    total: int


def page(prices: PriceList, *, limit: int, cursor: str | None) -> PricePage:
    """One page; the cursor is the position of the next entry."""
    start = 0
    if cursor is not None:
        if not cursor.isdigit() or len(cursor) > 9:
            raise ValidationError("cursor is not one this list gave")
        start = int(cursor)
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be 1..{MAX_LIMIT}")
    chunk = prices.entries[start:start + limit]
    more = start + limit < len(prices.entries)
    return PricePage(prices.currency, tuple(prices.rows(chunk)), str(start + limit) if more else None,
                     len(prices.entries))
