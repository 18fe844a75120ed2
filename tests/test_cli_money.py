"""Money strings on the command line follow the API's grammar: `funds add`, `funds grant`
and `payments auto-recharge --amount/--trigger` refuse loose forms with one line naming the
field and the reason (exit 1), and charge nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from commcredits.cli import app

runner = CliRunner()
LOOSE = ["1e600000", "50_00", "５０.００", "5E1", "+50.00", "-50.00", " 50.00", "50.001", "1" * 40]


@pytest.fixture
def cli(tmp_path: Path):
    env = {"COMMCREDITS_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "COMMCREDITS_OPERATOR_TOKEN": "",
           "COMMCREDITS_SANDBOX": ""}

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, (args, result.output)
        return result.output

    run("init")
    return run


@pytest.mark.parametrize("amount", LOOSE)
def test_loose_amounts_are_refused_by_every_money_command(cli, amount: str) -> None:
    tid = json.loads(cli("tenants", "create", "Contoso", "--country", "US", "--currency", "USD"))["id"]
    pm = json.loads(cli("funds", "add-card", tid, "4242424242424242", "12", "2031", "123"))["id"]
    outputs = {
        # "--" and "--option=value" so that "-50.00" reaches the command as an amount
        "amount": cli("funds", "add", "--payment-method", pm, "--", tid, amount, code=1),
        "grant": cli("funds", "grant", "--expires-at", "2099-01-01", "--reason", "x", "--", tid, amount, code=1),
        "recharge": cli("payments", "auto-recharge", tid, "--enable", f"--amount={amount}", "--trigger", "10.00",
                        "--payment-method", pm, code=1),
        "trigger": cli("payments", "auto-recharge", tid, "--enable", "--amount", "60.00", f"--trigger={amount}",
                       "--payment-method", pm, code=1),
    }
    for what, out in outputs.items():
        assert "(validation_error)" in out, (what, out)
        assert ("trigger: " if what == "trigger" else "amount: ") in out, (what, out)
        assert len(out.strip().splitlines()) <= 3, out  # one line (rich may wrap it), no traceback
    balance = json.loads(cli("funds", "balance", tid))
    assert balance["balance"] == "0.00" and balance["lots"] == []
    assert json.loads(cli("payments", "auto-recharge", tid))["enabled"] is False
    assert json.loads(cli("funds", "add", tid, "50.00", "--payment-method", pm))["balance"] == "50.00"
