"""Rate decks and quotes: import (all-or-nothing), the in-memory rating index, and pricing.

Each import is stored as one JSON document whose row id is its version; the index merges
the versions live for each rating key (RATING.md: rating uses the version in force at the
call's start). Each process keeps the compiled index in `rt.caches` (`rating_live`): built
off the request path when another process changes the decks, swapped in atomically.
Imports, versions and activation are in `rate_decks`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from ...db import tenants as tenant_db
from ...db.engine import read_tx
from ...domain.access import VIEW_BILLING
from ...domain.numbers import InvalidNumber, parse_number
from ...domain.rating import (
    Deck,
    DeckError,
    RatedCall,
    RatingError,
    RatingIndex,
    price_call,
)
from ...errors import NotFound, ValidationError, from_rating
from ...rating_import import load_cgrates_files, load_ratecard, update_cgrates_files
from ..access.principal import Principal, require_tenant
from ..runtime import Runtime
from .rating_live import live_index

if TYPE_CHECKING:  # rate_decks imports this module
    from .rate_decks import DeckDiff

FORMATS = ("cgrates", "ratecard")


def rating_index(rt: Runtime) -> RatingIndex:
    """The current complete index of this process, at once (see rating_live: a newer deck
    version is noticed within about a second and built in the background)."""
    return live_index(rt.caches, rt.engine).get()


def parse_deck(
    *, format_: str, files: Mapping[str, bytes], currency: str | None = None,
    rounding: str | None = None, decimals: int | None = None, rating_key: str | None = None,
    name: str | None = None, base: Deck | None = None, fallback_rating_key: str | None = None,
) -> Deck:
    """Parse uploaded files into a validated deck; a bad row is a ValidationError naming
    file, line and reason. With `base`, the files are an update of that deck version."""
    if format_ not in FORMATS:
        raise ValidationError(f"format must be one of {', '.join(FORMATS)}")
    try:
        if format_ == "cgrates":
            if base is not None:
                return update_cgrates_files(base, files, name=name or base.name)
            return load_cgrates_files(files, currency=(currency or "USD").upper(), name=name or "cgrates")
        if len(files) != 1:
            raise ValidationError("a rate card import takes exactly one CSV file")
        (filename, content), = files.items()
        return load_ratecard(content, filename=filename, currency=currency.upper() if currency else None,
                             rounding=rounding, decimals=decimals, rating_key=rating_key, name=name,
                             base_version=base.version if base is not None else 0,
                             fallback_rating_key=fallback_rating_key)
    except DeckError as exc:
        raise ValidationError(str(exc), file=exc.file, line=exc.line, reason=exc.reason,
                              problems=[str(e) for e in exc.others][:50]) from None


def import_deck(rt: Runtime, who: Principal, deck: Deck) -> DeckDiff:
    """Store a parsed deck as the next version of its rating keys (replace) and make it live."""
    from .rate_decks import store

    return store(rt, who, deck, mode="replace", force=True)


def rate_digits(destination: str) -> str:
    """E.164 numbers are validated and normalised; bare digit strings (switch extensions,
    CGRateS test destinations such as 1002) are rated as they are."""
    text = destination.strip()
    if text.isdigit():
        return text
    try:
        return parse_number(text).digits
    except InvalidNumber as exc:
        raise ValidationError(str(exc), code="invalid_number") from None


def quote(
    rt: Runtime, who: Principal, *, category: str, destination: str, started_at: datetime,
    duration_seconds: int, rating_key: str | None = None, subject: str | None = None,
    tenant_id: str | None = None,
) -> RatedCall:
    """Price a call without moving money (operator, or an admin for its own tenant); the
    edges show it with `views.rating.quote_out`."""
    currency = None
    if not who.is_operator:
        tenant_id = tenant_id or who.tenant_id
    if tenant_id:
        require_tenant(who, tenant_id, VIEW_BILLING)
        with read_tx(rt.engine) as conn:
            tenant = tenant_db.get(conn, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        rating_key, subject, currency = rating_key or tenant.rating_key, subject or tenant.id, tenant.currency
    if not rating_key:
        raise ValidationError("give rating_key or tenant_id")
    if duration_seconds < 0:
        raise ValidationError("duration_seconds must be >= 0")
    if started_at.tzinfo is None:
        raise ValidationError("started_at needs a time zone, e.g. 2026-11-22T10:00:00Z")
    try:
        rated = price_call(rating_index(rt), rating_key=rating_key, category=category,
                           subject=subject or "*any", number=rate_digits(destination),
                           started_at=started_at, duration_s=duration_seconds, currency=currency)
    except RatingError as exc:
        raise from_rating(exc) from None
    return rated
