"""Test support for notifications: real servers: an SMTP server (aiosmtpd) and an HTTP receiver
(http.server), each on 127.0.0.1 at a free port, each able to stop and start again on that
same port so a test can take the receiver down, generate events, and bring it back."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import socket
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from commcredits.notify.outbox import enqueue
from commcredits.services.runtime import Runtime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class SmtpServer:
    """aiosmtpd on a fixed port; `messages` holds what it accepted, in order."""

    def __init__(self, **smtp_kwargs: Any) -> None:
        self.port = free_port()
        self.messages: list[Mail] = []
        self.smtp_kwargs = smtp_kwargs
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **self.smtp_kwargs)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@dataclass
class Request:
    headers: dict[str, str]
    body: bytes


class HttpReceiver:
    """A webhook receiver; answers `status` to every POST and records the requests."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[Request] = []
        self.status = 200
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/commcredits"

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append(Request({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def use_smtp(rt: Runtime, url: str | None) -> None:
    rt.settings = dataclasses.replace(
        rt.settings, smtp_url=url, mail_from="Commcredits <billing@provider.example>",
        public_url="https://credits.provider.example",
    )


def emit(rt: Runtime, tenant_id: str, event: str, payload: dict[str, Any], dedupe_key: str | None = None) -> str | None:
    """Enqueue one event the way a feature does: inside its own transaction."""
    with rt.engine.begin() as conn:
        return enqueue(conn, tenant_id=tenant_id, event=event, payload=payload, now=rt.clock.now(),
                       dedupe_key=dedupe_key)
