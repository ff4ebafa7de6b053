"""The ASGI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from statuspage.guards import BodyLimitMiddleware, SecurityHeadersMiddleware, exception_handlers
from statuspage.services import Services
from statuspage.settings import Settings
from statuspage.views import (
    admin,
    api,
    deadlines,
    feeds,
    health,
    notice_documents,
    probes_api,
    public,
    subscribe,
)

__all__ = ["create_app"]


def routes() -> list[BaseRoute]:
    """Every route of the status page; each views module contributes its own list."""
    return [
        *health.routes(),
        *public.routes(),
        *api.routes(),
        *feeds.routes(),
        *notice_documents.routes(),  # before /deadlines/{id}: fixed names win
        *deadlines.routes(),
        *probes_api.routes(),
        *subscribe.routes(),
        *admin.routes(),
    ]


def create_app(settings: Settings, services: Services | None = None) -> Starlette:
    """Build the web app. Migrations are applied by the CLI before serving, not here."""
    services = services or Services.create(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    # headers outermost, so a 413 refused before the routes carries them too
    middleware = [Middleware(SecurityHeadersMiddleware), Middleware(BodyLimitMiddleware)]
    if settings.trusted_proxies:  # otherwise the peer is the client, whatever headers say
        middleware.append(Middleware(ProxyHeadersMiddleware,
                                     trusted_hosts=list(settings.trusted_proxies)))
    app = Starlette(routes=routes(), lifespan=lifespan, middleware=middleware,
                    exception_handlers=exception_handlers())  # type: ignore[arg-type]
    app.state.services = services
    return app
