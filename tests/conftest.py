"""Shared fixtures: a real database per test, on SQLite and (when configured) PostgreSQL.

`COMMCREDITS_TEST_POSTGRES_URL` names a PostgreSQL server (any database on it, e.g.
postgresql://postgres@127.0.0.1/postgres). When it is set, every database test also runs on
PostgreSQL in a database of its own made for the session, and an unreachable server is an
error, never a skip. When unset (a laptop without PostgreSQL), the PostgreSQL variants skip.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from commcredits.config import Settings
from commcredits.db.engine import make_engine, normalise_url
from commcredits.db.migrate import upgrade
from commcredits.db.registry import metadata
from commcredits.services.access.principal import OPERATOR, Principal
from commcredits.services.clock import FixedClock
from commcredits.services.runtime import Runtime

SHARED = Path(__file__).resolve().parents[2] / "shared"
START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
PG_URL = os.environ.get("COMMCREDITS_TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    if not PG_URL:
        pytest.skip("COMMCREDITS_TEST_POSTGRES_URL is not set")
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"commcredits_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:  # an unreachable server fails here, loudly
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = normalise_url(PG_URL).rsplit("/", 1)[0]
    engine = make_engine(f"{base}/{name}")
    upgrade(engine)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(engine: Engine) -> None:
    """Empty every table, then put back the data migrations seed (minute allowances)."""
    from commcredits.db.schema_usage import plan_allowances
    from commcredits.domain.plans import DEFAULT_ALLOWANCES

    names = ", ".join(t.name for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        conn.execute(plan_allowances.insert(), [
            {"product": p, "kind": k, "country": c, "minutes": m}
            for (p, k, c), m in DEFAULT_ALLOWANCES.items()
        ])


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        path = tmp_path / "commcredits.db"
        shutil.copy(sqlite_template, path)
        eng = make_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()
    else:
        eng = request.getfixturevalue("pg_engine")
        _truncate(eng)
        yield eng


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def rt(engine: Engine, clock: FixedClock) -> Runtime:
    settings = Settings(database_url=str(engine.url), sandbox=True)
    runtime = Runtime.from_settings(settings, engine=engine)
    runtime.clock = clock
    return runtime


@pytest.fixture
def operator() -> Principal:
    return OPERATOR


class Api:
    """A TestClient bound to the app, with helpers to make a tenant, users and cards."""

    def __init__(self, rt: Runtime) -> None:
        from fastapi.testclient import TestClient

        from commcredits.app import create_app
        from commcredits.db import tokens as token_db

        self.rt = rt
        self.client = TestClient(create_app(rt))
        with rt.engine.begin() as conn:
            _, self.operator_token = token_db.issue(conn, kind="operator", now=rt.clock.now())

    def call(self, method: str, path: str, token: str | None = None, **kw: object):  # type: ignore[no-untyped-def]
        headers = dict(kw.pop("headers", {}) or {})  # type: ignore[call-overload]
        if token is not None or "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {token or self.operator_token}"
        return self.client.request(method, path, headers=headers, **kw)  # type: ignore[arg-type]

    def tenant(self, **kw: object) -> str:
        body = {"name": "Fabrikam", "country": "US", "currency": "USD", "billing_country": "US",
                "timezone": "America/New_York", **kw}
        r = self.call("POST", "/v1/tenants", json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def user(self, tid: str, roles: list[str], email: str | None = None) -> tuple[str, str]:
        body = {"email": email or f"{uuid.uuid4().hex[:8]}@example.com", "display_name": "A User",
                "usage_location": "US", "roles": roles, "licenses": ["communications_credits"]}
        r = self.call("POST", f"/v1/tenants/{tid}/users", json=body)
        assert r.status_code == 201, r.text
        uid = r.json()["id"]
        t = self.call("POST", f"/v1/tenants/{tid}/users/{uid}/tokens")
        assert t.status_code == 201, t.text
        return uid, t.json()["token"]

    def card(self, tid: str, number: str = "4242424242424242", token: str | None = None) -> str:
        r = self.call("POST", f"/v1/tenants/{tid}/payment-methods", token,
                      json={"card_number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"})
        if r.status_code == 409 and r.json()["code"] == "duplicate_card":  # already saved: that one
            return str(r.json()["payment_method_id"])
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def fund(self, tid: str, amount: str, pm: str, key: str | None = None, token: str | None = None):  # type: ignore[no-untyped-def]
        return self.call("POST", f"/v1/tenants/{tid}/funds", token,
                         headers={"Idempotency-Key": key or uuid.uuid4().hex},
                         json={"amount": amount, "payment_method_id": pm})

    def balance(self, tid: str) -> dict[str, object]:
        r = self.call("GET", f"/v1/tenants/{tid}/balance")
        assert r.status_code == 200, r.text
        return dict(r.json())


@pytest.fixture
def api(rt: Runtime) -> Api:
    return Api(rt)


# --- what a clone without ../shared skips, and one line on why tests were skipped ----------

_READS_SHARED = re.compile(r"""\bSHARED\b|["']shared["']""")
_IMPORTS_TESTS = re.compile(r"^from (tests(?:\.\w+)+) import", re.MULTILINE)
_NO_SHARED = (f"{SHARED / 'testdata'} is missing: this module prices calls from the CGRateS tutorial plans "
              "and the sample rate card of the provider's documents (see README, 'Tests')")


def _reads_shared(path: Path, seen: set[Path]) -> bool:
    """Whether a test module (or a tests module it imports) reads the provider's ../shared."""
    source = path.read_text(encoding="utf-8")
    if _READS_SHARED.search(source):
        return True
    for name in _IMPORTS_TESTS.findall(source):
        dep = Path(__file__).resolve().parents[1].joinpath(*name.split(".")).with_suffix(".py")
        if dep.name != "conftest.py" and dep not in seen and dep.is_file():
            seen.add(dep)
            if _reads_shared(dep, seen):
                return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_make_collect_report(collector: pytest.Collector) -> pytest.CollectReport | None:
    """Without ../shared/testdata, skip (with the reason) the modules that read it."""
    if (SHARED / "testdata").is_dir() or not isinstance(collector, pytest.Module):
        return None
    if not _reads_shared(collector.path, set()):
        return None
    return pytest.CollectReport(collector.nodeid, "skipped", (str(collector.path), 0, f"Skipped: {_NO_SHARED}"), [])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line saying why tests were skipped (PostgreSQL not configured, Kamailio missing, ...)."""
    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    if reasons:
        why = "; ".join(f"{n} because {reason}" for reason, n in reasons.most_common())
        terminalreporter.write_line(f"skipped {sum(reasons.values())}: {why}")
