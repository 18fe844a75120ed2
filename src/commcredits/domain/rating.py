"""Pricing a call exactly (RATING.md "Algorithm for one call"), and the time an amount buys.

`price_call` resolves the profile, plan and destination rate in force at the call's start
(rating_index.py), then walks the call in spans. A span ends at the next rate-group start,
local midnight / timing start (only when the choice depends on time) or profile
activation; its duration is rounded up to its increment and the next span starts where the
billed time ends, so billed overflow is consumed from what follows. Span costs are exact
rationals; the connect fee of the first span is added once, a `free` max cost caps the
total, and the total is rounded once (the first span's method and decimals, at most 6) into
integer micros.

The common case is one span (the whole call within the first rate group and no boundary):
`price_call` prices it inline with a handful of integer operations and returns a
`RatedCall` whose span is rebuilt only if asked for. Longer calls go through `_walk`, which
sums exact `Fraction`s.

`max_seconds_for` binary-searches the (monotone) price for the longest duration an amount
buys, never beyond a `disconnect` max cost; a search is ~20 pricings.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime
from fractions import Fraction

from commcredits.domain.rating_deck import Deck
from commcredits.domain.rating_index import Choice, RatingIndex, Resolution
from commcredits.domain.rating_model import (
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
from commcredits.domain.rating_result import RatedCall, Span
from commcredits.domain.rating_timing import EPOCH, SECOND, epoch_seconds

__all__ = [
    "ANY", "ANY_TIMING", "Deck", "DeckError", "Destination", "DestinationRate", "NoRate",
    "PlanEntry", "Rate", "RateGroup", "RatedCall", "RatingError", "RatingIndex", "RatingPlan",
    "RatingProfile", "Span", "Timing", "max_seconds_for", "price_call",
]

DEFAULT_LIMIT_S = 86_400
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
        return RatedCall(_round(cap, 1, choice), duration, billed, True, cap, 1, res, spans)
    return RatedCall(_round(num, den, choice) if num else 0, duration, billed, False, num, den,
                     res, spans)


def _walk(index: RatingIndex, query: tuple[str, str, str, str, str | None],
          first: Resolution, t0: int, duration: int) -> RatedCall:
    """Price a call span by span (RATING.md steps 3-5), consuming billed overflow."""
    spans: list[Span] = []
    total = Fraction(first.choice.rate.connect_micros)
    pos, res = 0, first
    while pos < duration:
        if pos:
            found = index.resolve(*query[:4], t0 + pos, query[4])
            if found is None:
                raise NoRate(f"no rate for {query[3]!r} at {pos} s into the call")
            res = found
        rate = res.choice.rate
        gi = bisect_right(rate.starts, pos) - 1
        g = rate.groups[gi]
        end = min(duration, res.until - t0)
        if gi + 1 < len(rate.groups):
            end = min(end, rate.starts[gi + 1])
        billed = -(-(end - pos) // g.increment_s) * g.increment_s
        spans.append(Span(pos, end - pos, billed, g.rate, g.unit_s, g.increment_s, g.from_s,
                          rate.id, res.choice.dr.id))
        total += Fraction(g.mnum * billed, g.mden)
        pos += billed
    return _finish(first, duration, pos, total.numerator, total.denominator, tuple(spans))


def _no_rate(key: str, category: str, subject: str, digits: str,
             currency: str | None) -> NoRate:
    extra = f" in {currency}" if currency else ""
    return NoRate(f"no rate for {digits!r} (key {key!r}, category {category!r}, "
                  f"subject {subject!r}){extra}")


def price_call(index: RatingIndex, *, rating_key: str, category: str, subject: str,
               number: str, started_at: datetime, duration_s: int,
               currency: str | None = None) -> RatedCall:
    """Price one call exactly; raise NoRate when nothing prices it.

    `number` is E.164 ("+4420...") or its digits; `started_at` an aware datetime (rated to
    the second); `currency`, when given, only accepts profiles from decks in that currency.
    """
    if type(duration_s) is not int or duration_s < 0:
        raise RatingError("duration_s must be an int >= 0")
    digits = number[1:] if number[:1] == "+" else number
    try:
        t0 = (started_at - EPOCH) // SECOND
    except TypeError:
        raise RatingError("started_at must be an aware datetime") from None
    res = index.resolve(rating_key, category, subject, digits, t0, currency)
    if res is None:
        raise _no_rate(rating_key, category, subject, digits, currency)
    if duration_s == 0:
        return RatedCall(0, 0, 0, False, 0, 1, res, ())
    rate = res.choice.rate
    if duration_s > rate.single_until or t0 + duration_s > res.until:
        query = (rating_key, category, subject, digits, currency)
        return _walk(index, query, res, t0, duration_s)
    g = rate.first  # one span: the whole call in the first group, no boundary crossed
    billed = -(-duration_s // g.increment_s) * g.increment_s
    den = g.mden
    num = rate.connect_micros * den + g.mnum * billed
    choice = res.choice
    if choice.strategy != "none":
        return _finish(res, duration_s, billed, num, den, None)
    step = choice.step
    q = den * step
    method = choice.method
    r = -(-num // q) if method == "up" else num // q if method == "down" else (
        (2 * num + q) // (2 * q))
    return RatedCall(r * step, duration_s, billed, False, num, den, res)


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

