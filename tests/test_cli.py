"""The CLI: every command documented with an example, and a whole flow end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from sqlalchemy import text
from typer.main import get_command
from typer.testing import CliRunner

from commcredits.cli import app
from commcredits.db.engine import make_engine

runner = CliRunner()


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
