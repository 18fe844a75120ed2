"""An error as the API's application/problem+json body: the one shape (`errors.problem_body`),
used by the API's error mapping (`api/problems.py`), by stored idempotent answers
(`services/ledger/funds.py`) and by the CLI where it prints a refusal as the API would."""

from __future__ import annotations

from typing import Any

from ..errors import CommCreditsError, problem_body

__all__ = ["problem_body", "problem_out"]


def problem_out(exc: CommCreditsError) -> dict[str, Any]:
    """An error of the one tree (errors.py) as its problem body."""
    return exc.problem()
