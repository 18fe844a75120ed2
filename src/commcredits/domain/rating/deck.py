"""A deck: one imported tariff, self-consistent, in one currency.

`Deck.__post_init__` checks ids are unique and every reference resolves (destination rate ->
destination and rate, plan -> destination rate and timing, profile -> plan). Importers run
the same checks earlier with file and line numbers; this is the second line of defence for
decks rebuilt from JSON.

`version` orders decks in a `RatingIndex`: for the same (key, category, subject,
activation) the deck with the higher version (or, on a tie, the one added later) wins.
`timezone` is the IANA zone in which the deck's timings and midnights are read ("UTC" by
default).

An **update** deck (`base_version` > 0) holds only changes to the deck of that version:
`RatingIndex` lays each of its plans over the base's plan in force at the same instant
(a prefix it names gets its new rate, every other prefix keeps the base's) and applies
`ends` (rates it ends at an instant). `fallback_rating_key` makes the deck an override:
what its rating keys do not price is priced by that key's decks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .model import (
    ANY,
    DeckError,
    Destination,
    DestinationRate,
    Rate,
    RatingEnd,
    RatingPlan,
    RatingProfile,
    Timing,
)

FORMATS = ("cgrates", "ratecard")


@dataclass(frozen=True, slots=True)
class Deck:
    name: str
    currency: str
    format: str
    destinations: tuple[Destination, ...]
    rates: tuple[Rate, ...]
    destination_rates: tuple[DestinationRate, ...]
    timings: tuple[Timing, ...]
    plans: tuple[RatingPlan, ...]
    profiles: tuple[RatingProfile, ...]
    row_count: int = 0
    version: int = 0
    timezone: str = "UTC"
    base_version: int = 0
    fallback_rating_key: str | None = None
    ends: tuple[RatingEnd, ...] = ()

    def __post_init__(self) -> None:
        if not (len(self.currency) == 3 and self.currency.isalpha() and self.currency.isupper()):
            raise DeckError(f"currency {self.currency!r} is not an ISO 4217 code")
        if self.format not in FORMATS:
            raise DeckError(f"format {self.format!r} is not one of {', '.join(FORMATS)}")
        if not self.name:
            raise DeckError("a deck needs a name")
        if type(self.base_version) is not int or self.base_version < 0:
            raise DeckError(f"base version {self.base_version!r} must be an int >= 0")
        if self.fallback_rating_key is not None and (
                type(self.fallback_rating_key) is not str or not self.fallback_rating_key):
            raise DeckError("a fallback rating key must be a non-empty string")
        if self.ends and not self.base_version:
            raise DeckError("only an update deck lists ends")
        for problem in deck_problems(self):
            raise DeckError(problem)

    def with_version(self, version: int) -> Deck:
        """This deck numbered `version`, without checking it again (nothing else changed)."""
        copy = object.__new__(Deck)
        for name in self.__slots__:
            object.__setattr__(copy, name, getattr(self, name))
        object.__setattr__(copy, "version", version)
        return copy

    @property
    def prefix_count(self) -> int:
        return sum(len(d.prefixes) for d in self.destinations)

    @property
    def rating_keys(self) -> list[str]:
        return sorted({p.rating_key for p in self.profiles} | {e.rating_key for e in self.ends})


def _duplicates(ids: list[str]) -> Iterator[str]:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            yield i
        seen.add(i)


def deck_problems(deck: Deck) -> Iterator[str]:
    """Yield every broken invariant of a deck (unique ids, resolvable references)."""
    for what, ids in (("destination", [d.id for d in deck.destinations]),
                      ("rate", [r.id for r in deck.rates]),
                      ("timing", [t.id for t in deck.timings]),
                      ("rating plan", [p.id for p in deck.plans])):
        for dup in _duplicates(ids):
            yield f"duplicate {what} id {dup!r}"
    destinations = {d.id for d in deck.destinations}
    rates = {r.id for r in deck.rates}
    timings = {t.id for t in deck.timings} | {ANY}
    pairs: set[tuple[str, str]] = set()
    for dr in deck.destination_rates:
        if dr.destination_id != ANY and dr.destination_id not in destinations:
            yield f"destination rate {dr.id!r} names unknown destination {dr.destination_id!r}"
        if dr.rate_id not in rates:
            yield f"destination rate {dr.id!r} names unknown rate {dr.rate_id!r}"
        if (dr.id, dr.destination_id) in pairs:
            yield f"destination rate {dr.id!r} binds {dr.destination_id!r} twice"
        pairs.add((dr.id, dr.destination_id))
    drs = {dr.id for dr in deck.destination_rates}
    for plan in deck.plans:
        for e in plan.entries:
            if e.destination_rate_id not in drs:
                yield (f"rating plan {plan.id!r} names unknown destination rate "
                       f"{e.destination_rate_id!r}")
            if e.timing_id not in timings:
                yield f"rating plan {plan.id!r} names unknown timing {e.timing_id!r}"
    plans = {p.id for p in deck.plans}
    for prof in deck.profiles:
        if prof.plan_id not in plans:
            yield f"rating profile names unknown rating plan {prof.plan_id!r}"
