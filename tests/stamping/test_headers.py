"""Security headers on every answer, without disturbing the handler's own headers."""

from __future__ import annotations

import asyncio

from starlette.types import Message, Receive, Scope, Send

from stamping.headers import SECURITY_HEADERS, SecurityHeadersMiddleware


def _answer(headers: list[tuple[bytes, bytes]]) -> tuple[list[tuple[bytes, bytes]], Message]:
    """The headers a client receives when the handler answers with ``headers``."""
    start: Message = {"type": "http.response.start", "status": 200, "headers": headers}
    sent: list[Message] = []

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start)
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    app = SecurityHeadersMiddleware(handler)
    asyncio.run(app({"type": "http", "method": "GET", "path": "/"}, receive, send))
    return list(sent[0]["headers"]), start


def test_every_security_header_is_added_once() -> None:
    headers, _ = _answer([(b"content-type", b"text/plain")])
    names = [name for name, _ in headers]
    assert names[0] == b"content-type"
    for name, value in SECURITY_HEADERS.items():
        assert names.count(name.lower().encode()) == 1
        assert (name.lower().encode(), value.encode()) in headers


def test_a_header_the_handler_set_is_kept_whatever_its_case() -> None:
    own = (b"X-Frame-Options", b"SAMEORIGIN")
    headers, _ = _answer([own])
    assert own in headers
    assert [n for n, _ in headers if n.lower() == b"x-frame-options"] == [b"X-Frame-Options"]


def test_the_handlers_header_list_is_not_changed() -> None:
    """A response object may send the same list again (a cached answer): it must not grow."""
    mine = [(b"content-type", b"text/plain")]
    _, start = _answer(mine)
    assert mine == [(b"content-type", b"text/plain")] and start["headers"] is mine
