"""The rating model of RATING.md as frozen values that check themselves.

A `Deck` is one imported tariff (a CGRateS folder or a rate card): destinations, rates,
destination rates, timings, rating plans and rating profiles, with the deck's currency.
Ids are local to a deck; `RatingIndex` (rating_index.py) namespaces them so two decks never
collide.

Money inside rating is exact: connect fees and max costs are whole micro-units (they are
amounts), while a rate per unit is a `Fraction` (a price such as 0.0001667 per second need
not be a whole number of micros). No float is ever involved; importers go through
`decimal.Decimal` from the text. As in CGRateS, one destination-rate id may bind several
destinations (one row each), and a plan entry names a destination-rate id.

Errors form one small tree (all are `ValueError`, each with an API `code`):

    RatingError            code "rating_error"
    +-- NoRate             code "no_rate": nothing prices this call
    +-- DeckError          code "invalid_deck": a deck that cannot be imported
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Literal

ANY = "*any"
Rounding = Literal["up", "half_up", "down"]
Strategy = Literal["none", "free", "disconnect"]
ROUNDINGS: tuple[str, ...] = ("up", "half_up", "down")
STRATEGIES: tuple[str, ...] = ("none", "free", "disconnect")
MAX_DECIMALS = 18


class RatingError(ValueError):
    """Any rating failure; `code` is the API error code."""

    code = "rating_error"


class NoRate(RatingError):
    """No profile, plan, destination or timing prices this call."""

    code = "no_rate"


class DeckError(RatingError):
    """A deck that cannot be imported: `file`, 1-based physical `line` and `reason`."""

    code = "invalid_deck"

    def __init__(self, reason: str, *, file: str | None = None, line: int | None = None,
                 others: tuple[DeckError, ...] = ()) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        self.others = others
        where = file or ""
        if file and line:
            where = f"{file}:{line}"
        super().__init__(f"{where}: {reason}" if where else reason)


def _check(ok: bool, reason: str) -> None:
    if not ok:
        raise DeckError(reason)


def _is_int(value: object, low: int = 0) -> bool:
    return type(value) is int and value >= low


def _check_id(value: object, what: str) -> None:
    if type(value) is not str or not value or value.strip() != value:
        raise DeckError(f"{what} {value!r} must be a non-empty string without surrounding "
                        "spaces")


_PREFIX = re.compile(r"[^\s+]\S*")


@dataclass(frozen=True, slots=True)
class Destination:
    """A named set of number prefixes (E.164 digits without '+', or tokens like 'voicemail')."""

    id: str
    prefixes: tuple[str, ...]
    name: str = ""

    def __post_init__(self) -> None:
        _check_id(self.id, "destination id")
        _check(self.id != ANY, "a destination cannot be named *any")
        _check(isinstance(self.prefixes, tuple) and len(self.prefixes) > 0,
               f"destination {self.id!r} needs at least one prefix")
        for p in self.prefixes:
            _check(type(p) is str and _PREFIX.fullmatch(p) is not None,
                   f"bad prefix {p!r} in destination {self.id!r}")


@dataclass(frozen=True, slots=True)
class RateGroup:
    """From `from_s` seconds into the call: `rate` per `unit_s` s, billed per `increment_s` s.

    `unit_s` 0 means the group charges nothing per second (a flat per-call fee rate).
    """

    from_s: int
    rate: Fraction
    unit_s: int
    increment_s: int

    def __post_init__(self) -> None:
        _check(_is_int(self.from_s), f"group start {self.from_s!r} must be an int >= 0")
        _check(isinstance(self.rate, Fraction) and self.rate >= 0,
               f"rate {self.rate!r} must be a non-negative Fraction")
        _check(_is_int(self.unit_s), f"rate unit {self.unit_s!r} must be an int >= 0")
        _check(_is_int(self.increment_s, 1),
               f"rate increment {self.increment_s!r} must be an int >= 1")


@dataclass(frozen=True, slots=True)
class Rate:
    """A connect fee (whole micros) and groups ordered by `from_s`, the first from 0."""

    id: str
    connect_fee_micros: int
    groups: tuple[RateGroup, ...]

    def __post_init__(self) -> None:
        _check_id(self.id, "rate id")
        _check(_is_int(self.connect_fee_micros), f"rate {self.id!r}: bad connect fee")
        _check(isinstance(self.groups, tuple) and len(self.groups) > 0
               and all(isinstance(g, RateGroup) for g in self.groups),
               f"rate {self.id!r} needs at least one group")
        _check(self.groups[0].from_s == 0, f"rate {self.id!r} has no group starting at 0s")
        starts = [g.from_s for g in self.groups]
        _check(starts == sorted(set(starts)),
               f"rate {self.id!r}: group starts must be strictly increasing")


@dataclass(frozen=True, slots=True)
class DestinationRate:
    """Destination (or *any) -> rate, with the call total's rounding and optional max cost."""

    id: str
    destination_id: str
    rate_id: str
    rounding: Rounding = "up"
    decimals: int = 4
    max_cost_micros: int | None = None
    max_cost_strategy: Strategy = "none"

    def __post_init__(self) -> None:
        _check_id(self.id, "destination rate id")
        _check_id(self.destination_id, "destination id")
        _check_id(self.rate_id, "rate id")
        _check(self.rounding in ROUNDINGS, f"rounding {self.rounding!r} is not up/half_up/down")
        _check(_is_int(self.decimals) and self.decimals <= MAX_DECIMALS,
               f"decimals {self.decimals!r} must be 0..{MAX_DECIMALS}")
        _check(self.max_cost_strategy in STRATEGIES,
               f"max cost strategy {self.max_cost_strategy!r} is not none/free/disconnect")
        if self.max_cost_strategy == "none":
            _check(self.max_cost_micros is None, "a max cost needs a strategy")
        else:
            _check(self.max_cost_micros is not None and _is_int(self.max_cost_micros, 1),
                   "max cost strategy needs a max cost > 0")


