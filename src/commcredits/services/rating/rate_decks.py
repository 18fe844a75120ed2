"""The rate deck lifecycle: imports that replace or update, dry runs, the coverage guard,
versions and their activation (issue: carriers publish price changes as notices).

- `mode=replace`: the upload is the whole deck of its rating keys; `mode=update`: it
  changes only what it names (a rate card's rows; a CGRateS folder's ids) on the version in
  force for its key, which it records as its parent.
- Every import computes the new index off the write transaction, then the diff against the
  index in force at `at` (the later of now and the import's last instant) and the calls of
  the last 30 days (service clock) that it would leave unrated. A dry run returns that and
  writes nothing; a real import that would unrate calls is refused (`409 coverage_loss`)
  unless `force`.
- Committing inserts the version and points its keys' heads at it; the importing process
  swaps its index in at once (`rating_live.LiveIndex.adopt`), other processes notice the
  heads within a second.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ...db import rate_decks as db
from ...db.engine import read_tx, write_tx
from ...db.schema import tenants as tenants_table
from ...db.schema_usage import call_records
from ...domain.money import format_micros, minor_units
from ...domain.rating import Deck, NoRate, RatingIndex, epoch_seconds, price_call
from ...domain.rating.layers import Diff, PriceRow, diff
from ...errors import Conflict, NotFound, ValidationError
from ...rating_import import deck_to_json
from ..access.principal import Principal, require_operator
from ..ledger.funds import iso
from ..runtime import Runtime
from .rating import parse_deck
from .rating_live import gc_paused, live_index
from .tenant_rates import rate_text

MODES = ("replace", "update")
RECENT = timedelta(days=30)
LIST_CAP = 1_000  # entries of each list in a diff answer; counts are always whole


def who_label(who: Principal) -> str:
    if who.kind == "user":
        return f"user:{who.user_id}"
    return who.kind


def import_files(
    rt: Runtime, who: Principal, *, format_: str, files: Mapping[str, bytes], mode: str = "replace",
    dry_run: bool = False, force: bool = False, currency: str | None = None,
    rounding: str | None = None, decimals: int | None = None, rating_key: str | None = None,
    name: str | None = None, fallback_rating_key: str | None = None, by: str | None = None,
) -> dict[str, Any]:
    """Parse, check and (unless a dry run) store an upload; see the module docstring."""
    require_operator(who)
    with gc_paused():  # a large deck must not stall the process's requests (rating_live)
        return _import_files(
            rt, who, format_=format_, files=files, mode=mode, dry_run=dry_run, force=force,
            currency=currency, rounding=rounding, decimals=decimals, rating_key=rating_key,
            name=name, fallback_rating_key=fallback_rating_key, by=by)


def _import_files(
    rt: Runtime, who: Principal, *, format_: str, files: Mapping[str, bytes], mode: str,
    dry_run: bool, force: bool, currency: str | None, rounding: str | None,
    decimals: int | None, rating_key: str | None, name: str | None,
    fallback_rating_key: str | None, by: str | None,
) -> dict[str, Any]:
    if mode not in MODES:
        raise ValidationError(f"mode must be one of {', '.join(MODES)}")
    if fallback_rating_key is not None and format_ != "ratecard":
        raise ValidationError("fallback_rating_key is for rate card (override) decks")
    args = {"format_": format_, "files": files, "currency": currency, "rounding": rounding,
            "decimals": decimals, "rating_key": rating_key, "name": name}
    if mode == "update" and format_ == "cgrates":  # a folder may hold only the files it changes
        if not rating_key:
            raise ValidationError("a CGRateS update names the rating_key (tenant) of the deck it updates")
        base = _base(rt, None, rating_key)
        if base is None:
            raise ValidationError(f"rating key {rating_key!r} has no deck to update")
        return store(rt, who, parse_deck(**args, base=base), mode=mode,  # type: ignore[arg-type]
                     dry_run=dry_run, force=force, by=by)
    deck = parse_deck(**args, fallback_rating_key=fallback_rating_key)  # type: ignore[arg-type]
    if mode == "update":
        base = _base(rt, deck, rating_key)
        if base is not None:
            deck = parse_deck(**args, base=base,  # type: ignore[arg-type]
                              fallback_rating_key=fallback_rating_key or base.fallback_rating_key)
    if fallback_rating_key is not None:
        _check_fallback(rt, deck, fallback_rating_key)
    return store(rt, who, deck, mode=mode, dry_run=dry_run, force=force, by=by)


def _base(rt: Runtime, deck: Deck | None, rating_key: str | None) -> Deck | None:
    """The version in force for the upload's rating key (None: nothing to update yet)."""
    holder = live_index(rt.caches, rt.engine)
    holder.refresh_now()
    keys = (deck.rating_keys if deck else []) or ([rating_key] if rating_key else [])
    heads = {holder.token.get(k) for k in keys} if holder.token else set()
    if len(heads) > 1:
        raise ValidationError("an update names rating keys whose decks differ; import one key at a time")
    head = next(iter(heads), None)
    if head is None:
        return None
    base = holder.decks().get(head)
    if base is None:  # pragma: no cover - the holder loads every live version
        raise Conflict("the deck in force changed during the import; try again")
    if deck is None:
        return base
    if base.currency != deck.currency:
        raise ValidationError(f"the deck in force for {', '.join(keys)} is in {base.currency}, "
                              f"not {deck.currency}")
    if deck.format == "cgrates" and base.format != "cgrates":
        raise ValidationError("a CGRateS update applies to a CGRateS deck; this key has a rate card")
    return base


