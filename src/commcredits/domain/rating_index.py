"""RatingIndex: decks compiled for fast lookups, merged by version.

Compilation turns each deck's plans into a dict prefix -> `Candidates` (the plan entries
for that prefix, best weight first), so a longest-prefix match is at most one dict lookup
per distinct prefix length in the plan (about 15 for E.164). Rates become `CRate`s with
integer arithmetic ready for the hot path: a group's exact cost in micros is
`mnum * billed_seconds / mden`. Candidates whose choice cannot depend on the time (the top
weight has only `*any` timings) carry it in `static`, so a single-span quote never touches a
calendar.

Ids are namespaced by the deck they come from (plans are compiled per deck and referenced
by object), so two decks cannot collide. Profiles from every deck are merged into one table
(key, category, subject) -> activations sorted by time; for the same activation instant
the deck with the higher `version` wins (a tie goes to the deck added later).

An index is immutable once built: `with_deck` returns a new index that shares the
compiled plans of the old one, so the service layer can swap a reference atomically.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from commcredits.domain.rating_deck import Deck
from commcredits.domain.rating_model import (
    ANY,
    ANY_TIMING,
    Destination,
    DestinationRate,
    Rate,
    RatingProfile,
    Timing,
)
from commcredits.domain.rating_timing import LocalClock, clock_for, epoch_seconds, select_in_force

MICROS = 1_000_000
FOREVER = 2**62  # an instant after any call ends
MEMO_SIZE = 100_000


class CGroup:
    """A rate group with integer cost arithmetic: cost in micros = mnum * billed / mden."""

    __slots__ = ("from_s", "increment_s", "mden", "mnum", "rate", "unit_s")

    def __init__(self, from_s: int, rate: Fraction, unit_s: int, increment_s: int) -> None:
        self.from_s, self.rate, self.unit_s, self.increment_s = from_s, rate, unit_s, increment_s
        self.mnum: int = rate.numerator * MICROS if unit_s else 0
        self.mden: int = rate.denominator * unit_s if unit_s else 1


class CRate:
    __slots__ = ("connect_micros", "first", "groups", "id", "single_until", "starts")

    def __init__(self, rate: Rate) -> None:
        self.id = rate.id
        self.connect_micros = rate.connect_fee_micros
        self.groups = tuple(CGroup(g.from_s, g.rate, g.unit_s, g.increment_s)
                            for g in rate.groups)
        self.starts = [g.from_s for g in rate.groups]
        self.first = self.groups[0]
        self.single_until: int = rate.groups[1].from_s if len(rate.groups) > 1 else FOREVER


class Choice:
    """One (plan entry, destination-rate row): everything a span needs to be priced."""

    __slots__ = ("destination", "dr", "max_micros", "method", "plan_id", "rate", "step",
                 "strategy", "timing", "weight")

    def __init__(self, plan_id: str, dr: DestinationRate, destination: Destination | None,
                 rate: CRate, timing: Timing, weight: Fraction) -> None:
        self.plan_id, self.dr, self.destination, self.rate = plan_id, dr, destination, rate
        self.timing, self.weight = timing, weight
        self.method: str = dr.rounding
        self.step: int = 10 ** (6 - min(dr.decimals, 6))
        self.max_micros: int | None = dr.max_cost_micros
        self.strategy: str = dr.max_cost_strategy


class Candidates:
    """The choices for one prefix of one plan, best weight first."""

    __slots__ = ("choices", "prefix", "static")

    def __init__(self, prefix: str | None, choices: list[Choice]) -> None:
        if len(choices) > 1:
            choices.sort(key=lambda c: -c.weight)  # stable: equal weights keep plan order
        self.prefix = prefix
        self.choices = tuple(choices)
        if len(choices) == 1:
            self.static = choices[0] if choices[0].timing.is_any else None
            return
        top = [c for c in choices if c.weight == choices[0].weight]
        self.static = choices[0] if all(c.timing.is_any for c in top) else None


class CompiledPlan:
    """A plan's prefixes in one dict; `lengths` are the distinct prefix lengths, longest first.

    (A binary search over lengths with marker entries was measured slower in CPython: real
    numbers usually match within the first few lengths tried.)
    """

    __slots__ = ("any", "clock", "id", "lengths", "prefixes")

    def __init__(self, plan_id: str, clock: LocalClock, prefixes: dict[str, Candidates],
                 any_cands: Candidates | None) -> None:
        self.id, self.clock, self.prefixes, self.any = plan_id, clock, prefixes, any_cands
        self.lengths = tuple(sorted({len(p) for p in prefixes}, reverse=True))

    def match(self, digits: str) -> Candidates | None:
        """Longest prefix of `digits` with a rate in this plan, else the *any destination."""
        prefixes = self.prefixes
        n = len(digits)
        for length in self.lengths:
            if length <= n:
                found = prefixes.get(digits[:length])
                if found is not None:
                    return found
        return self.any


@dataclass(frozen=True, slots=True)
class Activation:
    """A profile row compiled: its plan object, fallbacks and the deck it came from."""

    profile: RatingProfile
    plan: CompiledPlan
    deck: Deck


class ProfileLine:
    __slots__ = ("acts", "starts")

    def __init__(self, by_start: dict[int, Activation]) -> None:
        self.starts = sorted(by_start)
        self.acts = [by_start[s] for s in self.starts]


class Chain:
    """Subjects and their activations in force over [lo, hi), in fallback order."""

    __slots__ = ("hi", "items", "lo")

    def __init__(self, lo: int, hi: int, items: tuple[tuple[str, Activation], ...]) -> None:
        self.lo, self.hi, self.items = lo, hi, items


class Resolution:
    """What prices the call from instant t, and the instant (`until`) it may change."""

    __slots__ = ("act", "cands", "choice", "subject", "until")

    def __init__(self, choice: Choice, cands: Candidates, act: Activation, subject: str,
                 until: int) -> None:
        self.choice, self.cands, self.act, self.subject, self.until = (
            choice, cands, act, subject, until)


def compile_deck(deck: Deck) -> dict[str, CompiledPlan]:
    """Compile every rating plan of a deck (ids resolved within the deck only)."""
    clock = clock_for(deck.timezone)
    destinations = {d.id: d for d in deck.destinations}
    rates = {r.id: CRate(r) for r in deck.rates}
    timings = {t.id: t for t in deck.timings}
    timings[ANY] = ANY_TIMING
    rows: dict[str, list[DestinationRate]] = {}
    for dr in deck.destination_rates:
        rows.setdefault(dr.id, []).append(dr)
    plans: dict[str, CompiledPlan] = {}
    for plan in deck.plans:
        by_prefix: dict[str, list[Choice]] = {}
        any_choices: list[Choice] = []
        for entry in plan.entries:
            timing = timings[entry.timing_id]
            for dr in rows[entry.destination_rate_id]:
                dest = destinations.get(dr.destination_id)
                choice = Choice(plan.id, dr, dest, rates[dr.rate_id], timing, entry.weight)
                if dest is None:
                    any_choices.append(choice)
                    continue
                for p in dest.prefixes:
                    by_prefix.setdefault(p, []).append(choice)
        plans[plan.id] = CompiledPlan(
            plan.id, clock, {p: Candidates(p, cs) for p, cs in by_prefix.items()},
            Candidates(None, any_choices) if any_choices else None)
    return plans


class RatingIndex:
    """Compiled, merged decks; see the module docstring."""

    __slots__ = ("_acts", "_decks", "_lines", "_memo")

    def __init__(self) -> None:
        self._memo: dict[tuple[str, str, str, str | None], Chain] = {}
        self._decks: tuple[Deck, ...] = ()
        self._acts: dict[tuple[str, str, str], dict[int, Activation]] = {}
        self._lines: dict[tuple[str, str, str], ProfileLine] = {}

    @classmethod
    def build(cls, decks: Iterable[Deck]) -> RatingIndex:
        index = cls()
        ordered = sorted(decks, key=lambda d: d.version)
        for deck in ordered:
            index._add(deck)
        index._lines = {k: ProfileLine(v) for k, v in index._acts.items()}
        return index

    def with_deck(self, deck: Deck) -> RatingIndex:
        """A new index with `deck` added on top (it wins ties with older decks)."""
        new = RatingIndex()
        new._decks = self._decks
        new._acts = {k: dict(v) for k, v in self._acts.items()}
        new._add(deck)
        new._lines = {k: ProfileLine(v) for k, v in new._acts.items()}
        return new

    @property
    def decks(self) -> tuple[Deck, ...]:
        return self._decks

    def _add(self, deck: Deck) -> None:
        plans = compile_deck(deck)
        self._decks = (*self._decks, deck)
        for prof in deck.profiles:
            key = (prof.rating_key, prof.category, prof.subject)
            start = epoch_seconds(prof.activation)
            acts = self._acts.setdefault(key, {})
            old = acts.get(start)
            if old is None or old.deck.version <= deck.version:
                acts[start] = Activation(prof, plans[prof.plan_id], deck)

    def chain_at(self, key: str, category: str, subject: str, t: int,
                 currency: str | None) -> Chain:
        """The activations in force at `t` for subject, its fallbacks, then *any (memoised)."""
        memo_key = (key, category, subject, currency)
        chain = self._memo.get(memo_key)
        if chain is None or not chain.lo <= t < chain.hi:
            chain = self._chain(key, category, subject, t, currency)
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            self._memo[memo_key] = chain
        return chain

    def _chain(self, key: str, category: str, subject: str, t: int,
               currency: str | None) -> Chain:
        lo, hi = -FOREVER, FOREVER
        items: list[tuple[str, Activation]] = []
        queue, seen = [subject], set()
        i = 0
        while i < len(queue) or ANY not in seen:
            if i == len(queue):
                queue.append(ANY)
            s = queue[i]
            i += 1
            line = None if s in seen else self._lines.get((key, category, s))
            seen.add(s)
            if line is None:
                continue
            k = bisect_right(line.starts, t) - 1
            if k + 1 < len(line.starts):
                hi = min(hi, line.starts[k + 1])
            if k < 0:
                continue
            lo = max(lo, line.starts[k])
            act = line.acts[k]
            queue.extend(act.profile.fallback_subjects)
            if currency is None or act.deck.currency == currency:
                items.append((s, act))
        return Chain(lo, hi, tuple(items))

    def resolve(self, key: str, category: str, subject: str, digits: str, t: int,
                currency: str | None) -> Resolution | None:
        """The choice pricing `digits` at `t`: first subject in the chain whose plan has one."""
        chain = self._memo.get((key, category, subject, currency))
        if chain is None or not chain.lo <= t < chain.hi:
            chain = self.chain_at(key, category, subject, t, currency)
        until = chain.hi
        for s, act in chain.items:
            cands = act.plan.match(digits)
            if cands is None:
                continue
            choice = cands.static
            if choice is None:
                choice, changes = select_in_force(cands.choices, t, act.plan.clock)
                until = min(until, changes)
                if choice is None:
                    continue
            return Resolution(choice, cands, act, s, until)
        return None
