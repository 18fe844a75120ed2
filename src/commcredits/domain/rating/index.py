"""RatingIndex: decks compiled for fast lookups, merged by version.

Compilation turns each deck's plans into a dict prefix -> `Quick` (the plan entries for
that prefix as `Candidates`, best weight first, with the single-span pricing figures
precomputed), so a longest-prefix match is at most one dict lookup per distinct prefix
length in the plan (about 15 for E.164). Rates become `CRate`s with integer arithmetic
ready for the hot path: a group's exact cost in micros is `mnum * billed_seconds / mden`.
Candidates whose choice cannot depend on the time (the top weight has only `*any` timings)
carry it in `static`, so a single-span quote never touches a calendar.

Ids are namespaced by the deck they come from (plans are compiled per deck and referenced
by object), so two decks cannot collide. Profiles from every deck are merged into one table
(key, category, subject) -> activations sorted by time; for the same activation instant
the deck with the higher `version` wins (a tie goes to the deck added later), and a whole
(not update) deck drops older decks' activations at or after its first one on each of its
lines, so a replacement is never shadowed by an older deck's later price change.

An index is immutable once built: `with_deck` returns a new index that shares the
compiled plans of the old one, so the service layer can swap a reference atomically.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

from .deck import Deck
from .model import ANY, ANY_TIMING, Destination, DestinationRate, Rate, RatingProfile, Timing
from .timing import LocalClock, clock_for, epoch_seconds, select_in_force

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
    """The choices for one prefix of one plan, best weight first.

    `static` is the choice when it cannot depend on the time (the top weight has only
    `*any` timings), so a single-span quote never touches a calendar.
    """

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


# How a single-span quote rounds (`Quick.mode`). HALF_UP_EVEN: half up with an even `q`,
# (2n + q) // 2q == (n + q/2) // q. FINISH: a `free` max cost may cap the total (rating._finish).
# TIMED: the choice depends on the time (rating_timing.select_in_force).
UP, DOWN, HALF_UP, HALF_UP_EVEN, FINISH, TIMED = range(6)


class Quick(NamedTuple):
    """What a plan's prefix dict holds: `cands`, with its single-span pricing precomputed.

    For a static choice, a call of d <= `single_until` seconds (wholly in the first rate
    group) bills b = ceil(d / `increment`) * `increment`; its exact total is
    (`base` + `mnum` * b) / `den` micros, rounded with `mode` to a multiple of `step`
    (`q` = `den` * `step`, `half` = q // 2). One tuple, read with one unpack: the hot path
    touches no other object of the plan (each would be one more cache miss).
    """

    single_until: int
    increment: int
    den: int
    base: int
    mnum: int
    mode: int
    step: int
    q: int
    half: int
    choice: Choice | None
    cands: Candidates


def quick_for(cands: Candidates, ints: dict[int, int]) -> Quick:
    """`cands` with its single-span figures (`ints` interns equal numbers across a deck)."""
    choice = cands.static
    if choice is None:
        return Quick(0, 1, 1, 0, 0, TIMED, 1, 1, 0, None, cands)
    rate = choice.rate
    g = rate.first
    q = g.mden * choice.step
    if choice.strategy == "free":
        mode = FINISH
    elif choice.method == "half_up":
        mode = HALF_UP_EVEN if q % 2 == 0 else HALF_UP
    else:
        mode = UP if choice.method == "up" else DOWN
    n = ints.setdefault
    return Quick(n(rate.single_until, rate.single_until), g.increment_s, n(g.mden, g.mden),
                 n(rate.connect_micros * g.mden, rate.connect_micros * g.mden),
                 n(g.mnum, g.mnum), mode, choice.step, n(q, q), n(q // 2, q // 2), choice,
                 cands)


class CompiledPlan:
    """A plan's prefixes in one dict; `lengths` are the distinct prefix lengths, longest first.

    `table` maps each prefix to its `Quick` (candidates and precomputed figures), `any` is
    the `*any` destination's; `upto[n]` are the lengths <= n (numbers shorter than the
    longest prefix).
    """

    __slots__ = ("any", "clock", "id", "lengths", "table", "upto")

    def __init__(self, plan_id: str, clock: LocalClock, prefixes: dict[str, Candidates],
                 any_cands: Candidates | None, ints: dict[int, int] | None = None) -> None:
        ints = {} if ints is None else ints
        self.id, self.clock = plan_id, clock
        self.table = {p: quick_for(c, ints) for p, c in prefixes.items()}
        self.any = quick_for(any_cands, ints) if any_cands is not None else None
        self.lengths = tuple(sorted({len(p) for p in prefixes}, reverse=True))
        longest = self.lengths[0] if self.lengths else 0
        self.upto = tuple(tuple(n for n in self.lengths if n <= k) for k in range(longest))

    @classmethod
    def from_table(cls, plan_id: str, clock: LocalClock, table: dict[str, Quick],
                   any_quick: Quick | None) -> CompiledPlan:
        """A plan made of already compiled entries (an update laid over its base)."""
        plan = cls.__new__(cls)
        plan.id, plan.clock, plan.table, plan.any = plan_id, clock, table, any_quick
        plan.lengths = tuple(sorted({len(p) for p in table}, reverse=True))
        longest = plan.lengths[0] if plan.lengths else 0
        plan.upto = tuple(tuple(n for n in plan.lengths if n <= k) for k in range(longest))
        return plan

    def match(self, digits: str) -> Candidates | None:
        """Longest prefix of `digits` with a rate in this plan, else the *any destination."""
        table = self.table
        n = len(digits)
        for length in self.lengths:
            if length <= n:
                found = table.get(digits[:length])
                if found is not None:
                    return found.cands
        return self.any.cands if self.any is not None else None


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


# One chain item as the hot path reads it: the plan's prefix table, its lengths (longest
# first), the longest length, `upto`, its *any destination, the subject and activation.
Step = tuple[dict[str, Quick], tuple[int, ...], int, tuple[tuple[int, ...], ...],
             Quick | None, str, Activation]


class Chain:
    """Subjects and their activations in force over [lo, hi), in fallback order."""

    __slots__ = ("hi", "items", "lo", "steps")

    def __init__(self, lo: int, hi: int, items: tuple[tuple[str, Activation], ...]) -> None:
        self.lo, self.hi, self.items = lo, hi, items
        self.steps: tuple[Step, ...] = tuple(
            (a.plan.table, a.plan.lengths, len(a.plan.upto), a.plan.upto, a.plan.any, s, a)
            for s, a in items)


class Resolution(NamedTuple):
    """What prices the call from instant t, and the instant (`until`) it may change.

    A named tuple: the hot path builds one per call with `tuple.__new__`, far cheaper than
    an object with an `__init__`.
    """

    choice: Choice
    cands: Candidates
    act: Activation
    subject: str
    until: int


def compile_deck(deck: Deck) -> dict[str, CompiledPlan]:
    """Compile every rating plan of a deck (ids resolved within the deck only)."""
    clock = clock_for(deck.timezone)
    ints: dict[int, int] = {}
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
            Candidates(None, any_choices) if any_choices else None, ints)
    return plans


class RatingIndex:
    """Compiled, merged decks; see the module docstring."""

    __slots__ = ("_acts", "_compiled", "_decks", "_fallback", "_lines", "memo")

    def __init__(self) -> None:
        # (key, category, subject, currency) -> the last chain resolved; read directly by
        # rating.price_call's fast path, refreshed through `chain_at`.
        self.memo: dict[tuple[str, str, str, str | None], Chain] = {}
        self._decks: tuple[Deck, ...] = ()
        self._acts: dict[tuple[str, str, str], dict[int, Activation]] = {}
        self._lines: dict[tuple[str, str, str], ProfileLine] = {}
        # rating key -> the key whose decks price what it does not (override decks)
        self._fallback: dict[str, str | None] = {}
        # id(deck) -> (deck, its compiled plans), for a later build to reuse
        self._compiled: dict[int, tuple[Deck, dict[str, CompiledPlan]]] = {}

    @classmethod
    def build(cls, decks: Iterable[Deck], reuse: RatingIndex | None = None) -> RatingIndex:
        """Compile and merge `decks`; a deck object `reuse` already compiled is not compiled
        again (a rebuild after an activation or another process's import)."""
        index = cls()
        ordered = sorted(decks, key=lambda d: d.version)
        for deck in ordered:
            hit = reuse._compiled.get(id(deck)) if reuse is not None else None
            index._add(deck, hit[1] if hit is not None and hit[0] is deck else None)
        index._lines = {k: ProfileLine(v) for k, v in index._acts.items()}
        return index

    def with_deck(self, deck: Deck) -> RatingIndex:
        """A new index with `deck` added on top (it wins ties with older decks)."""
        new = RatingIndex()
        new._decks = self._decks
        new._acts = {k: dict(v) for k, v in self._acts.items()}
        new._fallback = dict(self._fallback)
        new._compiled = dict(self._compiled)
        new._add(deck)
        new._lines = {k: ProfileLine(v) for k, v in new._acts.items()}
        return new

    @property
    def decks(self) -> tuple[Deck, ...]:
        return self._decks

    @property
    def lines(self) -> dict[tuple[str, str, str], ProfileLine]:
        """(rating key, category, subject) -> its activations in time order."""
        return self._lines

    def fallback_key(self, key: str) -> str | None:
        return self._fallback.get(key)

    def _add(self, deck: Deck, plans: dict[str, CompiledPlan] | None = None) -> None:
        if plans is None:
            plans = compile_deck(deck)
        self._compiled[id(deck)] = (deck, plans)
        self._decks = (*self._decks, deck)
        for rating_key in deck.rating_keys:
            self._fallback[rating_key] = deck.fallback_rating_key
        if deck.base_version:
            from .layers import overlay

            for line, at, act in overlay(self._acts, deck, plans):
                self._acts.setdefault(line, {})[at] = act
            return
        self._supersede(deck)
        for prof in deck.profiles:
            key = (prof.rating_key, prof.category, prof.subject)
            start = epoch_seconds(prof.activation)
            acts = self._acts.setdefault(key, {})
            old = acts.get(start)
            if old is None or old.deck.version <= deck.version:
                acts[start] = Activation(prof, plans[prof.plan_id], deck)

    def _supersede(self, deck: Deck) -> None:
        """A whole deck replaces its lines from its first activation on: older decks'
        activations at or after that instant leave the line (calls before it keep them)."""
        first: dict[tuple[str, str, str], int] = {}
        for prof in deck.profiles:
            line = (prof.rating_key, prof.category, prof.subject)
            start = epoch_seconds(prof.activation)
            first[line] = min(first.get(line, start), start)
        for line, start in first.items():
            acts = self._acts.get(line)
            if acts:
                for t in [t for t, a in acts.items() if t >= start and a.deck.version < deck.version]:
                    del acts[t]

    def chain_at(self, key: str, category: str, subject: str, t: int,
                 currency: str | None) -> Chain:
        """The activations in force at `t` for subject, its fallbacks, then *any (memoised)."""
        memo_key = (key, category, subject, currency)
        chain = self.memo.get(memo_key)
        if chain is None or not chain.lo <= t < chain.hi:
            chain = self._chain(key, category, subject, t, currency)
            if len(self.memo) >= MEMO_SIZE:
                self.memo.clear()
            self.memo[memo_key] = chain
        return chain

    def _chain(self, key: str, category: str, subject: str, t: int,
               currency: str | None) -> Chain:
        """Subject, its fallbacks and *any under `key`, then the same under the key's
        fallback key (an override deck's), and so on; each key once."""
        lo, hi = -FOREVER, FOREVER
        items: list[tuple[str, Activation]] = []
        keys: set[str] = set()
        next_key: str | None = key
        while next_key is not None and next_key not in keys:
            keys.add(next_key)
            lo, hi = self._chain_key(next_key, category, subject, t, currency, lo, hi, items)
            next_key = self._fallback.get(next_key)
        return Chain(lo, hi, tuple(items))

    def _chain_key(self, key: str, category: str, subject: str, t: int, currency: str | None,
                   lo: int, hi: int, items: list[tuple[str, Activation]]) -> tuple[int, int]:
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
        return lo, hi

    def resolve(self, key: str, category: str, subject: str, digits: str, t: int,
                currency: str | None) -> Resolution | None:
        """The choice pricing `digits` at `t`: first subject in the chain whose plan has one."""
        chain = self.memo.get((key, category, subject, currency))
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
