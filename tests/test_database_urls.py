"""A database URL or a setting that cannot be used is one line naming it (password masked) and exit 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from commcredits.cli import app
from commcredits.db.urls import DatabaseUrlError, check_database_url, masked


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://root:s3cret-pw@db.example/commcredits", "unsupported database 'mysql'"),
    ("oracle://scott:s3cret-pw@db.example/orcl", "unsupported database 'oracle'"),
    ("postgresql://app:s3cret-pw@127.0.0.1:1/commcredits", "cannot open the database postgresql://app:***@127.0.0.1:1"),
    ("postgresql+psycopg2://app:s3cret-pw@127.0.0.1/commcredits", "unsupported driver 'psycopg2'"),
    ("this is no url", "is not a database URL"),
])
def test_a_bad_database_url_is_one_line_and_exit_2(url: str, says: str) -> None:
    result = CliRunner().invoke(app, ["tenants", "list"], env={"COMMCREDITS_DATABASE_URL": url})
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0], result.output
    assert "s3cret-pw" not in result.output and "Traceback" not in result.output


def test_a_directory_that_cannot_be_made_is_named(tmp_path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    url = f"sqlite:///{blocker}/sub/commcredits.db"
    result = CliRunner().invoke(app, ["init"], env={"COMMCREDITS_DATABASE_URL": url})
    assert result.exit_code == 2 and "cannot open the database" in result.output and str(blocker) in result.output
    assert "Traceback" not in result.output


def test_urls_we_can_use_pass_and_passwords_are_masked() -> None:
    for url in ("sqlite:///./var/commcredits.db", "sqlite:///:memory:", "postgresql://u:p@h/db", "postgres://u@h/db",
                "postgresql+psycopg://u:p@h:5432/db"):
        check_database_url(url)
    with pytest.raises(DatabaseUrlError, match="names no database"):
        check_database_url("postgresql://u:p@h/")
    assert masked("postgresql://u:hunter2@h/db") == "postgresql://u:***@h/db"
    assert masked("sqlite:///./x.db") == "sqlite:///./x.db"


@pytest.mark.parametrize(("name", "value", "says"), [
    ("COMMCREDITS_CALL_DESK", "bogus", "COMMCREDITS_CALL_DESK must be one of process, thread, not 'bogus'"),
    ("COMMCREDITS_CALL_DESK_SYNC", "later", "COMMCREDITS_CALL_DESK_SYNC must be one of auto, writer, syncer, not 'later'"),
    ("COMMCREDITS_CALL_CHUNK_SECONDS", "5min", "COMMCREDITS_CALL_CHUNK_SECONDS must be a whole number, not '5min'"),
])
def test_a_setting_that_cannot_be_read_is_one_line_and_exit_2(tmp_path, name: str, value: str,  # type: ignore[no-untyped-def]
                                                               says: str) -> None:
    env = {"COMMCREDITS_DATABASE_URL": f"sqlite:///{tmp_path}/commcredits.db", name: value}
    result = CliRunner().invoke(app, ["tenants", "list"], env=env)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0], result.output
