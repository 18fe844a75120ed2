"""Update decks laid over their base, and price lists read from a RatingIndex.

**Overlay.** An update deck names only what changes. For each (rating key, category,
subject) it touches, it gets an activation at each of its instants and at each later
instant of the base: the plan there is the base's plan in force at that instant (its
compiled prefix dict, copied: a dict copy, not a recompilation) with the update's entries
up to that instant laid on top, in time order (an end at an instant is applied before a new
rate at the same instant, so a rate can end and restart). Instants before the update's
first one keep the base's activations. The newest notice wins: an update's rate for a
prefix holds over any later rate the base had scheduled for it.

**Price lists.** `price_list` walks the chain in force at an instant (subject, fallback
subjects, `*any`, then fallback keys) and lists every prefix once, the first link that has
it winning; `price_for` is the longest-prefix match of one number.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from typing import NamedTuple

from .deck import Deck
from .index import Activation, Choice, CompiledPlan, Quick, RatingIndex
from .model import ANY, RatingEnd, RatingProfile
from .timing import EPOCH, clock_for, epoch_seconds

Line = tuple[str, str, str]
Event = tuple[int, int, RatingProfile | RatingEnd]


def _events(deck: Deck) -> dict[Line, list[Event]]:
    events: dict[Line, list[Event]] = {}
    for prof in deck.profiles:
        line = (prof.rating_key, prof.category, prof.subject)
        events.setdefault(line, []).append((epoch_seconds(prof.activation), 1, prof))
    for end in deck.ends:
        line = (end.rating_key, end.category, ANY)
        events.setdefault(line, []).append((epoch_seconds(end.at), 0, end))
    for evs in events.values():
        evs.sort(key=lambda e: (e[0], e[1]))
    return events


def overlay(acts: dict[Line, dict[int, Activation]], deck: Deck,
            plans: dict[str, CompiledPlan]) -> list[tuple[Line, int, Activation]]:
    """The activations an update deck adds on top of `acts` (the index so far)."""
    out: list[tuple[Line, int, Activation]] = []
    for line, evs in _events(deck).items():
        base = acts.get(line, {})
        starts = sorted(base)
        first = evs[0][0]
        for t in sorted({e[0] for e in evs} | {s for s in starts if s > first}):
            k = bisect_right(starts, t) - 1
            under = base[starts[k]] if k >= 0 else None
            table = dict(under.plan.table) if under is not None else {}
            last: RatingProfile | None = None
            for when, _, item in evs:
                if when > t:
                    break
                if isinstance(item, RatingEnd):
                    table.pop(item.prefix, None)
                else:
                    table.update(plans[item.plan_id].table)
                    last = item
            plan_id = last.plan_id if last is not None else (
                under.plan.id if under is not None else f"{deck.name}@{t}")
            clock = under.plan.clock if under is not None else clock_for(deck.timezone)
            fallbacks = (under.profile.fallback_subjects if under is not None
                         else last.fallback_subjects if last is not None else ())
            profile = RatingProfile(line[0], line[1], line[2], EPOCH + timedelta(seconds=t),
                                    plan_id, fallbacks)
            plan = CompiledPlan.from_table(plan_id, clock, table,
                                           under.plan.any if under is not None else None)
            out.append((line, t, Activation(profile, plan, deck)))
    return out


@dataclass(frozen=True, slots=True)
class PriceRow:
    """One prefix as a tenant sees it: the first rate group's price per minute."""

    category: str
    prefix: str
    destination: str
    rate_per_minute: Fraction
    connect_fee_micros: int
    currency: str
    effective_from: int  # epoch seconds: since when this price is in force
    initial_increment: int
    next_increment: int


def _signature(choice: Choice) -> tuple[object, ...]:
    rate = choice.rate
    return (rate.connect_micros, tuple((g.from_s, g.rate, g.unit_s, g.increment_s)
                                       for g in rate.groups))


def _since(index: RatingIndex, act: Activation, prefix: str, choice: Choice) -> int:
    """The start of the run of activations (ending at `act`) that give `prefix` this price."""
    prof = act.profile
    line = index.lines.get((prof.rating_key, prof.category, prof.subject))
    start = epoch_seconds(prof.activation)
    if line is None:
        return start
    sig = _signature(choice)
    k = bisect_right(line.starts, start) - 1
    while k > 0:
        quick = line.acts[k - 1].plan.table.get(prefix)
        earlier = quick and (quick.choice or quick.cands.choices[0])
        if not earlier or _signature(earlier) != sig:
            break
        k -= 1
    return line.starts[k] if k >= 0 else start


def _row(index: RatingIndex, category: str, prefix: str, choice: Choice,
         act: Activation) -> PriceRow:
    groups = choice.rate.groups
    g = groups[0]
    per_minute = g.rate * 60 / g.unit_s if g.unit_s else Fraction(0)
    dest = choice.destination
    return PriceRow(category, prefix, (dest.name or dest.id) if dest else ANY, per_minute,
                    choice.rate.connect_micros, act.deck.currency,
                    _since(index, act, prefix, choice), g.increment_s,
                    groups[1].increment_s if len(groups) > 1 else g.increment_s)


