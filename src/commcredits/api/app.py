"""The switch and integrator API: its routers, its error mapping and the runtime it serves.

It imports nothing of the admin center (`web/`): `commcredits.app` puts the two together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from .. import __version__
from ..services.calls import desk_process
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


log = logging.getLogger(__name__)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """With `COMMCREDITS_CALL_DESK=process` (`serve`'s default), start the call desk's process
    before the first request, so the switch's first call does not wait for it; stop it last."""
    rt: Runtime = app.state.runtime
    if rt.settings.call_desk == "process":
        try:
            await desk_process.link_of(rt)
        except Exception as exc:  # the database may be down: emergency calls are still answered
            log.warning("the call desk did not start (%s); the next call-control request tries again", exc)
    yield
    await desk_process.stop(rt)


def create_api(rt: Runtime) -> CommCreditsApp:
    app = CommCreditsApp(
        lifespan=_lifespan,
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
