"""The whole service as one ASGI application: the API (`api/`), the admin center (`web/`)
mounted at /admin, and the bare site root, which sends a browser to the admin pages.

`api/` and `web/` never import each other; this module is the only place they meet."""

from __future__ import annotations

from fastapi import FastAPI, Response
from fastapi.responses import RedirectResponse

from .api.app import create_api
from .services.runtime import Runtime
from .web.app import create_web_app
from .web.render import PREFIX


def create_app(rt: Runtime) -> FastAPI:
    app = create_api(rt)
    app.mount(PREFIX, create_web_app(rt))

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    return app
