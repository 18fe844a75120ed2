"""Every endpoint against every kind of caller, on a real app and database (the table is in
`permission_matrix.py`). A route without a row fails `test_every_route_has_a_row`, so no
endpoint ships without saying who may call it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute
from tests.api.permission_matrix import OK, PRINCIPALS, ROWS, Row

from commcredits.app import create_app
from commcredits.config import Settings
from commcredits.domain.access import ADMIN_ROLES
from commcredits.services.runtime import Runtime


def api_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every API route, the /admin web mount excluded."""
    try:  # FastAPI >= 0.160 keeps included routers lazily
        from fastapi.routing import iter_route_contexts

        found = [(c.original_route, c.path, c.methods) for c in iter_route_contexts(app.routes)]
    except ImportError:  # pragma: no cover - older FastAPI flattens them itself
        found = [(r, r.path, getattr(r, "methods", None)) for r in app.routes]
    return {(m, path) for route, path, methods in found if isinstance(route, APIRoute) for m in methods or ()}


def test_every_route_has_a_row(tmp_path: Path) -> None:
    app = create_app(Runtime.from_settings(Settings(database_url=f"sqlite:///{tmp_path}/routes.db")))
    routes = api_routes(app)
    rows = {(r.method, r.path) for r in ROWS}
    missing = sorted(routes - rows)
    assert not missing, f"add these endpoints to tests/api/permission_matrix.py: {missing}"
    stale = sorted(rows - routes)
    assert not stale, f"these rows of tests/api/permission_matrix.py name no route: {stale}"
    assert len(rows) == len(ROWS), "one row per endpoint"


class World:
    """One tenant with a user in every role, another tenant's admin, switch tokens, and one of
    each resource the paths name."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.tid = api.tenant(name="Fabrikam")
        other = api.tenant(name="Other")
        self.tokens: dict[str, str | None] = {"operator": api.operator_token, "anonymous": None}
        for role in ADMIN_ROLES:
            self.tokens[role] = api.user(self.tid, [role])[1]
        self.tokens["plain_user"] = api.user(self.tid, [])[1]
        self.tokens["other_admin"] = api.user(other, ["global_administrator"])[1]
        self.tokens["switch_all"] = self.switch(None)[1]
        self.tokens["switch_one"] = self.switch(self.tid)[1]
        self.uid = api.user(self.tid, [])[0]
        self.pmid = api.card(self.tid)
        assert api.fund(self.tid, "50.00", self.pmid).status_code == 201
        self.rid = api.call("GET", f"/v1/tenants/{self.tid}/receipts").json()["items"][0]["id"]
        self.wid = self.webhook()

    def switch(self, tid: str | None) -> tuple[str, str]:
        r = self.api.call("POST", "/v1/tokens", json={"kind": "switch", "tenant_id": tid})
        assert r.status_code == 201, r.text
        return r.json()["id"], r.json()["token"]

    def webhook(self) -> str:
        r = self.api.call("POST", f"/v1/tenants/{self.tid}/webhooks",
                          json={"url": "https://hooks.example.com/in", "events": ["balance_depleted"]})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def call_id(self) -> str:
        call_id = uuid.uuid4().hex
        body = {"tenant_id": self.tid, "call_id": call_id, "call_type": "user_out", "caller": "+12025550100",
                "callee": "+442079460000"}
        r = self.api.call("POST", "/v1/calls/authorize", self.tokens["switch_all"], json=body)
        assert r.status_code == 200, r.text
        return call_id

    def values(self, row: Row) -> dict[str, str]:
        """Placeholders for one request: resources a request may destroy are made for it."""
        fresh = row.method == "DELETE"
        values = {"tid": self.tid, "uid": self.uid, "rid": self.rid, "unique": uuid.uuid4().hex, "currency": "USD",
                  # another card than self.pmid: the same card again would be that one (duplicate)
                  "pmid": self.api.card(self.tid, "5555555555554444") if fresh and "{pmid}" in row.path else self.pmid,
                  "wid": self.webhook() if fresh and "{wid}" in row.path else self.wid}
        if "{token_id}" in row.path:
            values["token_id"] = self.switch(None)[0]
        if "{call_id}" in row.path:
            values["call_id"] = self.call_id()
        return values


def fill(template: Any, values: dict[str, str]) -> Any:
    text = json.dumps(template)
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return json.loads(text)


def matches(expected: Any, status: int) -> bool:
    if expected == OK:
        return status < 500 and status not in (401, 403, 404)
    return bool(status == expected)


def test_every_endpoint_for_every_principal(api) -> None:
    world = World(api)
    wrong: list[str] = []
    for row in ROWS:
        for who in PRINCIPALS:
            values = world.values(row)
            headers = fill(row.headers, values)
            token = world.tokens[who]
            if token:
                headers["Authorization"] = f"Bearer {token}"
            kwargs: dict[str, Any] = {"headers": headers, "params": fill(row.query, values), "follow_redirects": False}
            if row.body is not None:
                kwargs["json"] = fill(row.body, values)
            if row.form is not None:
                kwargs["data"] = row.form
                kwargs["files"] = [("files", (name, content)) for name, content in row.files.items()]
            r = api.client.request(row.method, fill(row.path, values), **kwargs)
            expected = row.rule(who)
            if not matches(expected, r.status_code):
                wrong.append(f"{row.method} {row.path} as {who}: expected {expected}, got {r.status_code} {r.text[:120]}")
            elif r.status_code in (401, 403, 404):
                assert r.headers["content-type"] == "application/problem+json", (row.path, who)
    assert not wrong, "\n".join(wrong)
