"""Import a rate card CSV (one row per destination) as a Deck.

Columns: category,prefix,destination,rate_per_minute,connection_fee,initial_increment,
next_increment,effective_from (a header row naming them may reorder them). Lines starting
with `#` are comments; a comment such as `# deck: sample-usd; currency: USD; rounding:
half_up; decimals: 2` supplies deck-level defaults, which explicit arguments override.

Mapping onto the model (CGRateS-shaped, so one engine rates both formats):
- destination `<category>:<prefix>` per (category, prefix), named by the row;
- one rate per distinct (rate, fee, initial, next), shared by the rows, with unit 60 s:
  one group in steps of `initial_increment`, plus (when next differs) a group from
  `initial_increment` s in steps of `next_increment` (60/1 = first minute whole, then per s);
- per category and distinct `effective_from` E: one destination rate and one plan
  `<category>@E` holding, for every prefix, the row with the latest effective_from <= E
  (a later date only needs the rows that change), and a `*any` profile activated at E
  under the rating key (default: the currency).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from commcredits.rating_import import values as v
from commcredits.rating_import.values import Problems, Row

from ..domain.rating.deck import Deck
from ..domain.rating.model import (
    ANY,
    DeckError,
    Destination,
    DestinationRate,
    PlanEntry,
    Rate,
    RateGroup,
    RatingEnd,
    RatingPlan,
    RatingProfile,
)

COLUMNS = ("category", "prefix", "destination", "rate_per_minute", "connection_fee",
           "initial_increment", "next_increment", "effective_from")
ROUNDING = {"up": "up", "half_up": "half_up", "down": "down",
            "*up": "up", "*middle": "half_up", "*down": "down"}
_TOKEN = re.compile(r"[A-Za-z0-9_.*:-]+")


@dataclass(frozen=True, slots=True)
class CardRow:
    line: int
    category: str
    prefix: str
    name: str
    rate_key: tuple[Fraction, int, int, int]
    effective_from: datetime
    effective_to: datetime | None = None


def load_ratecard(text: str | bytes, *, filename: str = "ratecard.csv",
                  currency: str | None = None, rounding: str | None = None,
                  decimals: int | None = None, rating_key: str | None = None,
                  name: str | None = None, version: int = 0, timezone: str = "UTC",
                  base_version: int = 0, fallback_rating_key: str | None = None) -> Deck:
    """Parse and validate a rate card; raise DeckError (file, line, reason) on any bad row.

    With `base_version`, the card is an update of that deck version: the result holds only
    the rows given (and `ends` for rows with an effective_to), for RatingIndex to lay over
    the base. `fallback_rating_key` makes it an override deck."""
    text = v.as_text(text, filename)
    header = _header_settings(text)
    currency = currency or header.get("currency")
    if not currency:
        raise DeckError("no currency: pass one or add '# currency: USD'", file=filename)
    method = v.choice(rounding or header.get("rounding", "half_up"), "rounding", ROUNDING)
    places = decimals if decimals is not None else v.integer(
        header.get("decimals", "2"), "decimals", 0, 18)
    rows = _parse_rows(text, filename)
    try:
        return _build(rows, name=name or header.get("deck") or filename, currency=currency,
                      rounding=method, decimals=places, rating_key=rating_key or currency,
                      version=version, timezone=timezone, base_version=base_version,
                      fallback_rating_key=fallback_rating_key)
    except DeckError as exc:
        raise DeckError(exc.reason, file=filename) from None


def _header_settings(text: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    for line in io.StringIO(text, newline=None):
        s = line.strip()
        if s and not s.startswith("#"):
            break
        for part in s.lstrip("#").split(";"):
            key, sep, value = part.partition(":")
            if sep and key.strip() in ("deck", "currency", "rounding", "decimals"):
                settings[key.strip()] = value.strip()
    return settings


def _parse_rows(text: str, filename: str) -> list[CardRow]:
    p = Problems()
    order = list(range(len(COLUMNS) + 1))
    parsed: list[CardRow] = []
    seen: set[tuple[str, str, datetime]] = set()
    parse = _RowParser()
    identity = True
    for i, row in enumerate(v.read_rows(text, filename)):
        if i == 0 and {"category", "prefix"} <= {c.lower() for c in row.cells}:
            found = p.run(row, _column_order)
            order = found if found is not None else order
            identity = order == list(range(len(COLUMNS) + 1))
            continue
        cells = row.cells if identity else tuple(row.cell(j) for j in order)
        card = p.run(Row(filename, row.line, cells), parse)
        if card is None:
            continue
        key = (card.category, card.prefix, card.effective_from)
        if key in seen:
            p.add(row, f"prefix {card.prefix!r} appears twice in {card.category!r} "
                  "for the same effective_from")
        seen.add(key)
        parsed.append(card)
    if not parsed and not p.errors:
        p.add(None, "the rate card has no rows", filename)
    p.check()
    return parsed


def _column_order(row: Row) -> list[int]:
    names = [c.lower() for c in row.cells]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise DeckError(f"header lacks column(s) {', '.join(missing)}")
    optional = names.index("effective_to") if "effective_to" in names else len(names)
    return [names.index(c) for c in COLUMNS] + [optional]


class _RowParser:
    """Parses rows, memoising cell values that repeat across a card (dates, rates, steps)."""

    def __init__(self) -> None:
        self.memo: dict[tuple[int, str], object] = {}

    def _cell(self, i: int, text: str, parse: Callable[[str], object]) -> Any:
        key = (i, text)
        value = self.memo.get(key, _ABSENT)
        if value is _ABSENT:
            value = self.memo[key] = parse(text)
        return value

    def __call__(self, r: Row) -> CardRow:
        category = r.cell(0)
        if len(category) > 40 or not _TOKEN.fullmatch(category) or category == ANY:
            raise DeckError(f"category {v.shown(category)} is not a name such as outbound")
        prefix = v.prefix(r.cell(1))
        cell = self._cell
        key = (cell(3, r.cell(3), _rate_per_minute),
               cell(4, r.cell(4), lambda t: v.fee(t, "connection_fee")),
               cell(5, r.cell(5), lambda t: v.increment(t, "initial_increment")),
               cell(6, r.cell(6), lambda t: v.increment(t, "next_increment")))
        start = cell(7, r.cell(7), lambda t: v.instant(t, "effective_from"))
        end = cell(8, r.cell(8), lambda t: v.instant(t, "effective_to")) if r.cell(8) else None
        if end is not None and end <= start:
            raise DeckError(f"effective_to {v.shown(r.cell(8))} is not after effective_from")
        if len(r.cell(2)) > v.MAX_CELL or not r.cell(2).isprintable():
            raise DeckError(f"destination {v.shown(r.cell(2))} must be printable and at most "
                            f"{v.MAX_CELL} characters")
        return CardRow(r.line, category, prefix, r.cell(2), key, start, end)


_ABSENT = object()


def _rate_per_minute(text: str) -> Fraction:
    value = v.fraction(text, "rate_per_minute")
    v.price_per_minute(value, 60, "rate_per_minute", text)
    return value


def _rate(rate_id: str, key: tuple[Fraction, int, int, int]) -> Rate:
    rate, fee, initial, following = key
    groups = [RateGroup(0, rate, 60, initial)]
    if following != initial:
        groups.append(RateGroup(initial, rate, 60, following))
    return Rate(rate_id, fee, tuple(groups))


def _label(when: datetime) -> str:
    if when.hour == when.minute == when.second == when.microsecond == 0:
        return when.date().isoformat()
    return when.isoformat().replace("+00:00", "Z")


def _timeline(rows: list[CardRow]) -> dict[str, dict[datetime, list[CardRow | str]]]:
    """Per category and instant: rows that set a rate there, and prefixes (str) ended."""
    by_category: dict[str, dict[datetime, list[CardRow | str]]] = {}
    for row in rows:
        dated = by_category.setdefault(row.category, {})
        dated.setdefault(row.effective_from, []).append(row)
        if row.effective_to is not None:
            dated.setdefault(row.effective_to, []).insert(0, row.prefix)
    return {c: dict(sorted(d.items())) for c, d in by_category.items()}


def _build(rows: list[CardRow], *, name: str, currency: str, rounding: str, decimals: int,
           rating_key: str, version: int, timezone: str, base_version: int = 0,
           fallback_rating_key: str | None = None) -> Deck:
    update = bool(base_version)
    rate_ids: dict[tuple[Fraction, int, int, int], str] = {}
    names: dict[tuple[str, str], str] = {}
    for row in sorted(rows, key=lambda r: r.effective_from):
        rate_ids.setdefault(row.rate_key, f"R{len(rate_ids) + 1}")
        names[row.category, row.prefix] = row.name
    drs: list[DestinationRate] = []
    plans: list[RatingPlan] = []
    profiles: list[RatingProfile] = []
    ends: list[RatingEnd] = []
    for category, dated in _timeline(rows).items():
        current: dict[str, str] = {}
        for when, batch in dated.items():
            if update:
                current = {}
            for item in batch:
                if isinstance(item, str):
                    current.pop(item, None)
                    if update:
                        ends.append(RatingEnd(rating_key, category, item, when))
                else:
                    current[item.prefix] = rate_ids[item.rate_key]
            if not current:
                if update:
                    continue
                raise DeckError(f"every {category!r} rate has ended by {_label(when)}; "
                                "a deck cannot be left with no rates in a category")
            plan_id = f"{category}@{_label(when)}"
            drs.extend(DestinationRate(plan_id, f"{category}:{prefix}", rate_id, rounding,  # type: ignore[arg-type]
                                       decimals) for prefix, rate_id in current.items())
            plans.append(RatingPlan(plan_id, (PlanEntry(plan_id),)))
            profiles.append(RatingProfile(rating_key, category, ANY, when, plan_id))
    return Deck(
        name=name, currency=currency, format="ratecard",
        destinations=tuple(Destination(f"{c}:{p}", (p,), n) for (c, p), n in names.items()),
        rates=tuple(_rate(i, k) for k, i in rate_ids.items()),
        destination_rates=tuple(drs), timings=(), plans=tuple(plans),
        profiles=tuple(profiles), row_count=len(rows), version=version, timezone=timezone,
        base_version=base_version, fallback_rating_key=fallback_rating_key, ends=tuple(ends))
