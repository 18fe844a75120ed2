"""Slowing down password guessing without locking anyone out, and without telling who exists.

Each failed login counts against two keys: the client (its IP address) and the account (the
e-mail address as typed, whether or not anyone has it, so a refusal never shows which
addresses exist). A key's first failures are free; after them every further failure makes
the key wait, doubling from 1 s up to a cap, and a login on a waiting key is refused at
once, without looking at the password. A key forgets its failures `FORGET` after the last
one. So nothing is ever locked for good:

- one client guessing is slowed to one guess per `CLIENT_CAP` (15 min) after
  `CLIENT_FREE` failures, on any accounts;
- an account guessed at from many clients waits at most `ACCOUNT_CAP` (1 min), so the
  worst a stranger who knows an admin's address can do is make the admin wait a minute;
  the account's free failures (`ACCOUNT_FREE`) are more than a client's, for an admin
  mistyping on several devices.

A successful login clears its account's key, never its client's (else a guesser would
clear its own key by logging into its own account between guesses).

Waiting uses the process's monotonic clock, not the service clock: a sandbox clock that
stands still must not lock anyone for good. The state lives in the process (bounded to
`MAX_KEYS`, least recently failed dropped first); with several API nodes each slows the
guesses it sees. Every start of a wait is logged (`commcredits.auth`) and counted in the
metric `commcredits_login_throttled_total{scope="client"|"account"}`, and every refused
attempt in `commcredits_login_refused_total` (docs/operations.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter

log = logging.getLogger("commcredits.auth")
THROTTLED = Counter("commcredits_login_throttled", "Login keys made to wait after failures", ["scope"])
REFUSED = Counter("commcredits_login_refused", "Logins refused while their client or account waits", ["scope"])

CLIENT_FREE, CLIENT_CAP = 5, 15 * 60.0
ACCOUNT_FREE, ACCOUNT_CAP = 10, 60.0
FORGET = 30 * 60.0
MAX_KEYS = 100_000


@dataclass
class _Key:
    failures: int = 0
    last: float = 0.0
    until: float = 0.0


class LoginThrottle:
    """Failure counts and waits per client and per account (thread-safe)."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._keys: OrderedDict[tuple[str, str], _Key] = OrderedDict()
        self._lock = threading.Lock()

    def wait_seconds(self, client: str, account: str | None) -> int:
        """How long this login must wait (0: go ahead); counts a refusal when it must."""
        now = self._now()
        with self._lock:
            for scope, name in (("client", client), ("account", account)):
                key = self._keys.get((scope, name)) if name is not None else None
                if key is not None and key.until > now:
                    REFUSED.labels(scope).inc()
                    return max(1, round(key.until - now))
        return 0

    def failed(self, client: str, account: str | None) -> None:
        now = self._now()
        with self._lock:
            self._fail(("client", client), CLIENT_FREE, CLIENT_CAP, now)
            if account is not None:
                self._fail(("account", account), ACCOUNT_FREE, ACCOUNT_CAP, now)

    def succeeded(self, account: str) -> None:
        with self._lock:
            self._keys.pop(("account", account), None)

    def _fail(self, name: tuple[str, str], free: int, cap: float, now: float) -> None:
        key = self._keys.pop(name, None) or _Key()
        if now - key.last > FORGET:
            key = _Key()
        key.failures, key.last = key.failures + 1, now
        if key.failures > free:
            wait = min(cap, 2.0 ** (key.failures - free - 1))
            key.until = now + wait
            THROTTLED.labels(name[0]).inc()
            log.warning("login throttled: %s %r waits %.0f s after %d failed logins", name[0], name[1], wait,
                        key.failures)
        self._keys[name] = key
        while len(self._keys) > MAX_KEYS:
            self._keys.popitem(last=False)
