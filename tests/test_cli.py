"""The CLI: every command documented with an example, and a whole flow end to end."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from sqlalchemy import text
from typer.main import get_command
from typer.testing import CliRunner

from commcredits.cli import app
from commcredits.config import Settings
from commcredits.db import settings_store
from commcredits.db import tokens as token_db
from commcredits.db.engine import make_engine, normalise_url
from commcredits.server import print_operator_token
from commcredits.services import jobs
from commcredits.services.demo import DEMO_TENANT_ID
from commcredits.services.runtime import Runtime
from tests.conftest import PG_URL

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def all_commands() -> list[list[str]]:
    root = get_command(app)
    out: list[list[str]] = []

    def walk(cmd: typer.core.TyperGroup | object, path: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            out.append(path)

    walk(root, [])
    return out


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p))
def test_every_command_has_help_with_an_example(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output, f"commcredits {' '.join(path)} --help shows no example"


def test_operator_flow(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {"COMMCREDITS_DATABASE_URL": url, "COMMCREDITS_OPERATOR_TOKEN": ""}

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, result.output
        return result.output

    assert "operator token (shown once): cco_" in run("init")
    tid = json.loads(run("tenants", "create", "Contoso", "--country", "GB", "--currency", "GBP"))["id"]
    pm = json.loads(run("funds", "add-card", tid, "4242424242424242", "12", "2031", "123"))["id"]
    bought = json.loads(run("funds", "add", tid, "60.00", "--payment-method", pm, "--idempotency-key", "a"))
    assert bought["balance"] == "60.00"
    again = json.loads(run("funds", "add", tid, "60.00", "--payment-method", pm, "--idempotency-key", "a"))
    assert again == bought
    assert "below_minimum" in run("funds", "add", tid, "10", "--payment-method", pm, code=1)
    run("funds", "grant", tid, "5.00", "--expires-at", "2099-01-01", "--reason", "goodwill")
    balance = json.loads(run("funds", "balance", tid))
    assert balance["balance"] == "65.00" and len(balance["lots"]) == 2
    assert "Contoso" in run("tenants", "list")
    assert json.loads(run("funds", "transactions", tid))["items"][0]["type"] == "grant"
    assert "audited 1 tenants: 0 violations" in run("audit")
    assert "expired_lots" in run("jobs", "run", "--now", "2099-06-01T00:00:00")
    assert json.loads(run("funds", "balance", tid))["balance"] == "0.00"
    assert "audited 1 tenants: 0 violations" in run("audit")

    # tamper with a lot behind the ledger's back: audit must notice and fail
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE lots SET remaining = remaining + 1 WHERE source = 'purchase'"))
    out = run("audit", code=1)
    assert "VIOLATION lot" in out and "postings sum to" in out


# --- the database: created only by init and serve, and used in its own mode -----------------

def _cli(url: str, *args: str, code: int = 0, input: str | None = None, **env: str) -> str:
    result = runner.invoke(app, list(args), env={"COMMCREDITS_DATABASE_URL": url, "COMMCREDITS_OPERATOR_TOKEN": "",
                                                 "COMMCREDITS_SANDBOX": "", **env}, input=input)
    assert result.exit_code == code, result.output
    return result.output


def _url(engine) -> str:  # type: ignore[no-untyped-def]
    return str(engine.url.render_as_string(hide_password=False))


def test_a_missing_sqlite_database_is_an_error_naming_it_and_the_fix(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere' / 'commcredits.db'}"
    for args in (["tenants", "list"], ["funds", "balance", "x"], ["cdrs", "ingest", "-", "--format", "csv"]):
        out = _cli(url, *args, code=2)
        assert f"no database at {tmp_path / 'elsewhere' / 'commcredits.db'}" in out
        assert "commcredits init" in out and "COMMCREDITS_DATABASE_URL" in out
    assert not (tmp_path / "elsewhere").exists()  # nothing was created on the way
    assert "sandbox: False" in _cli(url, "init")
    assert _cli(url, "tenants", "list") == ""


def test_an_unmigrated_database_gets_the_same_hint(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    out = _cli(f"sqlite:///{empty}", "tenants", "list", code=2)
    assert "has no commcredits schema" in out and "commcredits init" in out
    if PG_URL:
        admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
        name = f"commcredits_empty_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = normalise_url(PG_URL).rsplit("/", 1)[0] + f"/{name}"
            out = _cli(url, "tenants", "list", code=2)
            assert "has no commcredits schema" in out and "commcredits init" in out
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def test_a_sandbox_database_runs_every_command_at_its_own_clock(engine) -> None:  # type: ignore[no-untyped-def]
    url = _url(engine)
    with engine.begin() as conn:
        settings_store.put(conn, "mode", "sandbox")
    later = datetime(2028, 1, 2, 3, 4, 5, tzinfo=UTC)
    rt = Runtime.from_settings(Settings(database_url=url, sandbox=True), engine=engine)
    jobs.move_clock(rt, later)
    # no COMMCREDITS_SANDBOX: the database says what it is
    tid = json.loads(_cli(url, "tenants", "create", "Contoso", "--country", "GB", "--currency", "GBP"))["id"]
    pm = json.loads(_cli(url, "funds", "add-card", tid, "4242424242424242", "12", "2031", "123"))["id"]
    assert json.loads(_cli(url, "funds", "cards", tid)) == [
        {"id": pm, "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2031}]
    _cli(url, "funds", "add", tid, "60.00", "--payment-method", pm)
    balance = json.loads(_cli(url, "funds", "balance", tid))
    assert balance["as_of"] == "2028-01-02T03:04:05Z" and balance["balance"] == "60.00"
    assert balance["lots"][0]["purchased_at"] == "2028-01-02T03:04:05Z"
    assert balance["lots"][0]["expires_at"].startswith("2029-01-02")
    assert json.loads(_cli(url, "jobs", "run"))["expired_lots"] == 0  # the wall clock would not expire it either


def test_a_production_database_refuses_sandbox_mode(engine) -> None:  # type: ignore[no-untyped-def]
    url = _url(engine)
    assert "sandbox: False" in _cli(url, "init")  # an existing database with no mode yet: production
    for args, env in ((["tenants", "list"], {"COMMCREDITS_SANDBOX": "1"}), (["serve", "--sandbox"], {}),
                      (["serve", "--demo"], {}), (["init", "--sandbox"], {}), (["sandbox", "reset", "--yes"], {})):
        out = _cli(url, *args, code=2, **env)
        assert "production database" in out or "not a sandbox" in out, out
    assert _cli(url, "tenants", "list") == ""


def test_sandbox_reset_asks_then_starts_afresh_with_the_demo(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sandbox.db'}"
    assert "sandbox: True" in _cli(url, "init", "--sandbox")
    _cli(url, "tenants", "create", "Fabrikam", "--country", "GB", "--currency", "GBP")
    engine = make_engine(url)
    jobs.move_clock(Runtime.from_settings(Settings(database_url=url, sandbox=True), engine=engine),
                    datetime.now(UTC) + timedelta(days=400))
    assert "Aborted" in _cli(url, "sandbox", "reset", input="n\n", code=1)
    assert "Fabrikam" in _cli(url, "tenants", "list")
    out = _cli(url, "sandbox", "reset", "--yes", "--demo")
    assert f"demo tenant {DEMO_TENANT_ID}" in out and "operator token (shown once): cco_" in out
    listed = _cli(url, "tenants", "list")
    assert "Fabrikam" not in listed and DEMO_TENANT_ID in listed
    with engine.connect() as conn:  # the clock is back on the wall clock, the mode kept
        assert settings_store.get(conn, "sandbox_now") is None and settings_store.get(conn, "mode") == "sandbox"
    engine.dispose()


def test_tokens_create_operator_makes_a_working_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'tokens.db'}"
    _cli(url, "init")
    token = _cli(url, "tokens", "create-operator").strip()
    engine = make_engine(url)
    with engine.connect() as conn:
        found = token_db.find(conn, token)
    assert found is not None and found.kind == "operator"
    # what a second `serve` prints instead of a token
    print_operator_token(Runtime.from_settings(Settings(database_url=url), engine=engine), None)
    shown = capsys.readouterr().out
    assert "tokens create-operator" in shown and f"COMMCREDITS_DATABASE_URL='{url}'" in shown
    engine.dispose()


def test_the_sample_call_records_charge_the_demo_tenant(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    _cli(url, "init", "--sandbox")
    _cli(url, "sandbox", "reset", "--yes", "--demo")
    rejects = tmp_path / "rejects.csv"
    first = json.loads(_cli(url, "cdrs", "ingest", str(EXAMPLES / "calls.csv"), "--format", "csv", "--no-progress",
                            "--rejects", str(rejects)))
    assert (first["records"], first["charged"], first["rejected"]) == (10, 9, 1)
    assert "example-0010,invalid_number" in rejects.read_text()
    again = json.loads(_cli(url, "cdrs", "ingest", str(EXAMPLES / "calls.jsonl"), "--format", "jsonl",
                            "--no-progress", "--rejects", str(rejects)))
    assert (again["charged"], again["duplicate"], again["rejected"]) == (0, 9, 1)


def test_ingest_exit_statuses_are_the_ones_its_help_names(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ingest.db'}"
    _cli(url, "init")
    help_text = " ".join(_cli(url, "cdrs", "ingest", "--help").split())
    assert "1 when the input cannot be used" in help_text and "2 for a usage error" in help_text
    calls = str(EXAMPLES / "calls.csv")
    out = _cli(url, "cdrs", "ingest", calls, "--format", "csv", "--batch-size", "0", code=2)
    assert "--batch-size" in out and "ingesting" not in out  # refused before the progress bar
    _cli(url, "cdrs", "ingest", str(tmp_path / "missing.csv"), "--format", "csv", code=2)
    _cli(url, "cdrs", "ingest", calls, "--format", "xml", code=1)
