"""Import a CGRateS tariff-plan folder (the public reference format) as a Deck.

Files: Destinations.csv, Rates.csv, DestinationRates.csv, Timings.csv (optional),
RatingPlans.csv, RatingProfiles.csv; other files of a CGRateS folder are ignored. The
`Tenant` column is the rating key; categories and subjects stay as written. Values follow
CGRateS: durations `60s`/`1m`/`1h`/`0` or a plain count of units (`1`), rounding
`*up`/`*middle`/`*down`, max cost strategy `*free`/`*disconnect` (a max cost of 0 or an
empty strategy means no max cost, as in CGRateS), `;`-separated lists, empty cells as
defaults, `#` header/comment lines. A rate's connect fee is the one on its group starting
at 0 s. The old layout of RatingProfiles.csv with a leading Direction column is accepted.

CGRateS files carry no currency: it is given at import (default USD).
Import is all-or-nothing: every row and reference is checked, errors carry file and line.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path

from commcredits.rating_import import values as v
from commcredits.rating_import.values import Problems, Row

from ..domain.rating.deck import Deck
from ..domain.rating.model import (
    ANY,
    DeckError,
    Destination,
    DestinationRate,
    PlanEntry,
    Rate,
    RateGroup,
    RatingPlan,
    RatingProfile,
    Timing,
)

REQUIRED = ("Destinations.csv", "Rates.csv", "DestinationRates.csv", "RatingPlans.csv",
            "RatingProfiles.csv")
OPTIONAL = ("Timings.csv",)
ROUNDING = {"*up": "up", "*middle": "half_up", "*down": "down", "": "up"}
STRATEGY = {"": "none", "*free": "free", "*disconnect": "disconnect"}


def load_cgrates_folder(path: str | Path, *, currency: str = "USD", name: str | None = None,
                        version: int = 0, timezone: str = "UTC") -> Deck:
    """Read the rating CSVs of a CGRateS tariff-plan folder into a Deck."""
    folder = Path(path)
    if not folder.is_dir():
        raise DeckError(f"{folder} is not a folder")
    files = {f: (folder / f).read_bytes() for f in REQUIRED + OPTIONAL if (folder / f).exists()}
    return load_cgrates_files(files, currency=currency, name=name or folder.name,
                              version=version, timezone=timezone)


def load_cgrates_files(files: Mapping[str, bytes | str], *, currency: str = "USD",
                       name: str = "cgrates", version: int = 0, timezone: str = "UTC") -> Deck:
    """Build a Deck from CGRateS files given by name (e.g. from an upload)."""
    for f in REQUIRED:
        if f not in files:
            raise DeckError("file is missing", file=f)
    p = Problems()
    rows = {f: list(v.read_rows(files.get(f, ""), f)) for f in REQUIRED + OPTIONAL}
    dests = _destinations(rows["Destinations.csv"], p)
    rates = _rates(rows["Rates.csv"], p)
    drs = [(r, dr) for r in rows["DestinationRates.csv"] if (dr := p.run(r, _dr))]
    timings = [(r, t) for r in rows["Timings.csv"] if (t := p.run(r, _timing))]
    plans, plan_rows = _plans(rows["RatingPlans.csv"], p)
    profiles = [(r, pr) for r in rows["RatingProfiles.csv"] if (pr := p.run(r, _profile))]
    p.check()
    _check_references(p, dests, rates, drs, timings, plan_rows)
    for r, prof in profiles:
        if prof.plan_id not in plans:
            p.add(r, f"rating plan {prof.plan_id!r} is not in RatingPlans.csv")
    p.check()
    try:
        return Deck(name=name, currency=currency, format="cgrates",
                    destinations=tuple(dests.values()), rates=tuple(rates.values()),
                    destination_rates=tuple(x for _, x in drs),
                    timings=tuple(x for _, x in timings), plans=tuple(plans.values()),
                    profiles=tuple(x for _, x in profiles),
                    row_count=sum(len(r) for r in rows.values()), version=version,
                    timezone=timezone)
    except DeckError as exc:
        raise DeckError(exc.reason, file=name) from None


def _destinations(rows: list[Row], p: Problems) -> dict[str, Destination]:
    prefixes: dict[str, list[str]] = {}
    for r in rows:
        dest_id = p.run(r, lambda row: v.identifier(row.cell(0), "destination id"))
        prefix = p.run(r, lambda row: v.prefix(row.cell(1), words=True))
        if dest_id is None or prefix is None:
            continue
        if dest_id == ANY:
            p.add(r, "a destination cannot be named *any")
        elif prefix not in prefixes.setdefault(dest_id, []):
            prefixes[dest_id].append(prefix)
    return {d: Destination(d, tuple(ps)) for d, ps in prefixes.items()}


def _rates(rows: list[Row], p: Problems) -> dict[str, Rate]:
    groups: dict[str, list[tuple[Row, RateGroup, int]]] = {}
    for r in rows:
        parsed = p.run(r, _rate_group)
        if parsed is not None:
            groups.setdefault(r.cell(0), []).append((r, *parsed))
    rates: dict[str, Rate] = {}
    for rate_id, items in groups.items():
        items.sort(key=lambda item: item[1].from_s)
        starts = [g.from_s for _, g, _ in items]
        for (row, g, _), prev in zip(items[1:], starts, strict=False):
            if g.from_s == prev:
                p.add(row, f"rate {rate_id!r} has two groups starting at {g.from_s}s")
        if starts[0] != 0:
            p.add(items[0][0], f"rate {rate_id!r} has no group starting at 0s")
            continue
        if len(set(starts)) == len(starts):
            rates[rate_id] = Rate(rate_id, items[0][2], tuple(g for _, g, _ in items))
    return rates


def _rate_group(r: Row) -> tuple[RateGroup, int]:
    v.identifier(r.cell(0), "rate id")
    connect = v.fee(r.cell(1), "connect fee")
    rate = v.fraction(r.cell(2), "rate", empty="0")
    unit = v.duration(r.cell(3) or "0", "rate unit")
    if unit > v.MAX_INCREMENT_S:
        raise DeckError(f"rate unit {v.shown(r.cell(3))} is above {v.MAX_INCREMENT_S} s")
    v.price_per_minute(rate, unit, "rate", r.cell(2))
    increment = v.duration(r.cell(4) or "1", "rate increment")
    if not 1 <= increment <= v.MAX_INCREMENT_S:
        raise DeckError(f"rate increment {v.shown(r.cell(4))} must be at least 1 s and at most "
                        f"{v.MAX_INCREMENT_S} s")
    start = v.duration(r.cell(5) or "0", "group interval start")
    if start > v.MAX_GROUP_START_S:
        raise DeckError(f"group interval start {v.shown(r.cell(5))} is above "
                        f"{v.MAX_GROUP_START_S} s")
    return RateGroup(start, rate, unit, increment), connect


def _dr(r: Row) -> DestinationRate:
    max_cost = v.micros(r.cell(5), "max cost")
    if max_cost > 10**18:
        raise DeckError(f"max cost {v.shown(r.cell(5))} is too large")
    strategy = v.choice(r.cell(6), "max cost strategy", STRATEGY)
    if max_cost == 0 or strategy == "none":
        max_cost, strategy = 0, "none"
    return DestinationRate(
        v.identifier(r.cell(0), "destination rate id"), v.identifier(r.cell(1), "destination"),
        v.identifier(r.cell(2), "rate id"),
        v.choice(r.cell(3), "rounding method", ROUNDING),  # type: ignore[arg-type]
        v.integer(r.cell(4) or "4", "rounding decimals", 0, 18),
        max_cost or None, strategy)  # type: ignore[arg-type]


def _timing(r: Row) -> Timing:
    timing_id = v.identifier(r.cell(0), "timing id")
    if timing_id == ANY:
        raise DeckError("timing *any is built in and cannot be redefined")
    return Timing(timing_id, v.int_set(r.cell(1), "year", 1, 9999),
                  v.int_set(r.cell(2), "month", 1, 12), v.int_set(r.cell(3), "month day", 1, 31),
                  v.int_set(r.cell(4), "weekday", 0, 7), v.time_of_day(r.cell(5)))


PlanRows = list[tuple[Row, PlanEntry]]


def _plans(rows: list[Row], p: Problems) -> tuple[dict[str, RatingPlan], PlanRows]:
    entries: dict[str, list[PlanEntry]] = {}
    located: PlanRows = []
    for r in rows:
        entry = p.run(r, _plan_entry)
        if entry is not None:
            entries.setdefault(r.cell(0), []).append(entry)
            located.append((r, entry))
    return {pid: RatingPlan(pid, tuple(es)) for pid, es in entries.items()}, located


def _plan_entry(r: Row) -> PlanEntry:
    v.identifier(r.cell(0), "rating plan id")
    return PlanEntry(v.identifier(r.cell(1), "destination rate id"), r.cell(2) or ANY,
                     Fraction(v.decimal(r.cell(3) or "0", "weight")))


def _profile(r: Row) -> RatingProfile:
    cells = r.cells[1:] if r.cell(0) in ("*out", "*in") else r.cells
    c = Row(r.file, r.line, cells)
    fallbacks = tuple(s.strip() for s in c.cell(5).split(";") if s.strip())
    return RatingProfile(v.identifier(c.cell(0), "tenant"), v.identifier(c.cell(1), "category"),
                         v.identifier(c.cell(2), "subject"),
                         v.instant(c.cell(3), "activation time"),
                         v.identifier(c.cell(4), "rating plan id"), fallbacks)


def _check_references(p: Problems, dests: dict[str, Destination], rates: dict[str, Rate],
                      drs: list[tuple[Row, DestinationRate]], timings: list[tuple[Row, Timing]],
                      plan_rows: PlanRows) -> None:
    seen: set[tuple[str, str]] = set()
    for r, dr in drs:
        if dr.destination_id != ANY and dr.destination_id not in dests:
            p.add(r, f"destination {dr.destination_id!r} is not in Destinations.csv")
        if dr.rate_id not in rates:
            p.add(r, f"rate {dr.rate_id!r} is not in Rates.csv")
        if (dr.id, dr.destination_id) in seen:
            p.add(r, f"destination rate {dr.id!r} binds {dr.destination_id!r} twice")
        seen.add((dr.id, dr.destination_id))
    timing_ids = {ANY}
    for r, t in timings:
        if t.id in timing_ids:
            p.add(r, f"timing {t.id!r} is defined twice")
        timing_ids.add(t.id)
    dr_ids = {dr.id for _, dr in drs}
    for r, entry in plan_rows:
        if entry.destination_rate_id not in dr_ids:
            p.add(r, f"destination rate {entry.destination_rate_id!r} "
                  "is not in DestinationRates.csv")
        if entry.timing_id not in timing_ids:
            p.add(r, f"timing {entry.timing_id!r} is not in Timings.csv")
