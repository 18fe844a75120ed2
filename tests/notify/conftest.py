"""Fixtures: a real SMTP server and a real HTTP receiver, stopped until a test starts them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.notify.support import HttpReceiver, SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver()
    yield server
    server.stop()
