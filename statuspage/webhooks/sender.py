"""One HTTP attempt to a subscriber, through the SSRF check, classified.

2xx is success; 410 asks us to stop (``gone``); 429, 502, 503 and 504 mean "slow down"
(``throttled``, with ``Retry-After`` honoured up to an hour); any other status, 3xx included
(redirects are never followed), is a ``failure``. No answer within the timeout is ``timeout``;
a refused connection or TLS error is ``error``; an address the SSRF rules forbid is ``refused``.
The response body is read only up to ``EXCERPT_BYTES``.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from statuspage.models import utcnow
from statuspage.webhooks.http import HttpPool
from statuspage.webhooks.ssrf import UrlRefused, resolve_checked

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


async def post(pool: HttpPool, url: str, body: bytes, headers: dict[str, str], *,
               timeout_s: float, allow_private: bool) -> Answer:
    """POST ``body`` to ``url`` connecting only to a checked address; never raises."""
    started = time.perf_counter()

    def elapsed() -> float:
        return round((time.perf_counter() - started) * 1000, 1)

    try:
        parsed = httpx.URL(url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        addresses = await resolve_checked(parsed.host, port, allow_private=allow_private)
    except UrlRefused as exc:
        return Answer("refused", None, elapsed(), str(exc)[:300])
    target = parsed.raw_path.decode("ascii") or "/"
    request_headers = {"Host": parsed.netloc.decode("ascii"), "User-Agent": USER_AGENT,
                       "Content-Type": "application/json", **headers}
    try:
        # an overall deadline: a slow-drip answer cannot hold a slot past the timeout
        async with asyncio.timeout(timeout_s):
            answer = await pool.post(str(addresses[0]), port,
                                     tls_name=parsed.host if parsed.scheme == "https" else None,
                                     target=target, headers=request_headers, body=body,
                                     excerpt=EXCERPT_BYTES)
    except TimeoutError:
        return Answer("timeout", None, elapsed(), f"no answer within {timeout_s:g} s")
    except (OSError, ssl.SSLError, ValueError, asyncio.IncompleteReadError,
            asyncio.LimitOverrunError) as exc:
        return Answer("error", None, elapsed(), f"{type(exc).__name__}: {exc}"[:300])
    outcome = _classify(answer.status)
    return Answer(outcome, answer.status, elapsed(),
                  None if outcome == "success" else f"HTTP {answer.status}",
                  answer.body.decode("utf-8", "replace") or None,
                  retry_after_seconds(answer.headers.get("retry-after"))
                  if outcome == "throttled" else None, answer.body)


