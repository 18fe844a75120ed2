"""`commcredits rates import --dry-run | --mode update`, `rates decks`, `rates activate`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from commcredits.cli import app

runner = CliRunner()
HEADER = ("category,prefix,destination,rate_per_minute,connection_fee,initial_increment,"
          "next_increment,effective_from\n")


def test_dry_run_table_update_list_and_rollback(tmp_path: Path) -> None:
    env = {"COMMCREDITS_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "COMMCREDITS_OPERATOR_TOKEN": "",
           "COMMCREDITS_SANDBOX": "", "COLUMNS": "200"}

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, result.output
        return result.output

    run("init")
    base = tmp_path / "base.csv"
    base.write_text(HEADER + "outbound,44,United Kingdom,0.10,0,60,60,2026-01-01\n"
                    "outbound,33,France,0.05,0,60,60,2026-01-01\n")
    change = tmp_path / "uk.csv"
    change.write_text(HEADER + "outbound,44,United Kingdom,0.12,0,60,60,2026-01-01\n"
                      "outbound,34,Spain,0.06,0,60,60,2026-01-01\n")
    assert json.loads(run("rates", "import", str(base), "--format", "ratecard", "--currency", "USD"))["id"] == 1
    out = run("rates", "import", str(change), "--format", "ratecard", "--currency", "USD", "--mode", "update",
              "--dry-run")
    assert "Dry run (update)" in out and "nothing was applied" in out
    assert "changed" in out and "0.10" in out and "0.12" in out and "Spain" in out
    assert "1 added, 1 changed, 0 removed; 0 call(s)" in out
    assert len(json.loads(run("rates", "decks"))["items"]) == 1
    done = json.loads(run("rates", "import", str(change), "--format", "ratecard", "--currency", "USD",
                          "--mode", "update"))
    assert done["version"] == 2 and done["changed_count"] == 1
    decks = json.loads(run("rates", "decks"))["items"]
    assert [(d["version"], d["imported_by"], d["in_force_for"]) for d in decks] == [
        (2, "cli", ["USD"]), (1, "cli", [])]
    run("rates", "activate", "1")
    quote = json.loads(run("rates", "quote", "--rating-key", "USD", "--category", "outbound",
                           "--destination", "+442079460000", "--duration", "60", "--at", "2026-03-01T10:00:00"))
    assert quote["charge"] == "0.10"
    assert "not_found" in run("rates", "activate", "7", code=1)
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "outbound,4x4,X,0.1,0,60,60,2026-01-01\n")
    assert "bad.csv:2" in run("rates", "import", str(bad), "--format", "ratecard", "--currency", "USD", code=1)
