"""``/favicon.svg`` for the stamping pages (browsers asked for /favicon.ico and logged a 404)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["FAVICON_SVG", "favicon"]

#: A pink stamp mark, the colour of the meterai.
FAVICON_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
               b'<rect x="1" y="1" width="14" height="14" rx="2" fill="#a61e4d"/>'
               b'<rect x="3.5" y="3.5" width="9" height="9" fill="none" stroke="#fff"/></svg>')


async def favicon(request: Request) -> Response:
    """Static bytes, no database, cached for a day."""
    return Response(FAVICON_SVG, media_type="image/svg+xml",
                    headers={"cache-control": "public, max-age=86400"})
