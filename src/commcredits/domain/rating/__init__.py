"""Pricing a call exactly (RATING.md "Algorithm for one call"), and the time an amount buys.

`price_call` resolves the profile, plan and destination rate in force at the call's start
(rating_index.py), then walks the call in spans. A span ends at the next rate-group start,
local midnight / timing start (only when the choice depends on time) or profile
activation; its duration is rounded up to its increment and the next span starts where the
billed time ends, so billed overflow is consumed from what follows. Span costs are exact
rationals; the connect fee of the first span is added once, a `free` max cost caps the
total, and the total is rounded once (the first span's method and decimals, at most 6) into
integer micros.

The common case is one span (the whole call within the first rate group and no boundary)
at a prefix whose choice cannot depend on the time: `price_call` prices it inline from the
matched prefix's precomputed `Quick` with a handful of integer operations and returns a
flat `RatedCall` tuple whose span is rebuilt only if asked for. Anything else goes through
`_general` (`RatingIndex.resolve`, then `_walk`, which sums exact rationals as integers).
`price_calls` is the same fast path in a loop over many calls of one tenant (docs/rating.md).

`max_seconds_for` binary-searches the (monotone) price for the longest duration an amount
buys, never beyond a `disconnect` max cost; a search is ~20 pricings.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime
from math import gcd

from .deck import Deck
from .index import DOWN, HALF_UP, HALF_UP_EVEN, UP, Choice, RatingIndex, Resolution, Step
from .model import (
    ANY,
    ANY_TIMING,
    DeckError,
    Destination,
    DestinationRate,
    NoRate,
    PlanEntry,
    Rate,
    RateGroup,
    RatingError,
    RatingPlan,
    RatingProfile,
    Timing,
)
from .result import RatedCall, Span
from .timing import EPOCH, epoch_seconds

__all__ = [
    "ANY", "ANY_TIMING", "Deck", "DeckError", "Destination", "DestinationRate", "NoRate",
    "PlanEntry", "Rate", "RateGroup", "RatedCall", "RatingError", "RatingIndex", "RatingPlan",
    "RatingProfile", "Span", "Timing", "epoch_seconds", "max_seconds_for", "price_call",
    "price_calls",
]

DEFAULT_LIMIT_S = 86_400
_new = tuple.__new__  # builds a named tuple without its Python-level __new__ (all fields given)
_NEVER = 2**63  # a price above any budget


def _round(num: int, den: int, choice: Choice) -> int:
    """Round num/den micros once, to the choice's decimals with its method."""
    step = choice.step
    den *= step
    method = choice.method
    if method == "up":
        r = -(-num // den)
    elif method == "down":
        r = num // den
    else:
        r = (2 * num + den) // (2 * den)
    return r * step


def _finish(res: Resolution, duration: int, billed: int, num: int, den: int,
            spans: tuple[Span, ...] | None) -> RatedCall:
    """Steps 6-7: cap at a `free` max cost, round once into micros."""
    choice = res.choice
    cap = choice.max_micros
    if cap is not None and choice.strategy == "free" and num > cap * den:
        return _new(RatedCall, (_round(cap, 1, choice), duration, billed, True, cap, 1, *res, spans))
    return _new(RatedCall, (_round(num, den, choice) if num else 0, duration, billed, False, num, den,
                            *res, spans))


def _walk(index: RatingIndex, query: tuple[str, str, str, str, str | None],
          first: Resolution, t0: int, duration: int) -> RatedCall:
    """Price a call span by span (RATING.md steps 3-5), consuming billed overflow.

    A resolution holds until its `until`: a span starting before then is priced by the
    same choice without resolving again. The exact total is summed as an integer
    numerator over the product of the groups' denominators and reduced once at the end
    (the same reduced fraction `Fraction` addition gives)."""
    spans: list[Span] = []
    num, den = first.choice.rate.connect_micros, 1
    pos, res = 0, first
    until = first.until - t0
    while pos < duration:
        if pos >= until:
            found = index.resolve(*query[:4], t0 + pos, query[4])
            if found is None:
                raise NoRate(f"no rate for {query[3]!r} at {pos} s into the call")
            res = found
            until = res.until - t0
        rate = res.choice.rate
        gi = bisect_right(rate.starts, pos) - 1
        g = rate.groups[gi]
        end = min(duration, until)
        if gi + 1 < len(rate.groups):
            end = min(end, rate.starts[gi + 1])
        billed = -(-(end - pos) // g.increment_s) * g.increment_s
        spans.append(_new(Span, (pos, end - pos, billed, g.rate, g.unit_s, g.increment_s, g.from_s,
                                 rate.id, res.choice.dr.id)))
        mden = g.mden
        if mden == den:
            num += g.mnum * billed
        else:
            num, den = num * mden + g.mnum * billed * den, den * mden
        pos += billed
    if num:
        common = gcd(num, den)
        num, den = num // common, den // common
    else:
        den = 1
    return _finish(first, duration, pos, num, den, tuple(spans))


def _no_rate(key: str, category: str, subject: str, digits: str,
             currency: str | None) -> NoRate:
    extra = f" in {currency}" if currency else ""
    return NoRate(f"no rate for {digits!r} (key {key!r}, category {category!r}, "
                  f"subject {subject!r}){extra}")


def _general(index: RatingIndex, key: str, category: str, subject: str, digits: str, t0: int,
             duration_s: int, currency: str | None) -> RatedCall:
    """Price a call the general way: resolve (timings included), then one or more spans."""
    res = index.resolve(key, category, subject, digits, t0, currency)
    if res is None:
        raise _no_rate(key, category, subject, digits, currency)
    if duration_s == 0:
        return RatedCall(0, 0, 0, False, 0, 1, *res, ())
    rate = res.choice.rate
    if duration_s > rate.single_until or t0 + duration_s > res.until:
        return _walk(index, (key, category, subject, digits, currency), res, t0, duration_s)
    g = rate.first  # one span: the whole call in the first group, no boundary crossed
    billed = -(-duration_s // g.increment_s) * g.increment_s
    den = g.mden
    num = rate.connect_micros * den + g.mnum * billed
    return _finish(res, duration_s, billed, num, den, None)


# The fast path (`price_call`, and the same lines in `price_calls`' loop: a function call
# per quote is measurable, so it is written out twice; test_rating_batch checks they agree).
# The first subject of the chain whose plan has a prefix of the number (or a *any
# destination) prices it; when that choice cannot depend on the time and the call lies
# wholly in its first rate group and ends before the chain may change, `Quick` prices it
# with a few integer operations. Anything else goes through `_general` (timings, several
# spans) or `_walk`/`_finish`, exactly as before.


def price_call(index: RatingIndex, *, rating_key: str, category: str, subject: str,
               number: str, started_at: datetime, duration_s: int,
               currency: str | None = None) -> RatedCall:
    """Price one call exactly; raise NoRate when nothing prices it.

    `number` is E.164 ("+4420...") or its digits; `started_at` an aware datetime (rated to
    the second); `currency`, when given, only accepts profiles from decks in that currency.
    """
    if duration_s.__class__ is not int or duration_s < 0:
        raise RatingError("duration_s must be an int >= 0")
    try:
        delta = started_at - EPOCH  # days and 0 <= seconds < 86400: the floor, exactly
        t0: int = delta.days * 86_400 + delta.seconds
    except (TypeError, AttributeError):
        raise RatingError("started_at must be an aware datetime") from None
    chain = index.memo.get((rating_key, category, subject, currency))
    if chain is None or not chain.lo <= t0 < chain.hi:
        chain = index.chain_at(rating_key, category, subject, t0, currency)
    digits = number[1:] if number[:1] == "+" else number
    n = len(digits)
    quick = None
    for table, lengths, longest, upto, quick, s, act in chain.steps:  # noqa: B007 (s, act used below)
        for length in lengths if n >= longest else upto[n]:
            found = table.get(digits[:length])
            if found is not None:
                quick = found
                break
        if quick is not None:
            break
    if quick is None:
        return _general(index, rating_key, category, subject, digits, t0, duration_s, currency)
    single_until, inc, den, base, mnum, mode, step, q, half, choice, cands = quick
    if choice is None:  # mode TIMED: the choice depends on the time
        return _general(index, rating_key, category, subject, digits, t0, duration_s, currency)
    hi = chain.hi
    if duration_s == 0:
        return _new(RatedCall, (0, 0, 0, False, 0, 1, choice, cands, act, s, hi, ()))
    if duration_s > single_until or t0 + duration_s > hi:
        return _walk(index, (rating_key, category, subject, digits, currency),
                     Resolution(choice, cands, act, s, hi), t0, duration_s)
    billed = -(-duration_s // inc) * inc
    num = base + mnum * billed
    if mode == HALF_UP_EVEN:
        r = (num + half) // q
    elif mode == UP:
        r = -(-num // q)
    elif mode == DOWN:
        r = num // q
    elif mode == HALF_UP:
        r = (2 * num + q) // (2 * q)
    else:  # FINISH: a free max cost may cap it
        return _finish(Resolution(choice, cands, act, s, hi), duration_s, billed, num, den,
                       None)
    return _new(RatedCall, (r * step, duration_s, billed, False, num, den, choice, cands, act,
                            s, hi, None))


def price_calls(index: RatingIndex, *, rating_key: str, category: str, subject: str,
                calls: Iterable[tuple[str, int, int]],
                currency: str | None = None) -> list[RatedCall | NoRate]:
    """Price many calls of one (rating key, category, subject, currency) at once.

    Each call is `(number, started_at, duration_s)` with `started_at` in integer epoch
    seconds (`epoch_seconds(aware_datetime)`). The result is in the order of `calls`: the
    `RatedCall` that `price_call` returns for that call, or the `NoRate` it raises (so one
    unrated call does not stop the batch). Invalid arguments raise `RatingError`.
    Bulk rating (call-record ingestion, re-rating) saves the per-call keyword call, the
    datetime arithmetic and the profile-chain lookup.
    """
    out: list[RatedCall | NoRate] = []
    append = out.append
    steps: tuple[Step, ...] = ()
    lo = hi = 0
    for number, t0, duration_s in calls:
        if duration_s.__class__ is not int or duration_s < 0:
            raise RatingError("duration_s must be an int >= 0")
        if t0.__class__ is not int:
            raise RatingError("started_at must be an int (epoch seconds)")
        if not lo <= t0 < hi:
            chain = index.chain_at(rating_key, category, subject, t0, currency)
            steps, lo, hi = chain.steps, chain.lo, chain.hi
        digits = number[1:] if number[:1] == "+" else number
        try:
            n = len(digits)
            quick = None
            for table, lengths, longest, upto, quick, s, act in steps:  # noqa: B007 (s, act used below)
                for length in lengths if n >= longest else upto[n]:
                    found = table.get(digits[:length])
                    if found is not None:
                        quick = found
                        break
                if quick is not None:
                    break
            if quick is None:
                append(_general(index, rating_key, category, subject, digits, t0, duration_s,
                                currency))
                continue
            single_until, inc, den, base, mnum, mode, step, q, half, choice, cands = quick
            if choice is None:
                append(_general(index, rating_key, category, subject, digits, t0, duration_s,
                                currency))
                continue
            if duration_s == 0:
                append(_new(RatedCall, (0, 0, 0, False, 0, 1, choice, cands, act, s, hi, ())))
                continue
            if duration_s > single_until or t0 + duration_s > hi:
                append(_walk(index, (rating_key, category, subject, digits, currency),
                             Resolution(choice, cands, act, s, hi), t0, duration_s))
                continue
            billed = -(-duration_s // inc) * inc
            num = base + mnum * billed
            if mode == HALF_UP_EVEN:
                r = (num + half) // q
            elif mode == UP:
                r = -(-num // q)
            elif mode == DOWN:
                r = num // q
            elif mode == HALF_UP:
                r = (2 * num + q) // (2 * q)
            else:
                append(_finish(Resolution(choice, cands, act, s, hi), duration_s, billed, num,
                               den, None))
                continue
            append(_new(RatedCall, (r * step, duration_s, billed, False, num, den, choice,
                                    cands, act, s, hi, None)))
        except NoRate as e:
            append(e)
    return out


def max_seconds_for(index: RatingIndex, *, rating_key: str, category: str, subject: str,
                    number: str, started_at: datetime, amount_micros: int,
                    currency: str | None = None, limit_s: int = DEFAULT_LIMIT_S) -> int | None:
    """The longest duration (<= limit_s) whose price fits in `amount_micros`.

    price(result) <= budget < price(result + 1), where budget = amount, lowered to the max
    cost for a `disconnect` destination rate. None means the call is free up to `limit_s`
    (no money limit); `limit_s` means the amount covers a call of that length.
    """
    if amount_micros < 0:
        raise RatingError("amount_micros must be >= 0")

    def price(d: int) -> int:
        try:
            return price_call(index, rating_key=rating_key, category=category,
                              subject=subject, number=number, started_at=started_at,
                              duration_s=d, currency=currency).charge_micros
        except NoRate:  # unrated from some offset on: no longer call can be granted
            return _NEVER

    digits = number[1:] if number.startswith("+") else number
    res = index.resolve(rating_key, category, subject, digits, epoch_seconds(started_at),
                        currency)
    if res is None:
        raise _no_rate(rating_key, category, subject, digits, currency)
    choice = res.choice
    budget = amount_micros
    if choice.strategy == "disconnect" and choice.max_micros is not None:
        budget = min(budget, choice.max_micros)
    at_limit = price(limit_s)
    if at_limit == 0:
        return None
    if at_limit <= budget:
        return limit_s
    lo, hi = 0, limit_s  # price(lo) <= budget < price(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if price(mid) <= budget:
            lo = mid
        else:
            hi = mid
    return lo

