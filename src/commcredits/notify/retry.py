"""When to try a notification again: the retry policy, pure (now is a parameter).

A failed send waits 1 minute, then 2, 4, 8 ... capped at 1 hour. After `FAILED_AFTER`
attempts the row is marked `failed` so the notifications list and the metrics show it,
but it is never abandoned: it keeps being retried every hour until it goes through
(DOMAIN.md: no e-mail is lost when the mail server is down). A claimed row holds a lease of
`LEASE`: if the dispatcher dies between sending and recording the outcome, the row becomes
due again when the lease runs out and is sent once more with the same Message-ID or
delivery id, so receivers can drop the duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

FIRST_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=1)
FAILED_AFTER = 8
LEASE = timedelta(minutes=5)

DUE_STATUSES = ("pending", "retrying", "failed", "sending")


@dataclass(frozen=True, slots=True)
class Retry:
    status: str
    next_attempt_at: datetime


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt (1-based)."""
    if attempts < 1:
        raise ValueError("backoff counts from the first attempt")
    return min(FIRST_DELAY * (1 << min(attempts - 1, 16)), MAX_DELAY)


def after_failure(attempts: int, now: datetime) -> Retry:
    """Status and next attempt of a row whose `attempts`-th attempt just failed."""
    status = "failed" if attempts >= FAILED_AFTER else "retrying"
    return Retry(status, now + backoff(attempts))


def lease_until(now: datetime) -> datetime:
    """Until when a claimed row is left alone by other dispatchers."""
    return now + LEASE
