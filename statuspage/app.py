"""The ASGI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from statuspage.guards import BodyLimitMiddleware, SecurityHeadersMiddleware, exception_handlers
from statuspage.services import Services
from statuspage.settings import Settings
from statuspage.views import (
    admin,
    api,
    deadlines,
    errors,
    feeds,
    health,
    notice_documents,
    probes_api,
    public,
    subscribe,
    subscribe_email,
)

__all__ = ["ConsoleGZip", "create_app"]


class ConsoleGZip:
    """gzip for ``/admin`` pages only (an operator on a phone during an outage)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] == "http" and scope["path"].startswith("/admin"):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def routes() -> list[BaseRoute]:
    """Every route of the status page; each views module contributes its own list."""
    return [
        *health.routes(),
        *errors.routes(),
        *public.routes(),
        *api.routes(),
        *feeds.routes(),
        *notice_documents.routes(),  # before /deadlines/{id}: fixed names win
        *deadlines.routes(),
        *probes_api.routes(),
        *subscribe.routes(),
        *subscribe_email.routes(),
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

    # headers outermost, so a 413 refused before the routes carries them too; the console's
    # pages are compressed here (public responses come gzipped from the page cache already)
    middleware = [Middleware(SecurityHeadersMiddleware), Middleware(BodyLimitMiddleware),
                  Middleware(ConsoleGZip)]
    if settings.trusted_proxies:  # otherwise the peer is the client, whatever headers say
        middleware.append(Middleware(ProxyHeadersMiddleware,
                                     trusted_hosts=list(settings.trusted_proxies)))
    handlers: dict[Any, Any] = {**exception_handlers(), 404: errors.not_found}
    app = Starlette(routes=routes(), lifespan=lifespan, middleware=middleware,
                    exception_handlers=handlers)
    app.state.services = services
    return app
