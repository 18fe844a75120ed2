"""A run of the due jobs and a move of the sandbox clock as JSON (API.md "Jobs", "Sandbox
clock"); `commcredits jobs run` prints the same JSON as `POST /v1/jobs/run`."""

from __future__ import annotations

from typing import Any

from ..formatting import iso
from ..services.jobs import ClockMove, JobsRun


def jobs_run_out(run: JobsRun) -> dict[str, Any]:
    return {**run, "now": iso(run["now"])}


def clock_move_out(move: ClockMove) -> dict[str, Any]:
    return {"from": iso(move.start), "now": iso(move.now), "expired_lots": move.expired_lots}
