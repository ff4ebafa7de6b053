"""A cap on every request body, by route, enforced before and while the body streams in.

Unauthenticated clients could make the process buffer bodies of any size (issue 8:
5 x 100 MB raised the process by 460 MB).  A declared Content-Length over the route's cap
is refused with 413 before a byte is read; a body without one (chunked) is counted as it
arrives and refused when it passes the cap.  Handlers authenticate before reading bodies.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stamping.errors import ApiError

__all__ = ["BodyLimitMiddleware", "route_limits"]

KiB = 1024
#: Room for multipart boundaries and the small text fields next to an uploaded file.
UPLOAD_ENVELOPE = 64 * KiB
#: JSON bodies and HTML forms: every one of them is a handful of short fields.
SMALL_BODY = 64 * KiB


def route_limits(max_upload_bytes: int) -> dict[str, int]:
    """The body cap of each path that takes a large body; every other path: SMALL_BODY."""
    upload = max_upload_bytes + UPLOAD_ENVELOPE
    return {"/api/v1/stamps": upload, "/api/v1/verify": upload, "/akun/meterai": upload,
            "/verifikasi": upload, "/api/v1/payments/callback": 16 * KiB}


class BodyLimitMiddleware:
    """Refuses a body larger than its route's cap (413)."""

    def __init__(self, app: ASGIApp, limits: dict[str, int], default: int = SMALL_BODY):
        self.app, self.limits, self.default = app, limits, default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send, limit)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # raised inside the handler: answered 413 by errors.py
                    raise ApiError(413, "too_large", f"the request body exceeds {limit} bytes")
            return message

        await self.app(scope, counting_receive, send)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"error": "too_large",
                       "message": f"the request body exceeds {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
