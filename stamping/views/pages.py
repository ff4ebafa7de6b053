"""HTML pages for a person (Bahasa Indonesia)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from stamping.views.common import service

__all__ = ["index"]


async def index(request: Request) -> Response:
    """The landing page: what the service is and how to verify a stamp."""
    svc = service(request)
    html = svc.templates.get_template("index.html").render(
        price=svc.settings.stamp_price, fee=svc.settings.service_fee,
        public_url=svc.settings.public_url)
    return HTMLResponse(html)
