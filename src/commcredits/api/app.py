"""The switch and integrator API: its routers, its error mapping and the runtime it serves.

It imports nothing of the admin center (`web/`): `commcredits.app` puts the two together."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from .. import __version__
from ..services.runtime import Runtime
from . import (
    problems,
    routes_billing,
    routes_calls,
    routes_money,
    routes_notify,
    routes_ops,
    routes_passwords,
    routes_payments,
    routes_rating,
    routes_reports,
    routes_tenants,
    routes_usage,
)


class CommCreditsApp(FastAPI):
    """FastAPI, with the switch's call-control requests served before its middleware stack
    (`routes_calls.CallControlPath`): they need none of it, and the switch waits for them."""

    fast_path: routes_calls.CallControlPath | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.fast_path is not None and routes_calls.CallControlPath.serves(scope):
            await self.fast_path(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_api(rt: Runtime) -> CommCreditsApp:
    app = CommCreditsApp(
        title="commcredits",
        version=__version__,
        description="Prepaid Communications Credits for telephony providers.",
    )
    app.state.runtime = rt
    problems.install(app)
    for module in (routes_calls, routes_billing, routes_tenants, routes_money, routes_payments, routes_rating,
                   routes_reports, routes_usage, routes_notify, routes_ops, routes_passwords):
        app.include_router(module.router)
    app.fast_path = routes_calls.CallControlPath(None, rt)
    return app
