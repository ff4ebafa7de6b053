"""What stands in front of every route: body caps, security headers, clear 4xx/503 for faults.

- **Body caps by route** (:data:`BODY_LIMITS`): a declared ``Content-Length`` over the cap is
  refused with 413 before a byte is read; a chunked body is counted as it arrives and refused
  when it passes the cap, so no request can make a process buffer more than its route allows.
  Handlers that need a credential check it before they read the body.
- **Security headers** on every response (public pages, feeds, JSON, PDFs, console): no
  framing (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``), no sniffing; HTML also
  gets the console's content policy (no scripts, nothing embedded). A response that sets its
  own value keeps it.
- **Refused input** (``statuspage.inputs.InputError``) becomes 422, and a database that does
  not answer becomes 503 with ``Retry-After``: JSON under ``/api/``, plain text elsewhere.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from statuspage.inputs import InputError

__all__ = [
    "BODY_LIMITS",
    "DEFAULT_BODY_LIMIT",
    "MAX_HEADER_BYTES",
    "SECURITY_HEADERS",
    "BodyLimitMiddleware",
    "BodyTooLarge",
    "SecurityHeadersMiddleware",
    "body_limit",
    "exception_handlers",
]

log = logging.getLogger(__name__)

#: Largest request head (request line and headers) the server reads (uvicorn/h11 setting).
MAX_HEADER_BYTES = 16 * 1024
#: Body caps by path prefix, longest prefix first; everything else gets the default.
BODY_LIMITS: tuple[tuple[str, int], ...] = (
    ("/api/v1/probe-results", 2 * 1024 * 1024),  # up to 1000 results per push
    ("/api/v1/", 256 * 1024),                     # automation API: one incident or update
    ("/admin", 512 * 1024),                        # console forms (a postmortem, url-encoded)
)
DEFAULT_BODY_LIMIT = 64 * 1024
#: Headers of every response. The public pages draw no scripts and embed nothing, so the
#: console's policy fits them too; JSON and feeds are never framed either.
SECURITY_HEADERS: dict[str, str] = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}
_RAW_SECURITY_HEADERS = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
#: For documents that are not HTML (JSON, feeds, PDFs): no framing, and no content policy
#: that a browser's built-in viewer (a PDF notice) could trip over.
_RAW_DOCUMENT_HEADERS = [
    (name, b"frame-ancestors 'none'") if name == b"content-security-policy" else (name, value)
    for name, value in _RAW_SECURITY_HEADERS]


def body_limit(path: str) -> int:
    """The body cap of ``path`` in bytes."""
    for prefix, limit in BODY_LIMITS:
        if path.startswith(prefix):
            return limit
    return DEFAULT_BODY_LIMIT


class BodyTooLarge(Exception):
    """A request body passed its route's cap while it was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or path == "/metrics"


def _refusal(path: str, status: int, message: str, headers: Mapping[str, str] | None = None
             ) -> Response:
    extra = {"Cache-Control": "no-store", **(headers or {})}
    if _is_api(path):
        return JSONResponse({"error": message}, status_code=status, headers=extra)
    return PlainTextResponse(message, status_code=status, headers=extra)


class BodyLimitMiddleware:
    """Refuse bodies past their route's cap (413), before or while they are read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = body_limit(path)
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > limit:
                    message = (f"request body larger than {limit} bytes" if declared > limit
                               else "invalid Content-Length")
                    response = _refusal(path, 413 if declared > limit else 400, message,
                                        {"Connection": "close"})
                    await response(scope, receive, send)
                    return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


class SecurityHeadersMiddleware:
    """Add :data:`SECURITY_HEADERS` to every response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                html = any(name.lower() == b"content-type" and value.startswith(b"text/html")
                           for name, value in headers)
                extra = _RAW_SECURITY_HEADERS if html else _RAW_DOCUMENT_HEADERS
                headers.extend(h for h in extra if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _too_large(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BodyTooLarge)
    return _refusal(request.url.path, 413, str(exc), {"Connection": "close"})


async def _refused_input(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InputError)
    if _is_api(request.url.path):
        return JSONResponse({"error": "invalid", "message": exc.message,
                             "errors": {exc.field: exc.message}}, status_code=exc.status,
                            headers={"Cache-Control": "no-store"})
    return PlainTextResponse(exc.message, status_code=exc.status,
                             headers={"Cache-Control": "no-store"})


async def _database_down(request: Request, exc: Exception) -> Response:
    # only connection-level failures: a constraint or programming error is a bug, not an outage
    if isinstance(exc, DBAPIError) and not isinstance(exc, OperationalError) and \
            not exc.connection_invalidated:
        raise exc
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                str(exc).splitlines()[0][:200])
    return _refusal(request.url.path, 503, "the database is unavailable; try again shortly",
                    {"Retry-After": "5"})


def exception_handlers() -> dict[type[Exception], object]:
    """Handlers the app registers: 413, 422 and 503 instead of a 500."""
    return {BodyTooLarge: _too_large, InputError: _refused_input, DBAPIError: _database_down,
            PoolTimeout: _database_down}
