"""The FastAPI application: routers, error mapping, and the runtime it serves."""

from __future__ import annotations

from fastapi import FastAPI

from .. import __version__
from ..services.runtime import Runtime
from . import problems, routes_money, routes_ops, routes_rating, routes_tenants


def create_app(rt: Runtime) -> FastAPI:
    app = FastAPI(
        title="commcredits",
        version=__version__,
        description="Prepaid Communications Credits for telephony providers.",
    )
    app.state.runtime = rt
    problems.install(app)
    for module in (routes_tenants, routes_money, routes_rating, routes_ops):
        app.include_router(module.router)
    return app
