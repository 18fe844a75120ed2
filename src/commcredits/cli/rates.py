"""`commcredits rates ...`: import decks and quote calls from the command line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..services.access.principal import OPERATOR
from ..services.rating import rate_decks, rating
from ..services.rating.rate_decks import DeckDiff
from ..views.rating import activation_out, deck_versions_out, quote_out
from .common import emit, friendly, runtime

rates_app = typer.Typer(help="Import rate decks and price calls.", no_args_is_help=True)


@rates_app.command("import")
def rates_import(
    path: Annotated[Path, typer.Argument(help="a CGRateS tariff-plan folder, or a rate card CSV file")],
    format: Annotated[str, typer.Option("--format", help="cgrates or ratecard")],
    deck: Annotated[str | None, typer.Option(help="deck name (default: folder or file name)")] = None,
    currency: Annotated[str | None, typer.Option(help="deck currency (rate card: else its header)")] = None,
    rounding: Annotated[str | None, typer.Option(help="rate card: up, half_up or down")] = None,
    decimals: Annotated[int | None, typer.Option(help="rate card: decimals of a call's total")] = None,
    rating_key: Annotated[str | None, typer.Option(
        help="rate card: rating key (default: currency); CGRateS update: the key it updates")] = None,
    mode: Annotated[str, typer.Option(help="replace (the whole deck) or update (only the rows named)")] = "replace",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="apply nothing; show what would change")] = False,
    force: Annotated[bool, typer.Option(help="import even if recent calls would have no rate")] = False,
    fallback_rating_key: Annotated[str | None, typer.Option(
        help="rate card override: what it does not cover is priced by this key's deck")] = None,
) -> None:
    """Import a deck as a new version; a bad row stops the import and names file, line, reason.

    --dry-run shows the added, changed and removed prefixes and the calls of the last 30
    days that would lose their rate, as a table, and applies nothing.

    Example: commcredits rates import examples/ratecard-eur.csv --format ratecard --dry-run
    """

    @friendly
    def run() -> None:
        if format == "cgrates":
            if not path.is_dir():
                raise typer.BadParameter(f"{path} is not a folder", param_hint="PATH")
            files = {p.name: p.read_bytes() for p in sorted(path.glob("*.csv"))}
        else:
            if not path.is_file():
                raise typer.BadParameter(f"{path} is not a file", param_hint="PATH")
            files = {path.name: path.read_bytes()}
        result = rate_decks.import_files(
            runtime(), OPERATOR, format_=format, files=files, mode=mode, dry_run=dry_run, force=force,
            currency=currency, rounding=rounding, decimals=decimals, rating_key=rating_key,
            name=deck or (path.name if format == "cgrates" else None),
            fallback_rating_key=fallback_rating_key, by="cli")
        if dry_run:
            show_diff(result)
        else:
            emit(result)

    run()


def show_diff(result: DeckDiff) -> None:
    """A dry run as rich tables: the changes per prefix, then the calls that would be unrated."""
    console = Console()
    table = Table(title=f"Dry run ({result['mode']}), prices compared at {result['compared_at']}")
    for column in ("change", "category", "prefix", "destination", "old / min", "new / min"):
        table.add_column(column)
    for kind in ("added", "changed", "removed"):
        for item in result[kind]:
            old, new = item["old"] or {}, item["new"] or {}
            table.add_row(kind, item["category"], item["prefix"],
                          (new or old).get("destination", ""), old.get("rate_per_minute", "-"),
                          new.get("rate_per_minute", "-"))
    console.print(table)
    counts = f"{result['added_count']} added, {result['changed_count']} changed, {result['removed_count']} removed"
    console.print(f"{counts}; {result['unrated_recent_calls']} call(s) of the last 30 days would have no rate")
    if result["unrated"]:
        lost = Table(title="Destinations called in the last 30 days that would have no rate")
        for column in ("category", "prefix", "destination", "calls"):
            lost.add_column(column)
        for u in result["unrated"]:
            lost.add_row(u["category"], u["prefix"], u["destination"], str(u["calls"]))
        console.print(lost)
    console.print("nothing was applied (dry run)")


@rates_app.command("decks")
def rates_decks() -> None:
    """List every deck version: who imported it, when, its counts and what is in force.

    Example: commcredits rates decks
    """

    friendly(lambda: emit(deck_versions_out(rate_decks.list_decks(runtime(), OPERATOR, limit=500))))()


@rates_app.command("activate")
def rates_activate(
    version: Annotated[int, typer.Argument(help="the deck version to put in force for its rating keys")],
) -> None:
    """Roll back (or forward) to a deck version, at once.

    Example: commcredits rates activate 3
    """

    friendly(lambda: emit(activation_out(rate_decks.activate(runtime(), OPERATOR, version, by="cli"))))()


@rates_app.command("quote")
def rates_quote(
    category: Annotated[str, typer.Option(help="outbound, toll_free_inbound, conference_dial_out, ...")],
    destination: Annotated[str, typer.Option(help="E.164 number, or the digits a deck uses")],
    duration: Annotated[int, typer.Option(help="call duration in seconds")],
    subject: Annotated[str | None, typer.Option(help="rating subject (default: *any)")] = None,
    rating_key: Annotated[str | None, typer.Option(help="rating key, e.g. USD or cgrates.org")] = None,
    tenant: Annotated[str | None, typer.Option(help="rate as this tenant (its key, currency, subject)")] = None,
    at: Annotated[datetime | None, typer.Option(help="call start, UTC unless a zone is given")] = None,
) -> None:
    """Price a call without moving money, with the spans that make up the price.

    Example: commcredits rates quote --rating-key cgrates.org --category call --subject 1001
    --destination 1002 --duration 130 --at 2026-01-01T10:00:00
    """

    @friendly
    def run() -> None:
        rt = runtime()
        when = at or rt.clock.now()
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        emit(quote_out(rating.quote(rt, OPERATOR, category=category, destination=destination, started_at=when,
                                    duration_seconds=duration, rating_key=rating_key, subject=subject,
                                    tenant_id=tenant)))

    run()


@rates_app.command("rerate")
def rates_rerate(
    start: Annotated[datetime, typer.Option("--from", help="period start (UTC unless a zone is given)")],
    end: Annotated[datetime, typer.Option("--to", help="period end, exclusive")],
    tenant: Annotated[str | None, typer.Option(help="only this tenant")] = None,
) -> None:
    """Price a period's calls again with the decks now in force; differences become new transactions.

    Example: commcredits rates rerate --from 2026-01-01 --to 2026-02-01
    """
    from ..services.rating import rerate
    from ..views.rating import rerate_out

    @friendly
    def run() -> None:
        aware = [t if t.tzinfo else t.replace(tzinfo=UTC) for t in (start, end)]
        emit(rerate_out(rerate.rerate(runtime(), OPERATOR, start=aware[0], end=aware[1], tenant_id=tenant)))

    run()
