"""The README's commands, run literally against what `make run` starts, so the README cannot rot.

The server is started with the Makefile's own `run` recipe (on a temporary database and a
free port); the ```sh blocks of README.md after the first one (which is `make run` and
`make test` themselves) run in one bash, in order, with only the port and the printed
operator token substituted, from a folder holding copies of `examples/` (so reject files
land there) and a link to the virtual environment. Each command's output is checked for
what the README says it shows.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
MARK = "@@@ command "

pytestmark = pytest.mark.skipif(shutil.which("curl") is None or shutil.which("jq") is None,
                                reason="the README tour needs curl and jq")


def sh_blocks(readme: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", readme, flags=re.DOTALL)


def commands(block: str) -> list[str]:
    """The block's commands: continuation lines joined, comment-only lines dropped."""
    out: list[str] = []
    pending = ""
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line + "\n"
        if not line.rstrip().endswith("\\"):
            out.append(pending)
            pending = ""
    return out


def make_run_recipe() -> str:
    """The `run` target's command line from the Makefile, with make's variables expanded."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^run:.*\n\t(.+)$", makefile, flags=re.MULTILINE)
    assert recipe, "the Makefile has no run target"
    venv_bin = str(Path(sys.executable).parent)
    return recipe.group(1).replace("$(BIN)", venv_bin).replace("$$", "$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MakeRun:
    """`make run`'s command on a temporary database; its printed lines are kept."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.log = (workdir / "server.log").open("w+")
        # the default database, ./var/commcredits.db, is in the temporary folder: the README's
        # CLI lines reach it as written
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir), "LANG": "C.UTF-8"}
        env.update({k: v for k, v in os.environ.items() if k == "PYTHONPATH"})
        self.env = env
        self.proc = subprocess.Popen(["bash", "-c", f"{make_run_recipe()} --port {self.port}"], cwd=workdir, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError(f"make run's server did not come up:\n{self.printed()}")

    def printed(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def make_run(tmp_path: Path):  # type: ignore[no-untyped-def]
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    server = MakeRun(tmp_path)
    yield server
    server.stop()


def split_outputs(stdout: str) -> dict[int, str]:
    parts = stdout.split(MARK)[1:]
    return {int(p.split("\n", 1)[0]): p.split("\n", 1)[1] if "\n" in p else "" for p in parts}


def test_the_readme_tour_runs_as_written(make_run: MakeRun, tmp_path: Path) -> None:
    printed = make_run.printed()
    operator = re.search(r"operator token \(shown once\): (cco_\S+)", printed)
    assert operator, printed
    assert "demo tenant c0a7050d-0000-4000-8000-000000000001" in printed and "admin token: ccu_" in printed

    blocks = sh_blocks((ROOT / "README.md").read_text())
    assert blocks[0].lstrip().startswith("make run"), "the first sh block is expected to be `make run`"
    tour = [c for block in blocks[1:] for c in commands(block)]
    script = ["set -e -o pipefail"]
    for i, command in enumerate(tour):
        command = command.replace("127.0.0.1:8000", f"127.0.0.1:{make_run.port}")
        command = re.sub(r"^OP=cco_\.\.\.", f"OP={operator.group(1)}", command)
        script += [f"echo '{MARK}{i}'", command]
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=tmp_path, env=make_run.env, capture_output=True,
                          text=True, timeout=120)
    outputs = split_outputs(done.stdout)
    ran = max(outputs, default=-1)
    assert done.returncode == 0 and ran == len(tour) - 1, (
        f"README command {ran} failed: {tour[ran] if ran >= 0 else ''}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    by_text = {c.strip().split("\n")[0]: outputs[i] for i, c in enumerate(tour)}
    check_outputs(by_text)


def _one(by_text: dict[str, str], start: str) -> str:
    found = [out for text, out in by_text.items() if text.startswith(start)]
    assert len(found) == 1, f"no single README command starts with {start!r}"
    return found[0]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def check_outputs(by_text: dict[str, str]) -> None:
    bought = json.loads(_one(by_text, "curl -s -H \"Authorization: Bearer $ANN\" -H 'Idempotency-Key"))
    assert bought["amount"] == "50.00" and bought["balance"] == "50.00"
    balance = json.loads(_one(by_text, 'curl -s -H "Authorization: Bearer $ANN" $API/tenants/$TID/balance'))
    assert balance["balance"] == "50.00" and balance["currency"] == "GBP"
    moved = json.loads(_one(by_text, "curl -s -H \"$H\" -H 'content-type: application/json' $API/sandbox/clock"))
    assert moved["expired_lots"] >= 1  # Ann's lot, and the demo tenant's
    sandbox_now = _instant(moved["now"])
    assert (sandbox_now - datetime.now(UTC)).days > 390  # 13 months ahead

    # the CLI acts at the sandbox clock's time, not the wall clock's
    expired = json.loads(_one(by_text, ".venv/bin/commcredits funds balance $TID"))
    assert expired["balance"] == "0.00" and _instant(expired["as_of"]) == sandbox_now
    cards = json.loads(_one(by_text, ".venv/bin/commcredits funds cards $TID"))
    assert [c["last4"] for c in cards] == ["4242"]
    bought_now = json.loads(_one(by_text, ".venv/bin/commcredits funds add $TID"))
    assert bought_now["balance"] == "50.00"
    assert bought_now["expires_at"].startswith(str(sandbox_now.year + 1))
    assert "Contoso Ltd (demo)" in _one(by_text, ".venv/bin/commcredits tenants list")
    assert json.loads(_one(by_text, ".venv/bin/commcredits rates quote"))["charge"] == "0.05"
    first = json.loads(_one(by_text, ".venv/bin/commcredits cdrs ingest examples/calls.csv"))
    assert (first["charged"], first["rejected"]) == (9, 1)
    again = json.loads(_one(by_text, ".venv/bin/commcredits cdrs ingest examples/calls.jsonl"))
    assert (again["charged"], again["duplicate"]) == (0, 9)
    assert "0 violations" in _one(by_text, ".venv/bin/commcredits audit")
