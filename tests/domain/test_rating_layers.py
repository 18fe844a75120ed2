"""Update decks laid over their base, override decks with a fallback key, diffs, price
lists, and compiled plans reused across builds (domain/rating/layers.py, rating_index.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest

from commcredits.domain.rating import NoRate, RatingIndex, epoch_seconds, price_call
from commcredits.domain.rating.layers import diff, price_entries, price_list
from commcredits.rating_import import deck_from_json, deck_to_json, load_ratecard

H = ("category,prefix,destination,rate_per_minute,connection_fee,initial_increment,next_increment,"
     "effective_from,effective_to\n")


def card(rows: str, *, version: int, base: int = 0, key: str | None = None, fallback: str | None = None):  # type: ignore[no-untyped-def]
    return load_ratecard(H + rows, currency="USD", version=version, base_version=base, rating_key=key,
                         fallback_rating_key=fallback)


def price(index: RatingIndex, number: str, when: str, key: str = "USD") -> int | None:
    try:
        return price_call(index, rating_key=key, category="outbound", subject="t", number=number,
                          started_at=datetime.fromisoformat(when).replace(tzinfo=UTC), duration_s=60,
                          currency="USD").charge_micros
    except NoRate:
        return None


BASE = ("outbound,44,UK,0.10,0,60,60,2026-01-01,\noutbound,33,France,0.05,0,60,60,2026-01-01,\n"
        "outbound,44,UK,0.12,0,60,60,2026-06-01,\n")


def test_an_update_keeps_what_it_does_not_name_and_the_newest_notice_wins() -> None:
    base = card(BASE, version=1)
    update = card("outbound,44,UK,0.20,0,60,60,2026-03-01,\noutbound,49,DE,0.07,0,60,60,2026-03-01,2026-04-01\n",
                  version=2, base=1)
    assert update.base_version == 1 and [e.prefix for e in update.ends] == ["49"]
    assert deck_from_json(deck_to_json(update)) == update
    index = RatingIndex.build([base, update])
    assert [price(index, "+4420", d) for d in ("2026-02-01", "2026-03-02", "2026-07-01")] == [100_000, 200_000, 200_000]
    assert [price(index, "+3314", d) for d in ("2026-02-01", "2026-03-02", "2026-07-01")] == [50_000] * 3
    assert [price(index, "+4930", d) for d in ("2026-02-01", "2026-03-02", "2026-04-01")] == [None, 70_000, None]


def test_an_end_and_a_new_rate_at_the_same_instant_keeps_the_new_rate() -> None:
    base = card(BASE, version=1)
    update = card("outbound,33,France,0.05,0,60,60,2026-01-01,2026-05-01\noutbound,33,France,0.08,0,60,60,2026-05-01,\n",
                  version=2, base=1)
    index = RatingIndex.build([base, update])
    assert [price(index, "+3314", d) for d in ("2026-04-30", "2026-05-01")] == [50_000, 80_000]


def test_a_whole_deck_ends_rates_and_may_not_empty_a_category() -> None:
    deck = card(BASE + "outbound,49,DE,0.07,0,60,60,2026-01-01,2026-02-01\n", version=1)
    index = RatingIndex.build([deck])
    assert [price(index, "+4930", d) for d in ("2026-01-31", "2026-02-01")] == [70_000, None]
    with pytest.raises(ValueError, match="every 'outbound' rate has ended"):
        card("outbound,49,DE,0.07,0,60,60,2026-01-01,2026-02-01\n", version=1)


def test_override_falls_back_by_key_and_a_cycle_ends() -> None:
    base = card(BASE, version=1)
    special = card("outbound,44,UK special,0.01,0,60,60,2026-01-01,\n", version=2, key="ACME", fallback="USD")
    index = RatingIndex.build([base, special])
    assert (price(index, "+4420", "2026-02-01", "ACME"), price(index, "+3314", "2026-02-01", "ACME")) == (10_000, 50_000)
    assert price(index, "+4930", "2026-02-01", "ACME") is None
    loop = card("outbound,44,UK,0.10,0,60,60,2026-01-01,\n", version=3, key="USD", fallback="ACME")
    cyclic = RatingIndex.build([special, loop])  # ACME -> USD -> ACME: each key once
    assert price(cyclic, "+3314", "2026-02-01", "ACME") is None
    rows = price_list(index, key="ACME", subject="t", t=epoch_seconds(datetime(2026, 2, 1, tzinfo=UTC)), currency="USD")
    assert [(r.prefix, r.destination) for r in rows] == [("33", "France"), ("44", "UK special")]


def test_a_whole_deck_is_not_shadowed_by_an_older_later_change() -> None:
    base = card(BASE, version=1)  # UK 0.12 from June
    whole = card("outbound,44,UK,0.11,0,60,60,2026-03-01,\n", version=2)
    index = RatingIndex.build([base, whole])
    assert [price(index, "+4420", d) for d in ("2026-02-01", "2026-07-01")] == [100_000, 110_000]
    assert price(index, "+3314", "2026-07-01") is None


def test_diff_counts_all_and_lists_up_to_the_limit() -> None:
    base = card("".join(f"outbound,{p},D{p},0.10,0,60,60,2026-01-01,\n" for p in range(100, 150)), version=1)
    update = card("".join(f"outbound,{p},D{p},0.20,0,60,60,2026-01-01,\n" for p in range(100, 110))
                  + "outbound,999,New,0.3,0,60,60,2026-01-01,\noutbound,120,D120,0.10,0,60,60,2026-01-01,2026-01-02\n",
                  version=2, base=1)
    old = RatingIndex.build([base])
    new = old.with_deck(update)
    t = epoch_seconds(datetime(2026, 2, 1, tzinfo=UTC))
    d = diff(old, new, {"USD"}, t, limit=3)
    assert d.counts == {"outbound": {"added": 1, "changed": 10, "removed": 1}}
    assert [c.prefix for c in d.changes] == ["100", "101", "102", "120", "999"]
    assert [(c.old.rate_per_minute, c.new.rate_per_minute) for c in d.changes[:1]] == [(Fraction("0.1"), Fraction("0.2"))]  # type: ignore[union-attr]
    assert len(price_entries(new, key="USD", subject="t", t=t, currency="USD")) == 50


def test_a_rebuild_reuses_compiled_plans_of_the_same_deck_objects() -> None:
    base = card(BASE, version=1)
    update = card("outbound,44,UK,0.20,0,60,60,2026-03-01,\n", version=2, base=1)
    first = RatingIndex.build([base, update])
    again = RatingIndex.build([base], reuse=first)
    assert again._compiled[id(base)][1] is first._compiled[id(base)][1]
    fresh = RatingIndex.build([card(BASE, version=1)], reuse=first)  # another object: compiled anew
    assert all(v[1] is not first._compiled[id(base)][1] for v in fresh._compiled.values())
    assert price(again, "+4420", "2026-04-01") == 100_000  # the update is gone: rolled back
