"""The charts' geometry: bars stack by what paid and scale to a round maximum; the forecast
line falls from today's balance to zero on the predicted day."""

from __future__ import annotations

from datetime import date
from itertools import pairwise

from commcredits.web.charts import HEIGHT, calls_chart, charges_chart, forecast


def _day(d: str, pool: int = 0, credits: int = 0, free: int = 0, postpaid: int = 0, charged: str = "0.00"):  # type: ignore[no-untyped-def]
    return {"day": d, "calls": {"pool": pool, "credits": credits, "free": free, "postpaid": postpaid},
            "credits": charged, "postpaid": "0.00"}


def test_bars_stack_by_payer_on_a_round_scale() -> None:
    days = [_day("2026-01-01", pool=2, credits=3), _day("2026-01-02"), _day("2026-01-03", free=7, charged="12.50")]
    chart = calls_chart(days)
    assert chart["top"] == 10  # 7 calls on the busiest day -> an axis to 10
    first = [b for b in chart["bars"] if b["title"].startswith("2026-01-01")]
    assert [b["title"].split(": ")[1] for b in first] == ["Plan minutes", "Credits"]
    pool, credits = first
    assert credits["y"] + credits["h"] == pool["y"]  # credits sit on top of plan minutes
    assert pool["y"] + pool["h"] == chart["base"] == HEIGHT - 26
    assert not [b for b in chart["bars"] if b["title"].startswith("2026-01-02")]  # an empty day draws nothing
    money = charges_chart(days, "USD")
    assert money["top"] == 20 and money["unit"] == "USD"  # 12.50 rounds up to 13 whole units


def test_the_forecast_reaches_zero_on_the_predicted_day() -> None:
    line = forecast("100.00", "10.00", 10, date(2026, 1, 15))
    assert line is not None and line["end_label"] == "25 Jan 2026"
    points = [tuple(map(float, p.split(","))) for p in line["points"].split()]
    assert points[0][1] == line["plot_top"] and points[-1][1] == line["base"]
    assert all(a[1] <= b[1] for a, b in pairwise(points))  # only ever falls
    assert forecast("100.00", "0.00", None, date(2026, 1, 15)) is None  # no pace, no line
    assert forecast("-5.00", "1.00", 0, date(2026, 1, 15)) is None