def _check_fallback(rt: Runtime, deck: Deck, key: str) -> None:
    holder = live_index(rt.caches, rt.engine)
    holder.refresh_now()
    if key in deck.rating_keys:
        raise ValidationError("a deck cannot fall back to its own rating key")
    if not holder.token or key not in holder.token:
        raise ValidationError(f"fallback_rating_key {key!r} has no deck")


def store(rt: Runtime, who: Principal, deck: Deck, *, mode: str, dry_run: bool = False,
          force: bool = False, by: str | None = None) -> dict[str, Any]:
    """Check a parsed deck against the decks in force and, unless a dry run, make it live."""
    require_operator(who)
    holder = live_index(rt.caches, rt.engine)
    old = holder.refresh_now()
    token = dict(holder.token or {})
    with read_tx(rt.engine) as conn:
        provisional = db.latest_version(conn) + 1
    deck = deck.with_version(provisional)
    new = old.with_deck(deck)
    now = rt.clock.now()
    at = max([now, *(p.activation for p in deck.profiles), *(e.at for e in deck.ends)])
    changes = diff(old, new, set(deck.rating_keys), epoch_seconds(at), limit=LIST_CAP)
    unrated = unrated_recent_calls(rt, old, new, at)
    answer = _answer(deck, mode, changes, unrated, at)
    if dry_run:
        return {"dry_run": True, **answer}
    if unrated and not force:
        raise Conflict(f"{answer['unrated_recent_calls']} call(s) of the last 30 days would have no "
                       "rate; import with force=true to accept", code="coverage_loss",
                       unrated_recent_calls=answer["unrated_recent_calls"], unrated=answer["unrated"])
    keys = deck.rating_keys
    stats = {k: answer[k + "_count"] for k in ("added", "changed", "removed")}
    try:
        version = _commit(rt, who, deck, mode=mode, token=token, now=now, by=by, stats=stats)
    except IntegrityError:  # two first imports of a new key at once: one of them wins
        raise Conflict("another import changed these rating keys meanwhile; try again") from None
    if version == provisional:
        holder.adopt(new, {**token, **{k: version for k in keys}}, deck)
    else:  # another version was numbered meanwhile: build from the database
        holder.refresh_now()
    effective = min((p.activation for p in deck.profiles), default=None)
    return {"id": version, "version": version, "name": deck.name, "format": deck.format,
            "mode": mode, "currency": deck.currency, "rows": deck.row_count,
            "prefixes": deck.prefix_count, "rating_keys": keys,
            "effective_from": iso(effective) if effective else None,
            "fallback_rating_key": deck.fallback_rating_key, **answer}


def _commit(rt: Runtime, who: Principal, deck: Deck, *, mode: str, token: dict[str, int],
            now: datetime, by: str | None, stats: dict[str, int]) -> int:
    keys = deck.rating_keys
    with write_tx(rt.engine) as conn:
        if any(db.heads(conn, lock=True).get(k) != token.get(k) for k in keys):
            raise Conflict("another import changed these rating keys meanwhile; try again")
        version = db.insert(
            conn, name=deck.name, format_=deck.format, currency=deck.currency,
            rows=deck.row_count, rating_keys=keys, now=now,
            effective_from=min((p.activation for p in deck.profiles), default=None),
            document={**deck_to_json(deck), "version": 0}, mode=mode,
            imported_by=by or who_label(who), fallback_rating_key=deck.fallback_rating_key,
            parents={k: token[k] for k in keys if k in token}, stats={**stats, "prefixes": deck.prefix_count})
        db.set_heads(conn, {k: version for k in keys}, now=now, by=by or who_label(who))
    return version


