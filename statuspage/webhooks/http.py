"""A small HTTP/1.1 POST client for webhook delivery, on asyncio streams.

Why not httpx here: a fan-out sends thousands of small POSTs a second from one worker, and on a
busy 2-core host httpx cost about 10 ms of CPU per request (measured with the receivers of
``benchmarks/webhook_fanout.py``), a thirtieth of the goal. This client does only what a
webhook needs: connect to an address the SSRF check already approved (``ip``), TLS with
certificate and hostname verification against the subscriber's hostname (SNI), one POST with
``Content-Length``, the status line and headers, and at most ``excerpt`` bytes of the body.
Redirects are not followed (a 3xx is just a status). A connection is kept for reuse only when
the answer was read completely (known ``Content-Length`` within 64 KiB, no ``Connection:
close``); anything else is closed. A kept connection that the server closed meanwhile is
retried once on a fresh connection, before any byte of an answer was read.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import defaultdict
from dataclasses import dataclass, field

__all__ = ["HttpAnswer", "HttpPool"]

_MAX_HEAD = 64 * 1024
_MAX_KEEP_BODY = 64 * 1024
_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass(frozen=True)
class HttpAnswer:
    """Status, lower-cased headers and the start of the body."""

    status: int
    headers: dict[str, str]
    body: bytes


class _Stale(Exception):
    """A reused connection was closed by the server before answering."""


@dataclass
class HttpPool:
    """Idle keep-alive connections per (address, port, TLS name), at most ``max_idle`` each."""

    max_idle: int = 8
    opened: int = 0
    _idle: dict[tuple[str, int, str | None], list[_Conn]] = field(
        default_factory=lambda: defaultdict(list))
    _tls: ssl.SSLContext = field(default_factory=ssl.create_default_context)

    async def post(self, ip: str, port: int, *, tls_name: str | None, target: str,
                   headers: dict[str, str], body: bytes, excerpt: int) -> HttpAnswer:
        """POST ``body`` to ``target`` (path and query) at ``ip``:``port``; raises OSError,
        ssl.SSLError, ValueError or asyncio errors on failure (the caller bounds the time)."""
        key = (ip, port, tls_name)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = (f"POST {target} HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n\r\n"
                   .encode("latin-1") + body)
        while self._idle[key]:
            conn = self._idle[key].pop()
            if conn[1].is_closing() or conn[0].at_eof():
                conn[1].close()
                continue
            try:
                return await self._exchange(key, conn, request, excerpt, reused=True)
            except _Stale:
                continue
        conn = await self._open(ip, port, tls_name)
        return await self._exchange(key, conn, request, excerpt, reused=False)

    async def _open(self, ip: str, port: int, tls_name: str | None) -> _Conn:
        self.opened += 1
        if tls_name is None:
            return await asyncio.open_connection(ip, port, limit=_MAX_HEAD)
        return await asyncio.open_connection(ip, port, ssl=self._tls, server_hostname=tls_name,
                                             limit=_MAX_HEAD)

    async def _exchange(self, key: tuple[str, int, str | None], conn: _Conn, request: bytes,
                        excerpt: int, *, reused: bool) -> HttpAnswer:
        reader, writer = conn
        keep = False
        try:
            writer.write(request)
            await writer.drain()
            try:
                raw = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if reused and not exc.partial:
                    raise _Stale from exc
                raise
            status, headers = _parse_head(raw)
            while 100 <= status < 200:  # interim answers (we never ask for 100-continue)
                status, headers = _parse_head(await reader.readuntil(b"\r\n\r\n"))
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) <= _MAX_KEEP_BODY \
                    and "chunked" not in headers.get("transfer-encoding", ""):
                body = await reader.readexactly(int(length))
                keep = "close" not in headers.get("connection", "").lower()
            else:
                body = await reader.read(excerpt)
            return HttpAnswer(status, headers, body[:excerpt])
        finally:
            if keep and len(self._idle[key]) < self.max_idle:
                self._idle[key].append(conn)
            else:
                writer.close()

    async def close(self) -> None:
        """Close every idle connection."""
        for conns in self._idle.values():
            for _reader, writer in conns:
                writer.close()
        self._idle.clear()


def _parse_head(raw: bytes) -> tuple[int, dict[str, str]]:
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP/1.x answer: {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers
