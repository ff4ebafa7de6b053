"""One HTTP attempt to a subscriber, through the SSRF check, classified.

2xx is success; 410 asks us to stop (``gone``); 429, 502, 503 and 504 mean "slow down"
(``throttled``, with ``Retry-After`` honoured up to an hour); any other status, 3xx included
(redirects are never followed), is a ``failure``. No answer within the timeout is ``timeout``;
a refused connection or TLS error is ``error``; an address the SSRF rules forbid is ``refused``.
The response body is read only up to ``EXCERPT_BYTES``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from statuspage.models import utcnow
from statuspage.webhooks.ssrf import UrlRefused, pinned_url, resolve_checked

__all__ = ["EXCERPT_BYTES", "USER_AGENT", "Answer", "post", "retry_after_seconds"]

EXCERPT_BYTES = 500
USER_AGENT = "statuspage-webhooks/1"
_THROTTLE = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class Answer:
    """How an attempt went."""

    outcome: str
    status_code: int | None
    latency_ms: float
    error: str | None = None
    excerpt: str | None = None
    retry_after_s: float | None = None
    body: bytes = b""


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), bounded to [0, 3600]."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value) if value.isdigit() else (
            parsedate_to_datetime(value) - utcnow()).total_seconds()
    except (TypeError, ValueError, OverflowError):
        return None
    return min(max(seconds, 0.0), 3600.0)


def _classify(status: int) -> str:
    if 200 <= status < 300:
        return "success"
    if status == 410:
        return "gone"
    if status in _THROTTLE:
        return "throttled"
    return "failure"


async def post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], *,
               timeout_s: float, allow_private: bool) -> Answer:
    """POST ``body`` to ``url`` connecting only to a checked address; never raises."""
    started = time.perf_counter()

    def elapsed() -> float:
        return round((time.perf_counter() - started) * 1000, 1)

    try:
        parsed = httpx.URL(url)
        addresses = await resolve_checked(parsed.host, parsed.port or (
            443 if parsed.scheme == "https" else 80), allow_private=allow_private)
    except UrlRefused as exc:
        return Answer("refused", None, elapsed(), str(exc)[:300])
    target, host_header, extensions = pinned_url(url, addresses[0])
    request_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                       **headers, **host_header}
    try:
        request = client.build_request("POST", target, content=body, headers=request_headers,
                                       extensions={**extensions, "timeout": _timeouts(timeout_s)})
        # an overall deadline: a slow-drip answer cannot hold a slot past the timeout
        async with asyncio.timeout(timeout_s):
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                chunk = b""
                async for part in response.aiter_raw():
                    chunk += part
                    if len(chunk) >= EXCERPT_BYTES:
                        break
            finally:
                await response.aclose()
    except (TimeoutError, httpx.TimeoutException):
        return Answer("timeout", None, elapsed(), f"no answer within {timeout_s:g} s")
    except httpx.HTTPError as exc:
        return Answer("error", None, elapsed(), f"{type(exc).__name__}: {exc}"[:300])
    outcome = _classify(response.status_code)
    excerpt = chunk[:EXCERPT_BYTES].decode("utf-8", "replace")
    return Answer(outcome, response.status_code, elapsed(),
                  None if outcome == "success" else f"HTTP {response.status_code}",
                  excerpt or None, retry_after_seconds(response.headers.get("retry-after"))
                  if outcome == "throttled" else None, chunk[:EXCERPT_BYTES])


def _timeouts(timeout_s: float) -> dict[str, float]:
    return {"connect": timeout_s, "read": timeout_s, "write": timeout_s, "pool": timeout_s}

