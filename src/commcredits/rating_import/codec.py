"""Deck <-> JSON: one compact, lossless document per deck version, for the database.

Entities are stored as positional arrays (not objects with repeated keys), rates as exact
decimal strings (or "n/d" when a value has no finite decimal form), instants as RFC 3339,
and consecutive destination-rate rows sharing id, rounding and max cost as one block of
[destination, rate] pairs. A 50,000-prefix rate card encodes to about 3 MB.
`deck_from_json(deck_to_json(d)) == d` for every deck; malformed documents raise DeckError.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from commcredits.rating_import.values import instant

from ..domain.rating.deck import Deck
from ..domain.rating.model import (
    DeckError,
    Destination,
    DestinationRate,
    PlanEntry,
    Rate,
    RateGroup,
    RatingEnd,
    RatingPlan,
    RatingProfile,
    Timing,
)

CODEC_VERSION = 1


def fraction_text(value: Fraction) -> str:
    """Exact text of a Fraction: a plain decimal when finite, else 'n/d'."""
    den, twos, fives = value.denominator, 0, 0
    while den % 2 == 0:
        den, twos = den // 2, twos + 1
    while den % 5 == 0:
        den, fives = den // 5, fives + 1
    if den != 1:
        return f"{value.numerator}/{value.denominator}"
    places = max(twos, fives)
    scaled = abs(value.numerator) * 10**places // value.denominator
    sign = "-" if value < 0 else ""
    if places == 0:
        return f"{sign}{scaled}"
    digits = str(scaled).rjust(places + 1, "0")
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def parse_fraction_text(text: str) -> Fraction:
    return Fraction(text) if "/" in text else Fraction(Decimal(text))


BLOCK = 2_000  # pairs per block at most, so a stored document splits into short lines


def _dr_blocks(drs: tuple[DestinationRate, ...]) -> list[list[Any]]:
    blocks: list[list[Any]] = []
    for dr in drs:
        head = [dr.id, dr.rounding, dr.decimals, dr.max_cost_micros, dr.max_cost_strategy]
        if blocks and blocks[-1][:5] == head and len(blocks[-1][5]) < BLOCK:
            blocks[-1][5].append([dr.destination_id, dr.rate_id])
        else:
            blocks.append([*head, [[dr.destination_id, dr.rate_id]]])
    return blocks


def deck_to_json(deck: Deck) -> dict[str, Any]:
    """The deck as a JSON-ready dict (lists, strings, ints, None only)."""
    return {
        "codec": CODEC_VERSION, "name": deck.name, "currency": deck.currency,
        "format": deck.format, "version": deck.version, "timezone": deck.timezone,
        "row_count": deck.row_count,
        "destinations": [[d.id, d.name, list(d.prefixes)] for d in deck.destinations],
        "rates": [[r.id, r.connect_fee_micros,
                   [[g.from_s, fraction_text(g.rate), g.unit_s, g.increment_s]
                    for g in r.groups]] for r in deck.rates],
        "destination_rates": _dr_blocks(deck.destination_rates),
        "timings": [[t.id, sorted(t.years), sorted(t.months), sorted(t.month_days),
                     sorted(t.weekdays), t.start_s] for t in deck.timings],
        "plans": [[p.id, [[e.destination_rate_id, e.timing_id, fraction_text(e.weight)]
                          for e in p.entries]] for p in deck.plans],
        "profiles": [[p.rating_key, p.category, p.subject,
                      p.activation.isoformat().replace("+00:00", "Z"), p.plan_id,
                      list(p.fallback_subjects)] for p in deck.profiles],
        "base_version": deck.base_version, "fallback_rating_key": deck.fallback_rating_key,
        "ends": [[e.rating_key, e.category, e.prefix, e.at.isoformat().replace("+00:00", "Z")]
                 for e in deck.ends],
    }


def deck_from_json(doc: dict[str, Any]) -> Deck:
    """Rebuild a Deck from `deck_to_json` output; DeckError if the document is malformed."""
    try:
        if doc.get("codec") != CODEC_VERSION:
            raise DeckError(f"unsupported deck codec {doc.get('codec')!r}")
        return Deck(
            name=doc["name"], currency=doc["currency"], format=doc["format"],
            destinations=tuple(Destination(i, tuple(ps), n) for i, n, ps in doc["destinations"]),
            rates=tuple(Rate(i, fee, tuple(RateGroup(f, parse_fraction_text(r), u, inc)
                                           for f, r, u, inc in groups))
                        for i, fee, groups in doc["rates"]),
            destination_rates=tuple(
                DestinationRate(i, dest, rate, rnd, dec, mx, st)
                for i, rnd, dec, mx, st, pairs in doc["destination_rates"]
                for dest, rate in pairs),
            timings=tuple(Timing(i, frozenset(y), frozenset(m), frozenset(md), frozenset(wd), s)
                          for i, y, m, md, wd, s in doc["timings"]),
            plans=tuple(RatingPlan(i, tuple(PlanEntry(dr, t, parse_fraction_text(w))
                                            for dr, t, w in entries))
                        for i, entries in doc["plans"]),
            profiles=tuple(RatingProfile(k, c, s, instant(a, "activation"), p, tuple(fb))
                           for k, c, s, a, p, fb in doc["profiles"]),
            row_count=doc["row_count"], version=doc["version"], timezone=doc["timezone"],
            base_version=doc.get("base_version", 0),
            fallback_rating_key=doc.get("fallback_rating_key"),
            ends=tuple(RatingEnd(k, c, p, instant(a, "end")) for k, c, p, a in doc.get("ends", ())))
    except DeckError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise DeckError(f"malformed deck document: {exc!r}") from None
