"""`commcredits cdrs ...`: charge call-record files from the command line."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import IO, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from ..services.usage import ingest as ingest_svc
from .common import emit, err, friendly, runtime

cdrs_app = typer.Typer(help="Charge call records from files.", no_args_is_help=True)


@cdrs_app.command("ingest")
def cdrs_ingest(
    file: Annotated[str, typer.Argument(help="a CSV or JSON Lines file of call records, or - for standard input")],
    format: Annotated[str, typer.Option("--format", help="csv (with a header row) or jsonl")],
    rejects: Annotated[Path | None, typer.Option(
        help="CSV of rejected lines: line, id, code, reason (default FILE.rejects.csv; ./rejects.csv for -)")] = None,
    batch_size: Annotated[int, typer.Option(
        min=1, max=ingest_svc.MAX_BATCH, help="records charged per database transaction (1..100,000)")] = (
        ingest_svc.DEFAULT_BATCH),
    progress: Annotated[bool, typer.Option(help="show a progress bar on stderr")] = True,
    workers: Annotated[int, typer.Option(
        min=1, max=16, help="processes that charge side by side, each tenant in one of them (PostgreSQL; "
        "1 on SQLite)")] = 1,
) -> None:
    """Charge every record of a file exactly once, in batches; print a summary as JSON.

    Each line is the CSV header, blank, or a record charged, a duplicate (charged before: no
    second charge) or rejected; the summary counts each (lines = header_lines + blank_lines +
    charged + duplicate + rejected). Rejected and malformed lines go to the reject file with
    their line number; one record never stops the run. The exit status is 0 even when lines
    are rejected; 1 when the input cannot be used (an unknown format, a CSV header that names
    no record fields) or the database fails during the run; 2 for a usage error (a missing file, a --batch-size
    out of range, no database). Running the same file again after an interruption charges
    only what is missing. On PostgreSQL, --workers N charges with N processes, each tenant's
    records in one of them and in file order, with the same results.

    Example: commcredits cdrs ingest calls.csv --format csv --rejects calls.rejects.csv --workers 2
    """

    @friendly
    def run() -> None:
        ingest_svc.check_format(format)
        if file != "-" and not Path(file).is_file():
            raise typer.BadParameter(f"{file} is not a file", param_hint="FILE")
        target = rejects or Path("rejects.csv" if file == "-" else f"{file}.rejects.csv")
        rt = runtime()
        with _open(file) as stream, target.open("w", newline="", encoding="utf-8",
                                                  errors="backslashreplace") as out:
            size = None if file == "-" else Path(file).stat().st_size
            try:
                summary = _run(rt, stream, out, size, format, batch_size, progress, workers)
            except (OperationalError, InterfaceError) as exc:  # the database's failure, not a record's
                _database_failed(exc)
        emit({"file": file, "format": format, **summary.as_json(), "rejects_file": str(target)})

    run()


def _database_failed(exc: DBAPIError) -> NoReturn:

    text = str(exc.orig or exc).strip()
    cause = text.splitlines()[0][:200] if text else type(exc).__name__
    err.print(f"[red]error[/red] (database): {escape(cause)}; the batches before it are stored, nothing of the "
              "failing one; run the same file again to resume", soft_wrap=True)
    raise typer.Exit(1)


def _open(file: str) -> AbstractContextManager[IO[bytes]]:
    if file == "-":
        return nullcontext(sys.stdin.buffer)  # standard input stays open
    return open(file, "rb")


def _run(rt: object, stream: IO[bytes], out: IO[str], size: int | None, format_: str, batch_size: int,
         show: bool, workers: int) -> ingest_svc.Summary:
    console = Console(stderr=True)
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                   TransferSpeedColumn(), TextColumn("{task.fields[records]:,} records"), TimeElapsedColumn(),
                   console=console, disable=not show, transient=False)
    with bar:
        task = bar.add_task("ingesting", total=size, records=0)

        def update(summary: ingest_svc.Summary) -> None:
            bar.update(task, completed=summary.bytes_read, records=summary.records)

        return ingest_svc.ingest(rt, stream, format_=format_, rejects=out,  # type: ignore[arg-type]
                                 batch_size=batch_size, progress=update, workers=workers)