def categories(index: RatingIndex, key: str) -> list[str]:
    """The categories priced under `key` or its fallback keys."""
    keys: set[str] = set()
    k: str | None = key
    while k is not None and k not in keys:
        keys.add(k)
        k = index.fallback_key(k)
    return sorted({c for (lk, c, _) in index.lines if lk in keys})


class Entry(NamedTuple):
    """A prefix of a price list before it is rendered (cheap: listing 50,000 costs a dict
    walk; `price_row` renders the ones shown)."""

    category: str
    prefix: str
    choice: Choice
    act: Activation

    @property
    def destination(self) -> str:
        dest = self.choice.destination
        return (dest.name or dest.id) if dest else ANY


def price_entries(index: RatingIndex, *, key: str, subject: str, t: int,
                  currency: str | None) -> list[Entry]:
    """Every prefix priced for (key, subject) at `t`, per category, sorted by prefix."""
    entries: list[Entry] = []
    for category in categories(index, key):
        seen: set[str] = set()
        for _, act in index.chain_at(key, category, subject, t, currency).items:
            for prefix, quick in act.plan.table.items():
                if prefix not in seen:
                    seen.add(prefix)
                    entries.append(Entry(category, prefix, quick.choice or quick.cands.choices[0], act))
    entries.sort(key=lambda e: (e.category, e.prefix))
    return entries


def price_row(index: RatingIndex, entry: Entry) -> PriceRow:
    return _row(index, entry.category, entry.prefix, entry.choice, entry.act)


def price_list(index: RatingIndex, *, key: str, subject: str, t: int,
               currency: str | None) -> list[PriceRow]:
    """`price_entries`, rendered."""
    return [price_row(index, e) for e in price_entries(index, key=key, subject=subject, t=t,
                                                        currency=currency)]


def price_for(index: RatingIndex, *, key: str, subject: str, t: int, currency: str | None,
              digits: str) -> list[Entry]:
    """The longest-prefix match of `digits` in each category (none where unrated)."""
    entries = []
    for category in categories(index, key):
        found = index.resolve(key, category, subject, digits, t, currency)
        if found is not None and found.cands.prefix is not None:
            entries.append(Entry(category, found.cands.prefix, found.choice, found.act))
    return entries


@dataclass(frozen=True, slots=True)
class Change:
    """One prefix that an import adds, changes or removes (`old`/`new` None when absent)."""

    category: str
    subject: str
    prefix: str
    old: PriceRow | None
    new: PriceRow | None


def _table_at(index: RatingIndex, line: Line, t: int) -> tuple[Activation | None, dict[str, Quick]]:
    found = index.lines.get(line)
    if found is None:
        return None, {}
    k = bisect_right(found.starts, t) - 1
    if k < 0:
        return None, {}
    act = found.acts[k]
    return act, act.plan.table


@dataclass(frozen=True, slots=True)
class Diff:
    """What an import changes: `changes` holds at most `limit` of each kind (added, changed,
    removed) in (category, subject, prefix) order; `counts` has them all, per category."""

    changes: list[Change]
    counts: dict[str, dict[str, int]]


def diff(old: RatingIndex, new: RatingIndex, keys: set[str], t: int, limit: int = 1_000) -> Diff:
    """Prefixes of `keys` whose rate differs between two indexes at instant `t`.

    No sort over a whole deck (one C call holding the GIL for a large one): the changes are
    counted in dict order and only the first `limit` of each kind are picked and rendered."""
    pending: dict[str, list[tuple[Line, str, Choice | None, Choice | None]]] = {
        "added": [], "changed": [], "removed": []}
    counts: dict[str, dict[str, int]] = {}
    acts: dict[Line, tuple[Activation | None, Activation | None]] = {}
    for line in {ln for ln in (*old.lines, *new.lines) if ln[0] in keys}:
        old_act, before = _table_at(old, line, t)
        new_act, after = _table_at(new, line, t)
        acts[line] = (old_act, new_act)
        for prefix in before.keys() | after.keys():
            a, b = before.get(prefix), after.get(prefix)
            if a is b:
                continue
            ca = a and (a.choice or a.cands.choices[0])
            cb = b and (b.choice or b.cands.choices[0])
            if ca and cb and _signature(ca) == _signature(cb):
                continue
            kind = "added" if not ca else "removed" if not cb else "changed"
            tally = counts.setdefault(line[1], {"added": 0, "changed": 0, "removed": 0})
            tally[kind] += 1
            pending[kind].append((line, prefix, ca or None, cb or None))
    changes = []
    for items in pending.values():
        for line, prefix, ca, cb in heapq.nsmallest(limit, items, key=lambda x: (x[0], x[1])):
            old_act, new_act = acts[line]
            changes.append(Change(
                line[1], line[2], prefix,
                _row(old, line[1], prefix, ca, old_act) if ca and old_act else None,
                _row(new, line[1], prefix, cb, new_act) if cb and new_act else None))
    changes.sort(key=lambda c: (c.category, c.subject, c.prefix))
    return Diff(changes, counts)
