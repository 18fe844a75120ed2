"""A CGRateS tariff-plan folder loaded as an update of a deck: by ids, as CGRateS's own
loader does when a folder is loaded on top of a running tariff plan.

Any subset of the rating files may be given. A destination, rate, destination rate, timing
or rating plan whose id appears replaces that id whole (all its rows); a rating profile
replaces the one with the same (tenant, category, subject, activation time). Everything
else of the base deck is kept. The result is a complete deck, checked like any other
(a reference to something neither the base nor the update defines is refused).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from commcredits.rating_import import cgrates as c
from commcredits.rating_import import values as v
from commcredits.rating_import.values import Problems

from ..domain.rating.deck import Deck
from ..domain.rating.model import DeckError


def update_cgrates_files(base: Deck, files: Mapping[str, bytes | str], *, name: str) -> Deck:
    """`base` with the entities named in `files` replaced or added (see the module doc)."""
    unknown = sorted(set(files) - set(c.REQUIRED + c.OPTIONAL))
    if unknown:
        raise DeckError(f"not a CGRateS rating file: {', '.join(unknown)}", file=unknown[0])
    if not files:
        raise DeckError("an update needs at least one of " + ", ".join(c.REQUIRED))
    p = Problems()
    rows = {f: list(v.read_rows(files.get(f, ""), f)) for f in c.REQUIRED + c.OPTIONAL}
    dests = {d.id: d for d in base.destinations} | c._destinations(rows["Destinations.csv"], p)
    rates = {r.id: r for r in base.rates} | c._rates(rows["Rates.csv"], p)
    new_drs = [dr for r in rows["DestinationRates.csv"] if (dr := p.run(r, c._dr))]
    replaced = {dr.id for dr in new_drs}
    drs = [dr for dr in base.destination_rates if dr.id not in replaced] + new_drs
    timings = {t.id: t for t in base.timings}
    timings |= {t.id: t for r in rows["Timings.csv"] if (t := p.run(r, c._timing))}
    plans = {pl.id: pl for pl in base.plans} | c._plans(rows["RatingPlans.csv"], p)[0]
    profiles = {(pr.rating_key, pr.category, pr.subject, pr.activation): pr
                for pr in base.profiles}
    profiles |= {(pr.rating_key, pr.category, pr.subject, pr.activation): pr
                 for r in rows["RatingProfiles.csv"] if (pr := p.run(r, c._profile))}
    p.check()
    try:
        return dataclasses.replace(
            base, name=name, destinations=tuple(dests.values()), rates=tuple(rates.values()),
            destination_rates=tuple(drs), timings=tuple(timings.values()),
            plans=tuple(plans.values()), profiles=tuple(profiles.values()),
            row_count=sum(len(r) for r in rows.values()), version=0, base_version=0)
    except DeckError as exc:
        raise DeckError(f"after the update: {exc.reason}", file=name) from None
