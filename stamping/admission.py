"""Admission control: a bounded number of jobs in service and a bounded wait queue.

A request is admitted or refused *before* it costs anything: the check is a couple of
integer comparisons, so a refusal (503 + Retry-After) leaves within milliseconds however
loaded the signing pool is.  The estimated wait comes from an exponentially weighted moving
average of recent service times.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["AdmissionMiddleware", "Gate", "Overloaded", "overloaded_body"]


class Overloaded(Exception):
    """Refusal: the gate is full.  ``retry_after`` is whole seconds for the header."""

    def __init__(self, gate: str, estimated_wait: float, in_system: int) -> None:
        super().__init__(gate, estimated_wait, in_system)
        self.gate, self.estimated_wait, self.in_system = gate, estimated_wait, in_system

    @property
    def retry_after(self) -> int:
        """Seconds a client should wait before retrying (at least 1)."""
        return max(1, math.ceil(self.estimated_wait))


class Gate:
    """``slots`` jobs in service at once, ``queue`` more waiting; the rest refused at once."""

    def __init__(self, name: str, slots: int, queue: int, initial_service_s: float = 0.05):
        self.name = name
        self.slots = slots
        self.queue = queue
        self._sem = asyncio.Semaphore(slots)
        self.in_system = 0  # admitted: in service + waiting
        self.in_service = 0
        self._ewma = initial_service_s

    @property
    def waiting(self) -> int:
        """Admitted requests that do not hold a service slot yet (the queue depth)."""
        return self.in_system - self.in_service

    def estimated_wait(self) -> float:
        """Seconds a newly admitted request would wait for a slot."""
        return (self.waiting + 1) * self._ewma / self.slots

    def limit(self, cap: int | None = None) -> int:
        """How many requests may be in the system, under an optional injected cap."""
        total = self.slots + self.queue
        return total if cap is None else max(0, min(total, cap))

    @asynccontextmanager
    async def admit(self, cap: int | None = None) -> AsyncIterator[Gate]:
        """Hold a place in the system for the body of the ``async with``; raise Overloaded."""
        if self.in_system >= self.limit(cap):
            raise Overloaded(self.name, self.estimated_wait(), self.in_system)
        self.in_system += 1
        try:
            yield self
        finally:
            self.in_system -= 1

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a service slot (call inside :meth:`admit`) and time the service."""
        async with self._sem:
            self.in_service += 1
            started = time.perf_counter()
            try:
                yield
            finally:
                self.in_service -= 1
                elapsed = time.perf_counter() - started
                self._ewma = 0.9 * self._ewma + 0.1 * elapsed


class AdmissionMiddleware:
    """Refuses requests for a full gate before routing, authentication or body parsing.

    Under a surge most requests are refusals; making each one cost a few microseconds of the
    event loop keeps the CPU for the signing workers (goodput) and the 503 fast.  The
    handler still admits properly (``Gate.admit``); this is only the cheap early exit.
    """

    def __init__(self, app: ASGIApp, gates: dict[str, Gate],
                 capacity: Callable[[], Awaitable[int | None]]) -> None:
        self.app, self.gates, self.capacity = app, gates, capacity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] == "http" and scope["method"] == "POST":
            gate = self.gates.get(scope["path"])
            if gate is not None:
                cap = await self.capacity() if gate.name == "stamp" else None
                if gate.in_system >= gate.limit(cap):
                    await _refuse(send, Overloaded(gate.name, gate.estimated_wait(),
                                                   gate.in_system))
                    scope.setdefault("state", {})["rejected_by"] = gate.name
                    return
        await self.app(scope, receive, send)


def overloaded_body(exc: Overloaded) -> dict[str, object]:
    """The JSON body of a 503 refusal."""
    return {"error": "overloaded",
            "message": "the service is at capacity; retry after the indicated time",
            "estimated_wait_seconds": round(exc.estimated_wait, 3), "queue": exc.gate}


async def _refuse(send: Send, exc: Overloaded) -> None:
    body = json.dumps(overloaded_body(exc)).encode()
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"retry-after", str(exc.retry_after).encode())]})
    await send({"type": "http.response.body", "body": body})
