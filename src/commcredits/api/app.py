"""The FastAPI application: routers, error mapping, and the runtime it serves."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from .. import __version__
from ..services.runtime import Runtime
from ..web import password_api
from ..web.app import create_web_app
from . import (
    problems,
    routes_billing,
    routes_calls,
    routes_money,
    routes_notify,
    routes_ops,
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


def create_app(rt: Runtime) -> FastAPI:
    app = CommCreditsApp(
        title="commcredits",
        version=__version__,
        description="Prepaid Communications Credits for telephony providers.",
    )
    app.state.runtime = rt
    problems.install(app)
    for module in (routes_calls, routes_billing, routes_tenants, routes_money, routes_payments, routes_rating,
                   routes_reports, routes_usage, routes_notify, routes_ops):
        app.include_router(module.router)
    app.include_router(password_api.router)
    app.mount("/admin", create_web_app(rt))  # the web admin center (web/)
    app.fast_path = routes_calls.CallControlPath(None, rt)
    return app
