"""`commcredits spend-controls` and `commcredits purchase-limits` end to end on a database."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from commcredits.cli import app

runner = CliRunner()


def test_spend_controls_and_purchase_limits(tmp_path: Path) -> None:
    env = {"COMMCREDITS_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "COMMCREDITS_OPERATOR_TOKEN": "",
           "COMMCREDITS_SANDBOX": ""}

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, result.output
        return result.output

    run("init")
    tid = json.loads(run("tenants", "create", "Nippon", "--country", "JP", "--currency", "JPY"))["id"]
    assert json.loads(run("spend-controls", "show", tid))["dial_out_policy"] == "all"
    out = json.loads(run("spend-controls", "set", tid, "--policy", "domestic_only", "--daily-limit", "20000",
                         "--max-auto-recharges", "2"))
    assert (out["dial_out_policy"], out["daily_limit"], out["max_auto_recharges_per_day"]) == ("domestic_only", "20000", 2)
    assert json.loads(run("spend-controls", "set", tid, "--daily-limit", "none"))["daily_limit"] is None
    assert "validation_error" in run("spend-controls", "set", tid, "--policy", "sometimes", code=1)
    assert "validation_error" in run("spend-controls", "set", tid, "--daily-limit", "12.5", code=1)  # yen: no decimals
    changes = json.loads(run("spend-controls", "show", tid))["changes"]
    assert {(c["field"], c["old"], c["new"]) for c in changes} == {
        ("daily_limit", "20000", None), ("daily_limit", None, "20000"), ("dial_out_policy", "all", "domestic_only"),
        ("max_auto_recharges_per_day", "5", "2")}
    assert changes[0]["field"] == "daily_limit" and changes[0]["changed_by"] == "operator"
    assert json.loads(run("purchase-limits", "show", "JPY"))["minimum"] == "5000"
    assert json.loads(run("purchase-limits", "set", "JPY", "--minimum", "3000", "--maximum", "9000000"))["source"] == \
        "operator"
    assert json.loads(run("purchase-limits", "show", "jpy"))["minimum"] == "3000"
    assert "validation_error" in run("purchase-limits", "set", "JPY", "--minimum", "9", "--maximum", "1", code=1)
