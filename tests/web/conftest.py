"""Fixtures of the admin center's tests: a cheap password hash (a test that wants argon2's
production parameters calls `monkeypatch.undo()`), one Chromium for the browser tests, the
app in a real server, and `open_page` (a browser signed in through the login form)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from tests.web.support import PASSWORD, LiveServer

from commcredits.services.access import web_auth

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its production cost takes most of a second per hash on a small CI machine."""
    monkeypatch.setattr(web_auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright; a missing browser fails on CI and skips elsewhere."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def server(rt) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    live = LiveServer(rt)
    yield live
    live.stop()


DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def open_page(browser, server):  # type: ignore[no-untyped-def]
    """`open_page(email, viewport=DESKTOP, password=PASSWORD)`: a fresh browser context signed
    in through the login form."""
    contexts: list[Any] = []

    def login(email: str, viewport: dict[str, int] = DESKTOP, password: str = PASSWORD) -> Any:
        context = browser.new_context(base_url=server.url, viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto("/admin/")
        assert "/admin/login" in page.url
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button:has-text('Sign in')")
        return page

    yield login
    for context in contexts:
        context.close()
