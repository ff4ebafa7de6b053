"""Where results go: the :class:`ResultSink` protocol and the HTTP sink remote agents use."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Protocol, runtime_checkable

import httpx

from probes.result import ProbeResult

__all__ = ["HttpResultSink", "ResultSink"]

log = logging.getLogger(__name__)

# Statuses worth retrying later; any other 4xx means this batch will never be accepted.
_RETRYABLE_4XX = frozenset({401, 403, 404, 408, 409, 425, 429})


@runtime_checkable
class ResultSink(Protocol):
    """Anything that accepts probe results (the status page store, an HTTP endpoint, a list)."""

    async def submit(self, result: ProbeResult) -> None:
        """Accept one result; must not raise because the destination is unavailable."""
        ...


class HttpResultSink:
    """Posts results to the status page as ``{"results": [...]}`` with a bearer token.

    Results wait in a bounded in-memory buffer (the oldest are dropped first when it is full)
    and are sent in batches. After a failed send, :meth:`submit` only buffers until an
    exponentially growing back-off (``backoff_s`` doubling up to ``max_backoff_s``) has
    passed, so an unreachable status page costs one attempt per back-off period, not one
    per probe run. :meth:`flush` always tries at once (for example at shutdown).
    """

    def __init__(
        self,
        report_url: str,
        token: str,
        client: httpx.AsyncClient,
        *,
        max_buffer: int = 1000,
        batch_size: int = 100,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        request_timeout_s: float = 10.0,
    ) -> None:
        if max_buffer < 1 or batch_size < 1:
            raise ValueError("max_buffer and batch_size must be positive")
        self.report_url = report_url
        self._token = token
        self._client = client
        self._buffer: deque[ProbeResult] = deque(maxlen=max_buffer)
        self._batch_size = batch_size
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._timeout_s = request_timeout_s
        self._failures = 0
        self._retry_at = 0.0
        self._lock = asyncio.Lock()
        #: Results dropped because the buffer was full (oldest first).
        self.dropped = 0

    @property
    def pending(self) -> int:
        """How many results wait to be sent."""
        return len(self._buffer)

    async def submit(self, result: ProbeResult) -> None:
        """Buffer ``result`` and send what is buffered unless backing off; never raises."""
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
            log.warning("result buffer full: dropped the oldest (%d so far)", self.dropped)
        self._buffer.append(result)
        if time.monotonic() >= self._retry_at:
            await self.flush()

    async def flush(self) -> int:
        """Send every buffered result now, in batches; returns how many were accepted.

        Stops at the first batch that fails and keeps it (and the rest) for later.
        """
        sent = 0
        async with self._lock:
            while self._buffer:
                batch = [self._buffer[i] for i in range(min(self._batch_size, len(self._buffer)))]
                verdict = await self._post(batch)
                if verdict == "retry":
                    self._failures += 1
                    delay = min(self._backoff_s * 2 ** (self._failures - 1), self._max_backoff_s)
                    self._retry_at = time.monotonic() + delay
                    log.warning("status page unavailable; %d results buffered, next try in "
                                   "%.1f s", len(self._buffer), delay)
                    break
                for _ in batch:
                    self._buffer.popleft()
                if verdict == "sent":
                    sent += len(batch)
                self._failures, self._retry_at = 0, 0.0
        return sent

    async def _post(self, batch: list[ProbeResult]) -> str:
        """``sent``, ``rejected`` (drop it: it will never be accepted) or ``retry``."""
        try:
            response = await self._client.post(
                self.report_url,
                json={"results": [r.to_dict() for r in batch]},
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=self._timeout_s,
            )
        except Exception as exc:
            # Transport errors, and anything else (a closed client): submit must not raise.
            log.debug("posting results failed: %r", exc)
            return "retry"
        if response.is_success:
            return "sent"
        if response.status_code >= 500 or response.status_code in _RETRYABLE_4XX:
            if response.status_code in (401, 403):
                log.error("the status page refuses the agent token (%d)", response.status_code)
            return "retry"
        log.error("the status page rejected %d results: %d %s", len(batch),
                     response.status_code, response.text[:200])
        return "rejected"
