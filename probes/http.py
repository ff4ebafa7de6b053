"""Timed HTTP for probes: one :class:`Transaction` per run, and the plain ``http`` kind.

A transaction measures every step of a run and the connection phases of its first request.
``connect`` and ``ttfb`` come from httpcore's ``trace`` extension, so they are real socket
timings when the client talks to a network transport. ``ttfb`` is counted from the start of
the first request (like curl's ``time_starttransfer``), so it includes ``connect``. Transports
that do not trace (``MockTransport``, ``ASGITransport``) get ``connect`` 0 and a ``ttfb``
taken when the response headers were handed back; a reused keep-alive connection also has
``connect`` 0, because no connection was opened: a caller that wants the handshake in every
run gives each run a fresh client, or one built with
``httpx.Limits(max_keepalive_connections=0)``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from probes.errors import ProbeFailure
from probes.memory import ProbeMemory
from probes.spec import ProbeSpec

__all__ = ["Transaction", "run_http"]

log = logging.getLogger(__name__)

# Error bodies from a failing service can be anything; keep what goes into a message short.
_SNIPPET = 200
# A request never gets less than this timeout, so a nearly spent budget still fails as a
# clean httpx timeout rather than a zero-timeout oddity.
_MIN_REQUEST_TIMEOUT_S = 0.001
_HEADERS_DONE = (
    "http11.receive_response_headers.complete",
    "http2.receive_response_headers.complete",
)


class Transaction:
    """The clock, phase timings and first-request trace of one probe run, and what its
    scheduler remembers between runs (``memory``; a fresh one when none is given)."""

    def __init__(self, spec: ProbeSpec, client: httpx.AsyncClient,
                 memory: ProbeMemory | None = None) -> None:
        self.spec = spec
        self.client = client
        self.memory = memory if memory is not None else ProbeMemory()
        self.phases: dict[str, float] = {}
        self.step_name = "request"
        #: The innermost step that was running when the transaction failed or timed out.
        self.failed_step: str | None = None
        self._start = time.perf_counter()
        self._traced = False

    def elapsed_ms(self) -> float:
        """Milliseconds since the transaction started."""
        return (time.perf_counter() - self._start) * 1000.0

    def remaining_s(self) -> float:
        """Seconds left of the probe's timeout (never below a millisecond)."""
        left = self.spec.timeout_s - (time.perf_counter() - self._start)
        return max(left, _MIN_REQUEST_TIMEOUT_S)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time a step into ``phases[name]`` (added to, if the step repeats)."""
        previous, self.step_name = self.step_name, name
        began = time.perf_counter()
        try:
            yield
        except BaseException:
            # Innermost first: a timeout in "credit" inside "stamp" is reported as "credit".
            self.failed_step = self.failed_step or name
            raise
        finally:
            spent = (time.perf_counter() - began) * 1000.0
            self.phases[name] = self.phases.get(name, 0.0) + spent
            self.step_name = previous

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        auth: bool = True,
    ) -> httpx.Response:
        """Send one request within the remaining budget and read its body.

        Transport failures become :class:`ProbeFailure` (``timeout``, ``connect_error``,
        ``network_error``); the status code is left to :meth:`expect`.
        """
        all_headers = dict(headers or {})
        if auth and self.spec.token:
            all_headers["Authorization"] = f"Bearer {self.spec.token}"
        marks: dict[str, float] = {}
        extensions: dict[str, Any] = {}
        first = not self._traced
        if first:
            self._traced = True

            async def trace(event: str, info: Mapping[str, Any]) -> None:
                marks.setdefault(event, time.perf_counter())

            extensions["trace"] = trace
        request = self.client.build_request(
            method,
            url,
            headers=all_headers,
            json=json_body,
            files=dict(files) if files else None,
            timeout=self.remaining_s(),
            extensions=extensions,
        )
        began = time.perf_counter()
        try:
            response = await self.client.send(request, stream=True)
            headers_at = time.perf_counter()
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            raise ProbeFailure("timeout", f"{method} {url}: {type(exc).__name__}") from None
        except httpx.ConnectError as exc:
            raise ProbeFailure("connect_error", f"{method} {url}: {exc or 'refused'}") from None
        except httpx.TransportError as exc:
            raise ProbeFailure("network_error", f"{method} {url}: {exc!r}") from None
        if first:
            self._record_connection(marks, began, headers_at)
        return response

    def _record_connection(
        self, marks: Mapping[str, float], began: float, headers_at: float
    ) -> None:
        connect_start = marks.get("connection.connect_tcp.started")
        connect_end = marks.get("connection.start_tls.complete") or marks.get(
            "connection.connect_tcp.complete"
        )
        if connect_start is not None and connect_end is not None:
            self.phases["connect"] = (connect_end - connect_start) * 1000.0
        else:
            self.phases["connect"] = 0.0
        ttfb_at = next((marks[e] for e in _HEADERS_DONE if e in marks), headers_at)
        self.phases["ttfb"] = (ttfb_at - began) * 1000.0

    @staticmethod
    def expect(response: httpx.Response, *statuses: int) -> None:
        """Raise the right :class:`ProbeFailure` unless the status is one of ``statuses``."""
        if response.status_code in statuses:
            return
        raise status_failure(response, statuses)

    @staticmethod
    def json(response: httpx.Response) -> dict[str, Any]:
        """The response body as a JSON object, or a ``bad_response`` failure."""
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ProbeFailure(
                "bad_response", f"{response.request.url.path}: the body is not JSON"
            ) from None
        if not isinstance(data, dict):
            raise ProbeFailure("bad_response", f"{response.request.url.path}: not a JSON object")
        return data


def status_failure(response: httpx.Response, expected: tuple[int, ...]) -> ProbeFailure:
    """Classify an unexpected status, with the service's ``{error, message}`` in the message.

    A 503 is told apart by what the service says: ``overloaded`` when it sheds load (its body
    says ``overloaded``, or it names no reason but asks to retry after a while), else
    ``service_down`` (a drill switch, a proxy with no upstream, maintenance): a service that is
    down is not "overloaded", and the evidence an operator reads must say which. Other codes
    give ``http_5xx``, ``http_4xx`` or ``unexpected_status``.
    """
    code = response.status_code
    where = f"{response.request.method} {response.request.url.path}"
    detail = error_detail(response)
    if code == 503:
        retry_after = response.headers.get("Retry-After")
        wait = f" (Retry-After: {retry_after})" if retry_after else ""
        reason = _error_code(response)
        if reason == "overloaded" or (reason is None and retry_after):
            return ProbeFailure("overloaded", f"{where}: 503 service overloaded{wait}{detail}")
        return ProbeFailure("service_down", f"{where}: 503 service unavailable{wait}{detail}")
    if 500 <= code <= 599:
        return ProbeFailure("http_5xx", f"{where}: {code}{detail}")
    if 400 <= code <= 499:
        return ProbeFailure("http_4xx", f"{where}: {code}{detail}")
    wanted = "/".join(str(s) for s in expected)
    return ProbeFailure("unexpected_status", f"{where}: {code}, expected {wanted}{detail}")


def _error_code(response: httpx.Response) -> str | None:
    """The ``error`` field of a JSON error body, if there is one."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, str) and error else None


def error_detail(response: httpx.Response) -> str:
    """`` - error: message`` from a JSON error body, or a short text snippet, or ``""``."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict) and ("error" in data or "message" in data):
        parts = [str(data[k]) for k in ("error", "message") if data.get(k)]
        return " - " + ": ".join(parts)[:_SNIPPET]
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("text/") and response.content:
        return " - " + response.text.strip()[:_SNIPPET]
    return ""


async def run_http(tx: Transaction) -> None:
    """The ``http`` kind: GET the target, check the status and optionally the body."""
    spec = tx.spec
    response = await tx.request("GET", spec.target, auth=spec.token is not None)
    tx.expect(response, spec.expect_status)
    if spec.body_contains is not None and spec.body_contains not in response.text:
        raise ProbeFailure(
            "body_mismatch", f"GET {response.request.url.path}: body lacks {spec.body_contains!r}"
        )
    log.debug("http probe %s: %s in %.1f ms", spec.name, response.status_code, tx.elapsed_ms())
