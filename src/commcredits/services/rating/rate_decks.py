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
- An upload received by the server (`import_upload`) that is large (`OFFLOAD_BYTES`) is
  parsed, validated, compared and encoded in a worker process of its own, at a lower CPU
  priority, so the server's interpreter stays free for call control: the server process only
  commits the encoded document (outside the writer gate's heavy part: the document is
  encoded before the write transaction opens) and builds its own index from it, with the
  interpreter handed to request threads at a short switch interval (`calls.priority`). The worker
  runs exactly the checks of an import in the server (same errors with file, line and
  reason, same limits, dry run and coverage guard), and writes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from multiprocessing import get_context
from typing import Any, NotRequired, TypedDict

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from ...db import rate_decks as db
from ...db.engine import make_engine, read_tx, unit_of_work
from ...db.rate_decks import encode_document
from ...db.schema import tenants as tenants_table
from ...db.schema_usage import call_records
from ...domain.money import format_micros, minor_units
from ...domain.rating import Deck, NoRate, RatingIndex, epoch_seconds, price_call
from ...domain.rating.layers import Diff, PriceRow, diff
from ...errors import Conflict, NotFound, ValidationError
from ...formatting import iso
from ...rating_import import deck_to_json
from ..access.principal import Principal, require_operator
from ..calls.priority import run_as_background_process, yielding
from ..clock import FixedClock
from ..runtime import Runtime
from .rating import parse_deck
from .rating_live import gc_paused, live_index
from .tenant_rates import rate_text

MODES = ("replace", "update")
RECENT = timedelta(days=30)
LIST_CAP = 1_000  # entries of each list in a diff answer; counts are always whole
OFFLOAD_BYTES = 512 * 1024  # uploads this large (about 7,000 rate card rows) are parsed in a worker process
WORKER_NICE = 10  # the worker's CPU priority below the server's where SCHED_IDLE is refused


def who_label(who: Principal) -> str:
    if who.kind == "user":
        return f"user:{who.user_id}"
    return who.kind


class DeckDiff(TypedDict):
    """What an import would change (a dry run's answer), and the part of an import's answer
    that says what it changed (API.md "Rate decks"). A report made where the import is
    checked (perhaps the import worker process) and handed back as it is."""

    mode: str
    compared_at: str
    added: list[dict[str, Any]]
    changed: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    added_count: int
    changed_count: int
    removed_count: int
    by_category: dict[str, dict[str, int]]
    unrated_recent_calls: int
    unrated: list[dict[str, Any]]
    dry_run: NotRequired[bool]


class DeckImport(DeckDiff):
    """A committed import: the new version, what it holds, and what it changed."""

    id: int
    version: int
    name: str
    format: str
    currency: str
    rows: int
    prefixes: int
    rating_keys: list[str]
    effective_from: str | None
    fallback_rating_key: str | None


def import_files(
    rt: Runtime, who: Principal, *, format_: str, files: Mapping[str, bytes], mode: str = "replace",
    dry_run: bool = False, force: bool = False, currency: str | None = None,
    rounding: str | None = None, decimals: int | None = None, rating_key: str | None = None,
    name: str | None = None, fallback_rating_key: str | None = None, by: str | None = None,
) -> DeckDiff:
    """Parse, check and (unless a dry run) store an upload; see the module docstring."""
    require_operator(who)
    with gc_paused():  # a large deck must not stall the process's requests (rating_live)
        deck = _parse(rt, format_=format_, files=files, mode=mode, currency=currency, rounding=rounding,
                      decimals=decimals, rating_key=rating_key, name=name, fallback_rating_key=fallback_rating_key)
        return store(rt, who, deck, mode=mode, dry_run=dry_run, force=force, by=by)


def _parse(
    rt: Runtime, *, format_: str, files: Mapping[str, bytes], mode: str, currency: str | None = None,
    rounding: str | None = None, decimals: int | None = None, rating_key: str | None = None,
    name: str | None = None, fallback_rating_key: str | None = None,
) -> Deck:
    """The upload as a validated deck (an update laid over the version in force for its key)."""
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
        return parse_deck(**args, base=base)  # type: ignore[arg-type]
    deck = parse_deck(**args, fallback_rating_key=fallback_rating_key)  # type: ignore[arg-type]
    if mode == "update":
        base = _base(rt, deck, rating_key)
        if base is not None:
            deck = parse_deck(**args, base=base,  # type: ignore[arg-type]
                              fallback_rating_key=fallback_rating_key or base.fallback_rating_key)
    if fallback_rating_key is not None:
        _check_fallback(rt, deck, fallback_rating_key)
    return deck


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
          force: bool = False, by: str | None = None) -> DeckDiff:
    """Check a parsed deck against the decks in force and, unless a dry run, make it live."""
    require_operator(who)
    checked, built = _check(rt, deck, mode=mode, dry_run=dry_run, force=force)
    if isinstance(checked, dict):
        return checked
    return _finish(rt, who, checked, by=by, built=built)


