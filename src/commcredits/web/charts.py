"""Charts as plain geometry for server-rendered SVG (templates/_charts.html draws them):
stacked bars per day, and the balance forecast as a line down to the day it reaches zero.
No JavaScript, no float money: amounts arrive as decimal strings and are scaled here as
integer micro-units; only the pixel positions are rounded numbers.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ..domain.money import parse_micros

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 220, 44, 26, 10
SERIES = {"pool": ("Plan minutes", "#0f6cbd"), "credits": ("Credits", "#8a3ffc"),
          "free": ("Free", "#6b8e23"), "postpaid": ("Post-paid", "#c4314b")}


def _micros(text: str) -> int:
    return parse_micros(text.lstrip("-"), max_decimals=6)


def _nice_top(value: int) -> int:
    """A round axis maximum at or above value: 1, 2 or 5 times a power of ten."""
    if value <= 1:
        return 1
    magnitude: int = 10 ** (len(str(value)) - 1)
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= value)


def stacked_bars(days: list[dict[str, Any]], values: dict[str, list[int]], unit: str) -> dict[str, Any]:
    """Bars for each day, one segment per series (bottom to top in SERIES order)."""
    count = max(len(days), 1)
    totals = [sum(v[i] for v in values.values()) for i in range(len(days))]
    top = _nice_top(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - 6, HEIGHT - BOTTOM - TOP
    slot = plot_w / count
    bars = []
    for i, d in enumerate(days):
        y: float = HEIGHT - BOTTOM
        x = LEFT + i * slot + slot * 0.15
        for key, series in values.items():
            h = plot_h * series[i] / top
            if series[i]:
                bars.append({"x": round(x, 1), "y": round(y - h, 1), "w": round(max(slot * 0.7, 1), 1),
                             "h": round(h, 1), "color": SERIES[key][1], "title": f"{d['day']}: {SERIES[key][0]}"})
            y -= h
    step = max(count // 6, 1)
    labels = [{"x": round(LEFT + i * slot + slot / 2, 1), "text": date.fromisoformat(d["day"]).strftime("%d %b")}
              for i, d in enumerate(days) if i % step == 0]
    return {"width": WIDTH, "height": HEIGHT, "bars": bars, "labels": labels, "top": top, "unit": unit,
            "left": LEFT, "base": HEIGHT - BOTTOM, "plot_top": TOP, "right": WIDTH - 6,
            "legend": [{"name": SERIES[k][0], "color": SERIES[k][1]} for k in values]}


def calls_chart(days: list[dict[str, Any]]) -> dict[str, Any]:
    return stacked_bars(days, {k: [d["calls"][k] for d in days] for k in SERIES}, "calls")


def charges_chart(days: list[dict[str, Any]], currency: str) -> dict[str, Any]:
    """Charges per day in whole currency units (rounded up), credits and post-paid."""
    units = {k: [-(-_micros(d[k]) // 1_000_000) for d in days] for k in ("credits", "postpaid")}
    return stacked_bars(days, units, currency)


def forecast(available: str, daily: str, days_until_zero: int | None, today: date) -> dict[str, Any] | None:
    """The balance drawn from today down to zero at the daily pace; None without a pace."""
    if days_until_zero is None or not _micros(daily) or available.startswith("-"):
        return None
    span = max(days_until_zero, 1)
    start = _micros(available)
    width, height = 360, 180
    plot_w, plot_h = width - LEFT - 6, height - BOTTOM - TOP
    top = max(start, 1)
    points = []
    for i in range(0, span + 1, max(span // 30, 1)):
        left = max(start - _micros(daily) * i, 0)
        points.append(f"{round(LEFT + plot_w * i / span, 1)},{round(height - BOTTOM - plot_h * left / top, 1)}")
    points.append(f"{LEFT + plot_w},{height - BOTTOM}")
    return {"width": width, "height": height, "points": " ".join(points), "left": LEFT, "base": height - BOTTOM,
            "plot_top": TOP, "right": width - 6, "start_label": today.strftime("%d %b"),
            "end_label": (today + timedelta(days=days_until_zero)).strftime("%d %b %Y"), "start": available}
