"""Migration 0014: the reservations' indexes hold active holds only, on a database that
already has calls (upgraded from 0013), and the sweep and the held-money sums still find
exactly the active ones."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from tests.conftest import PG_URL

from commcredits.db import reservations as res_db
from commcredits.db.engine import make_engine, normalise_url
from commcredits.db.migrate import alembic_config

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def blank(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of its own (the migrations run on it from the start)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
        yield engine
        engine.dispose()
        return
    if not PG_URL:
        pytest.skip("COMMCREDITS_TEST_POSTGRES_URL is not set")
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"commcredits_mig_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(f"{normalise_url(PG_URL).rsplit('/', 1)[0]}/{name}")
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _migrate(engine: Engine, verb: str, revision: str) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, verb)(cfg, revision)


def _hold(conn, call_id: str, status: str, amount: int, expires: datetime) -> None:  # type: ignore[no-untyped-def]
    conn.execute(text(
        "INSERT INTO reservations (call_id, id, tenant_id, call_type, caller, callee, started_at, decision, reason, "
        "amount, pool_minutes, status, expires_at, created_at, answer) VALUES (:c, :i, 't1', 'user_out', '+1', '+2', "
        ":t, 'allow', 'ok', :a, 0, :s, :e, :t, '{}')"),
        {"c": call_id, "i": str(uuid.uuid4()), "t": NOW - timedelta(hours=1), "a": amount, "s": status, "e": expires})


def test_upgrading_a_database_with_calls_keeps_finding_the_active_holds(blank: Engine) -> None:
    _migrate(blank, "upgrade", "0013")
    with blank.begin() as conn:
        conn.execute(text("INSERT INTO tenants (id, name, country, currency, billing_country, timezone, "
                          "billing_mode, rating_key, purchase_mitigation, partner_funded, deficit, reserved, "
                          "created_at) VALUES ('t1', 'T', 'US', 'USD', 'US', 'UTC', 'prepaid', 'default', "
                          "false, false, 0, 30000, :t)"), {"t": NOW})
        _hold(conn, "due", "active", 10_000, NOW - timedelta(minutes=1))
        _hold(conn, "later", "active", 20_000, NOW + timedelta(minutes=5))
        _hold(conn, "settled", "settled", 0, NOW - timedelta(minutes=2))
        _hold(conn, "expired", "expired", 0, NOW - timedelta(minutes=3))
    _migrate(blank, "upgrade", "heads")

    names = {ix["name"] for ix in inspect(blank).get_indexes("reservations")}
    assert {"ix_reservations_active_expires_at", "ix_reservations_active_tenant_id"} <= names
    assert not names & {"ix_reservations_status_expires_at", "ix_reservations_tenant_id_status"}
    with blank.connect() as conn:
        assert [r["call_id"] for r in res_db.due(conn, NOW)] == ["due"]
        assert res_db.next_expiry(conn, NOW) == NOW + timedelta(minutes=5)
        assert res_db.reserved_sums(conn) == {"t1": 30_000}

    _migrate(blank, "downgrade", "0013")  # and back, for an operator who must roll back
    names = {ix["name"] for ix in inspect(blank).get_indexes("reservations")}
    assert {"ix_reservations_status_expires_at", "ix_reservations_tenant_id_status"} <= names
    _migrate(blank, "upgrade", "heads")