@dataclass(frozen=True)
class Checked:
    """A deck checked against the decks in force and encoded, ready to commit: what the
    import worker hands the server (small but for the document text)."""

    name: str
    format: str
    currency: str
    rows: int
    prefixes: int
    rating_keys: list[str]
    effective_from: datetime | None
    fallback_rating_key: str | None
    mode: str
    token: dict[str, int]  # the heads the check compared against (the commit re-checks them)
    provisional: int
    now: datetime
    answer: DeckDiff
    document: str  # db.rate_decks.encode_document text


def _check(rt: Runtime, deck: Deck, *, mode: str, dry_run: bool, force: bool
           ) -> tuple[Checked | DeckDiff, tuple[RatingIndex, Deck]]:
    """The diff and the coverage guard (a dry run's answer), else the deck ready to commit;
    with the index that holds the deck, numbered as it will be if no other import comes first."""
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
        return DeckDiff(**answer, dry_run=True), (new, deck)
    if unrated and not force:
        raise Conflict(f"{answer['unrated_recent_calls']} call(s) of the last 30 days would have no "
                       "rate; import with force=true to accept", code="coverage_loss",
                       unrated_recent_calls=answer["unrated_recent_calls"], unrated=answer["unrated"])
    document = encode_document({**deck_to_json(deck), "version": 0})  # before the write transaction
    return Checked(
        name=deck.name, format=deck.format, currency=deck.currency, rows=deck.row_count,
        prefixes=deck.prefix_count, rating_keys=deck.rating_keys,
        effective_from=min((p.activation for p in deck.profiles), default=None),
        fallback_rating_key=deck.fallback_rating_key, mode=mode, token=token,
        provisional=provisional, now=now, answer=answer, document=document), (new, deck)


def _finish(rt: Runtime, who: Principal, checked: Checked, *, by: str | None,
            built: tuple[RatingIndex, Deck] | None = None) -> DeckImport:
    """Commit a checked deck and put it in force in this process: the index `built` with it
    when its provisional version held, else one built from the database."""
    answer, keys = checked.answer, checked.rating_keys
    stats = {"added": answer["added_count"], "changed": answer["changed_count"], "removed": answer["removed_count"]}
    try:
        version = _commit(rt, who, checked, by=by, stats=stats)
    except IntegrityError:  # two first imports of a new key at once: one of them wins
        raise Conflict("another import changed these rating keys meanwhile; try again") from None
    holder = live_index(rt.caches, rt.engine)
    if built is not None and version == checked.provisional:
        holder.adopt(built[0], {**checked.token, **{k: version for k in keys}}, built[1])
    else:  # built elsewhere, or another version was numbered meanwhile: build from the database
        with yielding():  # the GIL goes to call control promptly while the index is built
            holder.refresh_now()
    effective = checked.effective_from
    return DeckImport(id=version, version=version, name=checked.name, format=checked.format,
                      currency=checked.currency, rows=checked.rows, prefixes=checked.prefixes, rating_keys=keys,
                      effective_from=iso(effective) if effective else None,
                      fallback_rating_key=checked.fallback_rating_key, **answer)


def _commit(rt: Runtime, who: Principal, checked: Checked, *, by: str | None, stats: dict[str, int]) -> int:
    keys, token, now = checked.rating_keys, checked.token, checked.now
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            if any(db.heads(conn, lock=True).get(k) != token.get(k) for k in keys):
                raise Conflict("another import changed these rating keys meanwhile; try again")
            version = db.insert(
                conn, name=checked.name, format_=checked.format, currency=checked.currency,
                rows=checked.rows, rating_keys=keys, now=now, effective_from=checked.effective_from,
                document=checked.document, mode=checked.mode,
                imported_by=by or who_label(who), fallback_rating_key=checked.fallback_rating_key,
                parents={k: token[k] for k in keys if k in token}, stats={**stats, "prefixes": checked.prefixes})
            db.set_heads(conn, {k: version for k in keys}, now=now, by=by or who_label(who))
    return version


# ---------------------------------------------------------------- large uploads: the import worker


_IMPORTS = threading.BoundedSemaphore(1)  # one worker at a time: a second large import waits its turn
def _shareable(engine: Engine) -> bool:
    """Another process can open this database (not an in-memory SQLite one)."""
    if engine.dialect.name != "sqlite":
        return True
    database = engine.url.database or ""
    return bool(database) and database != ":memory:" and "mode=memory" not in str(engine.url)


