"""`commcredits serve`: the API plus a background thread that runs due jobs."""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

import uvicorn

from .app import create_app
from .config import DEFAULT_DATABASE_URL
from .services import bootstrap, jobs
from .services.demo import DemoSeed, seed_demo
from .services.runtime import Runtime

log = logging.getLogger("commcredits.jobs")
JOB_INTERVAL_SECONDS = 5.0


def _job_loop(rt: Runtime, stop: threading.Event) -> None:
    while not stop.wait(JOB_INTERVAL_SECONDS):
        try:
            jobs.run_due_jobs(rt)
        except Exception:  # keep the loop alive; the failure is logged with its traceback
            log.exception("background jobs failed; retrying in %s s", JOB_INTERVAL_SECONDS)


def print_operator_token(rt: Runtime, token: str | None) -> None:
    """The new operator token, or how to get one: clear tokens are shown only when made."""
    if token:
        print(f"operator token (shown once): {token}")
        return
    url = rt.settings.database_url
    shown = url if url.startswith("sqlite") else "<as for serve>"  # no password on the screen
    env = "" if url == DEFAULT_DATABASE_URL else f"COMMCREDITS_DATABASE_URL='{shown}' "
    print("operator token: this database has one already (tokens are shown once, when made);")
    exe = sys.argv[0] if Path(sys.argv[0]).name == "commcredits" else "commcredits"  # as `serve` was started
    print(f"  a new one: {env}{exe} tokens create-operator")


def print_demo(seeded: DemoSeed, base: str) -> None:
    print(f"demo tenant {seeded['tenant_id']}: admin {seeded['admin_email']}")
    print(f"  admin token: {seeded['admin_token']}")
    auth = f"Authorization: Bearer {seeded['admin_token']}"
    print(f"  try: curl -H '{auth}' {base}/v1/tenants/{seeded['tenant_id']}/balance")
    login = f"e-mail {seeded['admin_email']}, password {seeded['admin_password']}"
    print(f"  admin center: {base}/admin/  ({login})")


def app_from_env() -> Any:
    """The app of one worker process of `serve --workers N` (settings from the environment)."""
    from .config import Settings

    return create_app(bootstrap.open_runtime(Settings.from_env()))


def run_server(rt: Runtime, *, host: str, port: int, demo: bool = False, workers: int = 1) -> None:
    token = bootstrap.ensure_operator_token(rt)
    base = f"http://{host}:{port}"
    print(f"commcredits on {base}  (database: {rt.settings.database_url}, sandbox: {rt.settings.sandbox})")
    print_operator_token(rt, token)
    if demo:
        seeded = seed_demo(rt)
        if seeded:
            print_demo(seeded, base)
    print(f"API reference: {base}/docs   admin center: {base}/admin/")
    stop = threading.Event()
    thread = threading.Thread(target=_job_loop, args=(rt, stop), daemon=True, name="jobs")
    thread.start()
    try:
        if workers == 1:
            uvicorn.run(create_app(rt), host=host, port=port, log_level="info")
        else:  # each worker builds its own runtime: correctness never rests on one process's memory
            if rt.engine.dialect.name == "sqlite":
                log.warning("%d server processes on one SQLite file queue on its lock; use PostgreSQL", workers)
            os.environ["COMMCREDITS_DATABASE_URL"] = rt.settings.database_url
            uvicorn.run("commcredits.server:app_from_env", factory=True, host=host, port=port, workers=workers,
                        log_level="info")
    finally:
        stop.set()

