"""Fault injection for drills: latency, error rate, capacity cap and a hard-down switch.

The specification lives in the database (one row) so every web process applies the same
faults; each process keeps a copy for at most ``fault_cache_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import random
import time
from dataclasses import asdict, dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from stamping import store
from stamping.db import Database

__all__ = ["FaultCache", "FaultMiddleware", "FaultSpec", "parse_fault_spec"]

logger = logging.getLogger(__name__)

#: Paths faults never touch: the admin API must stay usable to clear a "down" switch,
#: and metrics must keep reporting during a drill.
EXEMPT_PREFIXES = ("/api/v1/admin/", "/metrics")


@dataclass(frozen=True)
class FaultSpec:
    """Active faults; ``endpoints`` (path prefixes) limits latency, errors and down."""

    latency_ms: float | None = None
    error_rate: float | None = None
    capacity: int | None = None
    down: bool = False
    endpoints: tuple[str, ...] | None = None

    def as_json(self) -> dict[str, Any]:
        """The JSON form returned by the admin API."""
        data = asdict(self)
        data["endpoints"] = list(self.endpoints) if self.endpoints is not None else None
        return data

    def applies_to(self, path: str) -> bool:
        """Whether latency, errors and down apply to ``path``."""
        if path.startswith(EXEMPT_PREFIXES):
            return False
        if self.endpoints is None:
            return True
        return any(path == e or path.startswith(e.rstrip("/") + "/") for e in self.endpoints)


def parse_fault_spec(data: Any) -> FaultSpec:
    """Validate an admin request body; raise ValueError with a readable reason."""
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    unknown = set(data) - {"latency_ms", "error_rate", "capacity", "down", "endpoints"}
    if unknown:
        raise ValueError(f"unknown keys: {sorted(unknown)}")
    latency = data.get("latency_ms")
    if latency is not None and (not isinstance(latency, int | float) or isinstance(latency, bool)
                                or not 0 <= latency <= 120_000):
        raise ValueError("latency_ms must be a number between 0 and 120000")
    rate = data.get("error_rate")
    if rate is not None and (not isinstance(rate, int | float) or isinstance(rate, bool)
                             or not 0 <= rate <= 1):
        raise ValueError("error_rate must be a number between 0 and 1")
    capacity = data.get("capacity")
    if capacity is not None and (not isinstance(capacity, int) or isinstance(capacity, bool)
                                 or capacity < 0):
        raise ValueError("capacity must be a non-negative integer")
    down = data.get("down", False)
    if not isinstance(down, bool):
        raise ValueError("down must be true or false")
    endpoints = data.get("endpoints")
    if endpoints is not None and (not isinstance(endpoints, list)
                                  or not all(isinstance(e, str) and e.startswith("/")
                                             for e in endpoints)):
        raise ValueError("endpoints must be a list of paths starting with /")
    return FaultSpec(
        latency_ms=float(latency) if latency is not None else None,
        error_rate=float(rate) if rate is not None else None,
        capacity=capacity,
        down=down,
        endpoints=tuple(endpoints) if endpoints is not None else None,
    )


class FaultCache:
    """This process's copy of the shared fault specification.

    Never raises and never holds a request for long: the copy is refreshed in the
    background, a request waits at most ``REFRESH_WAIT_SECONDS`` for a fresh copy, and while
    the database is down the last known specification stays in force (issue 8: reading the
    faults made every route, ``/healthz`` included, answer 500 while the database was down).
    """

    REFRESH_WAIT_SECONDS = 0.25

    def __init__(self, db: Database, ttl: float) -> None:
        self._db, self._ttl = db, ttl
        self._spec = FaultSpec()
        self._loaded = -1e9
        self._refresh: asyncio.Task[None] | None = None
        self.last_error: str | None = None

    def cached_capacity(self) -> tuple[bool, int | None]:
        """Whether this process's copy is fresh (at most ``ttl`` seconds old), and the
        stamping capacity it sets: read without waiting by the HTTP protocol's early
        refusals, which leave a stale copy to :meth:`current`."""
        return time.monotonic() - self._loaded <= self._ttl, self._spec.capacity

    async def current(self) -> FaultSpec:
        """The active faults, at most ``ttl`` seconds old while the database answers."""
        if time.monotonic() - self._loaded <= self._ttl:
            return self._spec
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.get_running_loop().create_task(self._reload())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._refresh), self.REFRESH_WAIT_SECONDS)
        return self._spec

    async def _reload(self) -> None:
        try:
            raw = await self._db.read(store.load_faults)
        except Exception as exc:  # keep the last known faults; try again after ttl
            if self.last_error is None:
                logger.warning("cannot read the faults (keeping the last known): %s", exc)
            self.last_error = f"{type(exc).__name__}: {exc}"[:200]
            self._loaded = time.monotonic()
            return
        self.last_error = None
        try:
            self._spec = parse_fault_spec(raw)
        except ValueError:
            self._spec = FaultSpec()
        self._loaded = time.monotonic()

    async def replace(self, spec: FaultSpec) -> None:
        """Store a new specification for every process and apply it here at once."""
        # `is not`: 0 (capacity 0 = refuse everything) must survive; 0 == False in Python.
        data = {k: v for k, v in spec.as_json().items() if v is not None and v is not False}
        await self._db.write(store.save_faults, data, dt.datetime.now(dt.UTC))
        self._spec, self._loaded = spec, time.monotonic()


def _json_response(status: int, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    payload = json.dumps(body).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"),
                         (b"content-length", str(len(payload)).encode()),
                         (b"retry-after", b"30")]}
    return start, {"type": "http.response.body", "body": payload}


class FaultMiddleware:
    """Applies the active faults before the request reaches the application."""

    def __init__(self, app: ASGIApp, cache: FaultCache) -> None:
        self.app, self.cache = app, cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        spec = await self.cache.current()
        if spec.applies_to(scope["path"]):
            if spec.down:
                start, body = _json_response(503, {"error": "service_down",
                                                   "message": "the service is down (drill)"})
                await send(start)
                await send(body)
                return
            if spec.latency_ms:
                await asyncio.sleep(spec.latency_ms / 1000)
            if spec.error_rate and random.random() < spec.error_rate:
                start, body = _json_response(500, {"error": "injected_error",
                                                   "message": "injected failure (drill)"})
                await send(start)
                await send(body)
                return
        await self.app(scope, receive, send)