def _price(row: PriceRow | None, digits: int) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"destination": row.destination, "rate_per_minute": rate_text(row),
            "connection_fee": format_micros(row.connect_fee_micros, digits),
            "initial_increment": row.initial_increment, "next_increment": row.next_increment}


def _answer(deck: Deck, mode: str, changes: Diff, unrated: list[dict[str, Any]],
            at: datetime) -> dict[str, Any]:
    digits = minor_units(deck.currency)
    kinds: dict[str, list[dict[str, Any]]] = {"added": [], "changed": [], "removed": []}
    for ch in changes.changes:
        kind = "added" if ch.old is None else "removed" if ch.new is None else "changed"
        item: dict[str, Any] = {"category": ch.category, "prefix": ch.prefix}
        if ch.subject != "*any":
            item["subject"] = ch.subject
        item |= {"old": _price(ch.old, digits), "new": _price(ch.new, digits)}
        kinds[kind].append(item)
    return {
        "mode": mode, "compared_at": iso(at), **kinds,
        **{f"{k}_count": sum(c[k] for c in changes.counts.values()) for k in kinds},
        "by_category": changes.counts,
        "unrated_recent_calls": sum(u["calls"] for u in unrated),
        "unrated": unrated[:LIST_CAP],
    }


def unrated_recent_calls(rt: Runtime, old: RatingIndex, new: RatingIndex,
                         at: datetime) -> list[dict[str, Any]]:
    """Destinations called in the last 30 days that the old index prices at `at` and the new
    one does not: category, prefix, destination and the number of calls, most calls first."""
    now = rt.clock.now()
    c, t = call_records.c, tenants_table.c
    with read_tx(rt.engine) as conn:
        rows = conn.execute(
            select(t.rating_key, t.currency, c.tenant_id, c.category, c.callee, func.count())
            .join(tenants_table, t.id == c.tenant_id)
            .where(c.started_at >= now - RECENT, c.started_at <= now, c.category.is_not(None))
            .group_by(t.rating_key, t.currency, c.tenant_id, c.category, c.callee)).all()
    lost: dict[tuple[str, str, str], int] = {}
    for key, currency, tenant_id, category, callee, count in rows:
        args = {"rating_key": key, "category": category, "subject": tenant_id,
                "number": callee, "started_at": at, "duration_s": 0, "currency": currency}
        try:
            before = price_call(old, **args)
        except NoRate:
            continue
        try:
            price_call(new, **args)
        except NoRate:
            where = (category, before.prefix or "*any", before.destination_name or before.destination_id)
            lost[where] = lost.get(where, 0) + count
    return [{"category": k[0], "prefix": k[1], "destination": k[2], "calls": n}
            for k, n in sorted(lost.items(), key=lambda kv: (-kv[1], kv[0]))]


def list_decks(rt: Runtime, who: Principal, *, limit: int = 100,
               cursor: int | None = None) -> dict[str, Any]:
    """Every version, newest first, with who imported it, when, its counts and whether it
    is in force (`in_force_for`: the keys it heads; `live_for`: keys whose lineage has it)."""
    require_operator(who)
    with read_tx(rt.engine) as conn:
        rows = db.summaries(conn)
        heads = db.heads(conn)
    live = db.lineage(rows, heads)
    page = [r for r in rows if cursor is None or r.id < cursor][:limit]
    items = [{
        "id": r.id, "version": r.id, "name": r.name, "format": r.format, "mode": r.mode,
        "currency": r.currency, "rows": r.rows, "rating_keys": r.rating_keys,
        "effective_from": iso(r.effective_from) if r.effective_from else None,
        "imported_at": iso(r.imported_at), "imported_by": r.imported_by,
        "fallback_rating_key": r.fallback_rating_key, "parents": r.parents,
        "counts": r.stats, "in_force_for": sorted(k for k, v in heads.items() if v == r.id),
        "live_for": sorted(live.get(r.id, ())),
    } for r in page]
    more = len(page) == limit and any(r.id < page[-1].id for r in rows)
    return {"items": items, "next_cursor": str(page[-1].id) if more else None}


def activate(rt: Runtime, who: Principal, deck_id: int, *, by: str | None = None) -> dict[str, Any]:
    """Put a version back (or forward) in force for its rating keys, at once."""
    require_operator(who)
    now = rt.clock.now()
    with write_tx(rt.engine) as conn:
        row = db.get(conn, deck_id)
        if row is None:
            raise NotFound(f"rate deck {deck_id} not found")
        db.set_heads(conn, {k: row.id for k in row.rating_keys}, now=now, by=by or who_label(who))
    live_index(rt.caches, rt.engine).refresh_now()
    return {"id": row.id, "version": row.id, "name": row.name, "rating_keys": row.rating_keys,
            "activated_at": iso(now)}
