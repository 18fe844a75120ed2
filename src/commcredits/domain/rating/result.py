"""The result of rating a call: `RatedCall` and its `Span`s.

Both are immutable named tuples rather than frozen dataclasses: a frozen dataclass pays an
`object.__setattr__` per field, which alone would cost more than the whole single-span
quote. `RatedCall` keeps the few figures computed per call plus the compiled resolution that
priced it, flattened into the same tuple (one allocation per call; `basis` rebuilds the
`Resolution`); the explanation (destination, prefix, rate, deck, rounding) is read from it
on demand, and a single-span call's span is rebuilt on demand.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from .index import Activation, Candidates, Choice, Resolution
from .model import ANY

MICROS = 1_000_000


class Span(NamedTuple):
    """Part of a call priced by one rate group: offsets and seconds from the call start."""

    start_s: int
    seconds: int
    billed_s: int
    rate: Fraction
    unit_s: int
    increment_s: int
    group_from_s: int
    rate_id: str
    destination_rate_id: str

    @property
    def cost(self) -> Fraction:
        """Exact cost in currency units: rate x billed / unit (0 for a unit of 0)."""
        return self.rate * self.billed_s / self.unit_s if self.unit_s else Fraction(0)


class _Figures(NamedTuple):
    charge_micros: int
    duration_s: int
    billed_seconds: int
    capped: bool
    exact_num: int
    exact_den: int
    choice: Choice  # the resolution that priced the call (see `basis`)
    candidates: Candidates
    activation: Activation
    subject: str  # the profile subject that priced the call (the caller's, a fallback or *any)
    until: int
    span_list: tuple[Span, ...] | None = None


class RatedCall(_Figures):
    """The price of a call (`charge_micros`, in `currency`) and why.

    `capped` says a `free` max cost applied; `exact_total` is the sum before the single
    rounding; `span_list` is None for a single-span call (see `spans`).
    """

    __slots__ = ()

    @property
    def basis(self) -> Resolution:
        """The compiled resolution that priced the call (at its start)."""
        return Resolution(self.choice, self.candidates, self.activation, self.subject,
                          self.until)

    @property
    def exact_total(self) -> Fraction:
        return Fraction(self.exact_num, self.exact_den * MICROS)

    @property
    def spans(self) -> tuple[Span, ...]:
        if self.span_list is not None:
            return self.span_list
        g = self.choice.rate.first
        return (Span(0, self.duration_s, self.billed_seconds, g.rate, g.unit_s, g.increment_s,
                     0, self.rate_id, self.destination_rate_id),)

    @property
    def currency(self) -> str:
        return self.activation.deck.currency

    @property
    def connect_fee_micros(self) -> int:
        return self.choice.rate.connect_micros if self.duration_s else 0

    @property
    def destination_id(self) -> str:
        dest = self.choice.destination
        return dest.id if dest else ANY

    @property
    def destination_name(self) -> str:
        dest = self.choice.destination
        return dest.name if dest else ""

    @property
    def prefix(self) -> str | None:
        """The matched prefix; None when the plan's *any destination priced the call."""
        return self.candidates.prefix

    @property
    def rate_id(self) -> str:
        return self.choice.rate.id

    @property
    def destination_rate_id(self) -> str:
        return self.choice.dr.id

    @property
    def rating_plan_id(self) -> str:
        return self.choice.plan_id

    @property
    def deck(self) -> str:
        return self.activation.deck.name

    @property
    def deck_version(self) -> int:
        return self.activation.deck.version

    @property
    def rounding(self) -> str:
        return self.choice.method

    @property
    def decimals(self) -> int:
        return min(self.choice.dr.decimals, 6)

    def explain(self) -> dict[str, object]:
        """A JSON-ready explanation of the price (amounts as exact decimal strings)."""
        return {
            "charge_micros": self.charge_micros, "currency": self.currency,
            "duration_s": self.duration_s, "billed_seconds": self.billed_seconds,
            "connect_fee_micros": self.connect_fee_micros, "capped": self.capped,
            "destination_id": self.destination_id, "prefix": self.prefix,
            "rate_id": self.rate_id, "rating_plan_id": self.rating_plan_id,
            "subject": self.subject, "deck": self.deck, "deck_version": self.deck_version,
            "rounding": self.rounding, "decimals": self.decimals,
            "exact_total": str(self.exact_total),
            "spans": [{"start_s": s.start_s, "seconds": s.seconds, "billed_s": s.billed_s,
                       "rate": str(s.rate), "unit_s": s.unit_s, "increment_s": s.increment_s,
                       "cost": str(s.cost)} for s in self.spans],
        }
