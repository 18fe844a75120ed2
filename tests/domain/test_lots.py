from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from commcredits.domain.lots import Lot, balance, draw_order, expiry_for, plan_draw

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("bought", "expires"),
    [
        (datetime(2028, 2, 29, 14, 5, 7, tzinfo=UTC), datetime(2029, 2, 28, 14, 5, 7, tzinfo=UTC)),
        (datetime(2026, 1, 31, 23, 59, tzinfo=UTC), datetime(2027, 1, 31, 23, 59, tzinfo=UTC)),
        (datetime(2026, 12, 31, 0, 0, tzinfo=UTC), datetime(2027, 12, 31, 0, 0, tzinfo=UTC)),
        (datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC), datetime(2027, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_expiry_is_twelve_calendar_months_later(bought: datetime, expires: datetime) -> None:
    assert expiry_for(bought) == expires


def lot(id_: str, remaining: int, *, bought: datetime = T0, expires: datetime | None = None,
        amount: int | None = None) -> Lot:
    return Lot(id_, "purchase", amount or max(remaining, 1), remaining, bought,
               expires or expiry_for(bought))


def test_draw_first_to_expire_first_then_oldest() -> None:
    grant = Lot("g", "grant", 10, 10, T0 + timedelta(days=5), T0 + timedelta(days=30))
    older = lot("a", 10, bought=T0)
    newer = lot("b", 10, bought=T0 + timedelta(days=1))
    same_expiry_newer = Lot("c", "purchase", 10, 10, T0 + timedelta(days=2), expiry_for(T0))
    order = [x.id for x in draw_order([newer, same_expiry_newer, older, grant])]
    assert order == ["g", "a", "c", "b"]


def test_plan_draw_spans_lots_and_reports_shortfall() -> None:
    lots = [lot("a", 30), lot("b", 50, bought=T0 + timedelta(days=1))]
    assert plan_draw(lots, 40, T0) == ([("a", 30), ("b", 10)], 0)
    assert plan_draw(lots, 100, T0) == ([("a", 30), ("b", 50)], 20)
    assert plan_draw(lots, 0, T0) == ([], 0)


def test_an_expired_lot_is_unusable_from_its_expiry_instant() -> None:
    a = lot("a", 30)
    assert a.usable_at(a.expires_at - timedelta(microseconds=1))
    assert not a.usable_at(a.expires_at)
    assert plan_draw([a], 10, a.expires_at) == ([], 10)
    assert balance([a], 0, a.expires_at) == 0


def test_balance_is_lots_minus_deficit() -> None:
    assert balance([lot("a", 30), lot("b", 5)], 0, T0) == 35
    assert balance([], 12, T0) == -12
    with pytest.raises(ValueError):
        balance([], -1, T0)


def test_lot_checks_its_inputs() -> None:
    with pytest.raises(ValueError):
        Lot("x", "purchase", 10, 11, T0, expiry_for(T0))
    with pytest.raises(ValueError):
        Lot("x", "gift", 10, 1, T0, expiry_for(T0))
    with pytest.raises(ValueError):
        Lot("x", "grant", 10, 1, T0, T0)
