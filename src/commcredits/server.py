"""`commcredits serve`: the API plus a background thread that runs due jobs."""

from __future__ import annotations

import logging
import threading

import uvicorn

from .api.app import create_app
from .services import bootstrap, jobs
from .services.demo import seed_demo
from .services.runtime import Runtime

log = logging.getLogger("commcredits.jobs")
JOB_INTERVAL_SECONDS = 5.0


def _job_loop(rt: Runtime, stop: threading.Event) -> None:
    while not stop.wait(JOB_INTERVAL_SECONDS):
        try:
            jobs.run_due_jobs(rt)
        except Exception:  # keep the loop alive; the failure is logged with its traceback
            log.exception("background jobs failed; retrying in %s s", JOB_INTERVAL_SECONDS)


def run_server(rt: Runtime, *, host: str, port: int, demo: bool = False) -> None:
    token = bootstrap.ensure_operator_token(rt)
    base = f"http://{host}:{port}"
    print(f"commcredits on {base}  (database: {rt.settings.database_url}, sandbox: {rt.settings.sandbox})")
    if token:
        print(f"operator token (shown once): {token}")
    if demo:
        seeded = seed_demo(rt)
        if seeded:
            print(f"demo tenant {seeded['tenant_id']}: admin {seeded['admin_email']}")
            print(f"  admin token: {seeded['admin_token']}")
            auth = f"Authorization: Bearer {seeded['admin_token']}"
            print(f"  try: curl -H '{auth}' {base}/v1/tenants/{seeded['tenant_id']}/balance")
            login = f"e-mail {seeded['admin_email']}, password {seeded['admin_password']}"
            print(f"  admin center: {base}/admin/  ({login})")
    print(f"API reference: {base}/docs   admin center: {base}/admin/")
    stop = threading.Event()
    thread = threading.Thread(target=_job_loop, args=(rt, stop), daemon=True, name="jobs")
    thread.start()
    try:
        uvicorn.run(create_app(rt), host=host, port=port, log_level="info")
    finally:
        stop.set()

