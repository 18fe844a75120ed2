"""Helpers for the admin center's tests: an organisation with one user per kind of admin
(each with a web password), a logged-in TestClient, and a real uvicorn server."""

from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass, field

import uvicorn
from fastapi.testclient import TestClient

from commcredits.app import create_app
from commcredits.services.access import tenants as tenant_svc
from commcredits.services.access import web_auth
from commcredits.services.access.principal import OPERATOR
from commcredits.services.billing.subscriptions import set_subscription
from commcredits.services.runtime import Runtime

PASSWORD = "correct horse battery staple"
ROLES = {
    "global": ["global_administrator"],
    "billing": ["billing_administrator"],
    "helpdesk": ["helpdesk_administrator"],
    "license": ["license_administrator"],
    "nobody": [],
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Org:
    tid: str
    name: str
    users: dict[str, tuple[str, str]] = field(default_factory=dict)  # kind -> (user id, e-mail)

    def email(self, kind: str) -> str:
        return self.users[kind][1]

    def uid(self, kind: str) -> str:
        return self.users[kind][0]


def make_org(rt: Runtime, name: str = "Fabrikam", *, kinds: tuple[str, ...] = tuple(ROLES), **tenant: str) -> Org:
    facts = {"country": "US", "currency": "USD", "billing_country": "US", "timezone": "America/New_York", **tenant}
    t = tenant_svc.create_tenant(rt, OPERATOR, name=name, **facts)
    set_subscription(rt, OPERATOR, t.id, product="domestic_calling_plan", quantity=1)
    org = Org(t.id, name)
    slug = name.lower().replace(" ", "")
    for kind in kinds:
        email = f"{kind}@{slug}.example"
        user = tenant_svc.create_user(rt, OPERATOR, t.id, email=email, display_name=f"{kind.title()} Admin",
                                      usage_location="US", roles=ROLES[kind], licenses=["communications_credits"])
        web_auth.set_password(rt, OPERATOR, t.id, user.id, PASSWORD)
        org.users[kind] = (user.id, email)
    return org


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no csrf_token field on the page"
    return match.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    form = client.get("/admin/login")
    return client.post("/admin/login", data={"email": email, "password": password,
                                             "csrf_token": csrf_of(form.text), **extra}, follow_redirects=False)


def client_for(rt: Runtime, base_url: str = "http://testserver") -> TestClient:
    return TestClient(create_app(rt), base_url=base_url)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The app in a real uvicorn server on 127.0.0.1, in a thread."""

    def __init__(self, rt: Runtime) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(rt), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="uvicorn")
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