def import_upload(rt: Runtime, who: Principal, *, files: Mapping[str, bytes], mode: str = "replace",
                  dry_run: bool = False, force: bool = False, by: str | None = None,
                  **options: Any) -> DeckDiff:
    """`import_files` for an upload the server received: a large one is parsed, checked and
    encoded in a worker process (see the module docstring); its answer is the same."""
    require_operator(who)
    if sum(len(b) for b in files.values()) < OFFLOAD_BYTES or not _shareable(rt.engine):
        return import_files(rt, who, files=files, mode=mode, dry_run=dry_run, force=force, by=by, **options)
    url = rt.engine.url.render_as_string(hide_password=False)
    with _IMPORTS, ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=run_as_background_process,
                                       initargs=(WORKER_NICE,)) as pool:
        checked = pool.submit(check_in_worker, url, who, rt.clock.now(), files=dict(files), mode=mode,
                              dry_run=dry_run, force=force, options=options).result()
    if isinstance(checked, dict):
        return checked
    return _finish(rt, who, checked, by=by)


def check_in_worker(url: str, who: Principal, now: datetime, *, files: dict[str, bytes], mode: str,
                    dry_run: bool, force: bool, options: dict[str, Any]) -> Checked | DeckDiff:
    """In the import worker: everything an import does before its commit, against the same
    database at the server's `now`; a refusal raises the same error the server would."""
    from ...config import Settings
    from ...payments.sandbox import SandboxGateway

    engine = make_engine(url)
    rt = Runtime(engine=engine, settings=Settings(database_url=url), clock=FixedClock(now), gateway=SandboxGateway())
    try:
        with gc_paused():
            deck = _parse(rt, files=files, mode=mode, **options)
            return _check(rt, deck, mode=mode, dry_run=dry_run, force=force)[0]
    finally:
        engine.dispose()


def _price(row: PriceRow | None, digits: int) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"destination": row.destination, "rate_per_minute": rate_text(row),
            "connection_fee": format_micros(row.connect_fee_micros, digits),
            "initial_increment": row.initial_increment, "next_increment": row.next_increment}


def _answer(deck: Deck, mode: str, changes: Diff, unrated: list[dict[str, Any]],
            at: datetime) -> DeckDiff:
    digits = minor_units(deck.currency)
    kinds: dict[str, list[dict[str, Any]]] = {"added": [], "changed": [], "removed": []}
    for ch in changes.changes:
        kind = "added" if ch.old is None else "removed" if ch.new is None else "changed"
        item: dict[str, Any] = {"category": ch.category, "prefix": ch.prefix}
        if ch.subject != "*any":
            item["subject"] = ch.subject
        item |= {"old": _price(ch.old, digits), "new": _price(ch.new, digits)}
        kinds[kind].append(item)
    def count(kind: str) -> int:
        return sum(c[kind] for c in changes.counts.values())

    return DeckDiff(mode=mode, compared_at=iso(at), added=kinds["added"], changed=kinds["changed"],
                    removed=kinds["removed"], added_count=count("added"), changed_count=count("changed"),
                    removed_count=count("removed"), by_category=changes.counts,
                    unrated_recent_calls=sum(u["calls"] for u in unrated), unrated=unrated[:LIST_CAP])


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


@dataclass(frozen=True, slots=True)
class DeckVersion:
    """One stored version with where it is in force: `in_force_for` the keys it heads,
    `live_for` the keys whose lineage holds it."""

    summary: db.DeckRow
    in_force_for: tuple[str, ...]
    live_for: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeckVersions:
    items: tuple[DeckVersion, ...]
    next_cursor: int | None


@dataclass(frozen=True, slots=True)
class Activation:
    deck: db.DeckRow
    activated_at: datetime


def list_decks(rt: Runtime, who: Principal, *, limit: int = 100, cursor: int | None = None) -> DeckVersions:
    """Every version, newest first, with who imported it, when, its counts and whether it
    is in force."""
    require_operator(who)
    with read_tx(rt.engine) as conn:
        rows = db.summaries(conn)
        heads = db.heads(conn)
    live = db.lineage(rows, heads)
    page = [r for r in rows if cursor is None or r.id < cursor][:limit]
    items = tuple(DeckVersion(r, in_force_for=tuple(sorted(k for k, v in heads.items() if v == r.id)),
                              live_for=tuple(sorted(live.get(r.id, ())))) for r in page)
    more = len(page) == limit and any(r.id < page[-1].id for r in rows)
    return DeckVersions(items, page[-1].id if more else None)


def activate(rt: Runtime, who: Principal, deck_id: int, *, by: str | None = None) -> Activation:
    """Put a version back (or forward) in force for its rating keys, at once."""
    require_operator(who)
    now = rt.clock.now()
    for tx in unit_of_work(rt.engine):
        with tx as conn:
            row = db.get(conn, deck_id)
            if row is None:
                raise NotFound(f"rate deck {deck_id} not found")
            db.set_heads(conn, {k: row.id for k in row.rating_keys}, now=now, by=by or who_label(who))
    assert row is not None  # the loop ends only after a try that completed
    live_index(rt.caches, rt.engine).refresh_now()
    return Activation(row, now)