@dataclass(frozen=True, slots=True)
class Timing:
    """When an entry applies: empty sets mean any; weekdays 1-7 = Mon-Sun, 0 = Sunday too."""

    id: str
    years: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    month_days: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()
    start_s: int = 0

    def __post_init__(self) -> None:
        _check_id(self.id, "timing id")
        for values, low, high, what in (
            (self.years, 1, 9999, "year"), (self.months, 1, 12, "month"),
            (self.month_days, 1, 31, "month day"), (self.weekdays, 0, 7, "weekday"),
        ):
            _check(isinstance(values, frozenset)
                   and all(_is_int(v) and low <= v <= high for v in values),
                   f"timing {self.id!r}: {what}s must be in {low}..{high}")
        _check(_is_int(self.start_s) and self.start_s < 86400,
               f"timing {self.id!r}: start must be a time of day")

    @property
    def is_any(self) -> bool:
        return not (self.years or self.months or self.month_days or self.weekdays
                    or self.start_s)


ANY_TIMING = Timing(ANY)


@dataclass(frozen=True, slots=True)
class PlanEntry:
    """One line of a rating plan: destination-rate id, timing id (or *any), weight."""

    destination_rate_id: str
    timing_id: str = ANY
    weight: Fraction = Fraction(0)

    def __post_init__(self) -> None:
        _check_id(self.destination_rate_id, "destination rate id")
        _check_id(self.timing_id, "timing id")
        _check(isinstance(self.weight, Fraction), "weight must be a Fraction")


@dataclass(frozen=True, slots=True)
class RatingPlan:
    id: str
    entries: tuple[PlanEntry, ...]

    def __post_init__(self) -> None:
        _check_id(self.id, "rating plan id")
        _check(isinstance(self.entries, tuple) and len(self.entries) > 0,
               f"rating plan {self.id!r} has no entries")


@dataclass(frozen=True, slots=True)
class RatingProfile:
    """(rating key, category, subject) uses `plan_id` from `activation` (aware) on."""

    rating_key: str
    category: str
    subject: str
    activation: datetime
    plan_id: str
    fallback_subjects: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for value, what in ((self.rating_key, "rating key"), (self.category, "category"),
                            (self.subject, "subject"), (self.plan_id, "rating plan id")):
            _check_id(value, what)
        _check(isinstance(self.activation, datetime)
               and self.activation.utcoffset() == timedelta(0),
               "activation must be an aware UTC datetime")
        _check(isinstance(self.fallback_subjects, tuple), "fallback subjects must be a tuple")
        for s in self.fallback_subjects:
            _check_id(s, "fallback subject")


@dataclass(frozen=True, slots=True)
class RatingEnd:
    """An update deck ends a rate: from `at` on, `prefix` of (rating key, category) has none
    (a rate card row's `effective_to`)."""

    rating_key: str
    category: str
    prefix: str
    at: datetime

    def __post_init__(self) -> None:
        for value, what in ((self.rating_key, "rating key"), (self.category, "category"),
                            (self.prefix, "prefix")):
            _check_id(value, what)
        _check(isinstance(self.at, datetime) and self.at.utcoffset() == timedelta(0),
               "an end must be an aware UTC datetime")

