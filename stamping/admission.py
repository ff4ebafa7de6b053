"""Admission control: a bounded number of jobs in service and a bounded wait queue.

A request is admitted or refused *before* it costs anything: the check is a couple of
integer comparisons, so a refusal (503 + Retry-After) leaves within milliseconds however
loaded the signing pool is.  The estimated wait comes from an exponentially weighted moving
average of recent service times.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["Gate", "Overloaded"]


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
