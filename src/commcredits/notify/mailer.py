"""The `Mailer` port: one method that hands an e-mail to a mail server.

`SmtpMailer` speaks SMTP with `smtplib`, configured by `COMMCREDITS_SMTP_URL`:

    smtp://[user:password@]host[:port][?starttls=1|0][&timeout=S][&cafile=PATH]
    smtps://[user:password@]host[:port]          (TLS from the first byte, port 465)

`starttls=1` requires STARTTLS (the send fails if the server does not offer it), `0` never
uses it, and leaving it out uses it whenever the server offers it. A user name in the URL
means LOGIN after TLS. `cafile` names extra CA certificates to trust (a private relay);
certificates are always verified. Each message opens its own connection: the dispatcher
sends a handful of messages a minute, and a fresh connection never inherits a broken one.

`FakeMailer` wraps a plain function (httpx's MockTransport idea) for tests and scripts.
No mail server configured (`mailer_for` returns None) means e-mails wait in the outbox
with status `held` until one is.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from ..config import Settings

Refused = Mapping[str, str]


class Mailer(Protocol):
    def send(self, message: EmailMessage, recipients: Sequence[str]) -> Refused:
        """Deliver `message` to `recipients`; return the addresses the server refused
        (with its reason) when it accepted the others. Raise when nothing was accepted."""
        ...


class FakeMailer:
    """A mailer that calls `fn(message, recipients)`; what `fn` raises, `send` raises."""

    def __init__(self, fn: Callable[[EmailMessage, Sequence[str]], Refused | None]) -> None:
        self._fn = fn

    def send(self, message: EmailMessage, recipients: Sequence[str]) -> Refused:
        return self._fn(message, recipients) or {}


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False
    starttls: bool | None = None  # None: when offered
    timeout: int = 30  # seconds
    cafile: str | None = None

    @classmethod
    def parse(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"COMMCREDITS_SMTP_URL must look like smtp://host:port, not {url!r}")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"starttls", "timeout", "cafile"}
        if unknown:
            raise ValueError(f"COMMCREDITS_SMTP_URL: unknown option(s) {', '.join(sorted(unknown))}")
        implicit = parts.scheme == "smtps"
        starttls = None if "starttls" not in query else query["starttls"].lower() in ("1", "true", "yes")
        return cls(
            host=parts.hostname, port=parts.port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit, starttls=False if implicit else starttls,
            timeout=int(query.get("timeout", 30)), cafile=query.get("cafile"),
        )


class SmtpMailer:
    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.config.cafile)

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.implicit_tls:
            return smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=self._tls())
        return smtplib.SMTP(c.host, c.port, timeout=c.timeout)

    def send(self, message: EmailMessage, recipients: Sequence[str]) -> Refused:
        c = self.config
        with self._connect() as smtp:
            smtp.ehlo()
            if c.starttls or (c.starttls is None and smtp.has_extn("starttls")):
                smtp.starttls(context=self._tls())
                smtp.ehlo()
            if c.username:
                smtp.login(c.username, c.password or "")
            refused = smtp.send_message(message, to_addrs=list(recipients))
        return {addr: f"{code} {reason.decode(errors='replace')}" for addr, (code, reason) in refused.items()}


def mailer_for(settings: Settings) -> Mailer | None:
    """The mailer the settings configure, or None when no mail server is set."""
    if not settings.smtp_url:
        return None
    return SmtpMailer(SmtpConfig.parse(settings.smtp_url))
