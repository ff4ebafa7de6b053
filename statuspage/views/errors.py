"""The 404 page people see, in their language, in the page's style; and ``/robots.txt``.

Unknown addresses used to get Starlette's plain-text "Not Found": a dead end on a phone during
an outage, when people follow old links. API paths keep a JSON answer.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from statuspage.i18n import negotiate_language
from statuspage.services import Services

__all__ = ["not_found", "robots", "routes"]

_HEADERS = {"Cache-Control": "no-store"}


async def not_found(request: Request, exc: Exception) -> Response:
    """A 404 for every unknown address: JSON under ``/api/``, else the styled page."""
    detail = exc.detail if isinstance(exc, HTTPException) else "Not Found"
    if request.url.path.startswith("/api/") or "html" not in request.headers.get("accept", "html"):
        return JSONResponse({"error": "not found", "message": str(detail)}, status_code=404,
                            headers=_HEADERS)
    services: Services = request.app.state.services
    page = services.settings.config.page
    lang = negotiate_language(request.query_params.get("lang"),
                              request.headers.get("accept-language"), page.languages)
    try:
        body = services.render_html("not_found.html", {"sample_data": False}, lang,
                                    request.url.path)
    except Exception:  # the 404 page must never become a 500
        return PlainTextResponse("Not Found / Halaman tidak ditemukan", status_code=404,
                                 headers=_HEADERS)
    return HTMLResponse(body, status_code=404, headers=_HEADERS)


ROBOTS = """User-agent: *
Allow: /
Disallow: /admin
Disallow: /api/v1/
"""


async def robots(request: Request) -> Response:
    """``/robots.txt``: the public pages may be indexed, the console and APIs not."""
    page = request.app.state.services.settings.config.page
    text = ROBOTS + f"Sitemap: {page.url.rstrip('/')}/history.rss\n"
    return PlainTextResponse(text, headers={"Cache-Control": "public, max-age=86400"})


def routes() -> list[BaseRoute]:
    """``/robots.txt``."""
    return [Route("/robots.txt", robots, methods=["GET", "HEAD"])]
