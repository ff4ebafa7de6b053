"""Admission control: a bounded number of jobs in service, a bounded wait queue, fair shares.

The :class:`AdmissionMiddleware` is the outermost layer of the app.  It admits or refuses a
request for a gated path *before* the framework, routing, authentication or body parsing
cost anything; an admitted request holds its place until its answer is sent, and the
handler's ``Gate.admit()`` sees that it already holds one. Under ``stamping serve`` a request
to a full gate is refused earlier still, by the HTTP protocol from the request's head
(``stamping.http_protocol``); both paths share one :class:`Shedder`, the refusal's rules,
hold and count.

Why refusals are held (the retry storm of issue 12): applicants pressing "try again" ignore
``Retry-After`` and resend the moment an answer arrives.  If a 503 left in microseconds,
384 such clients would send thousands of requests a second, and parsing, answering and
re-sending them takes the CPU that signing needs.  Holding each refusal for a jittered
0.5-1x ``hold_seconds`` bounds their rate to about ``clients / hold`` at the price of an
asyncio timer each, and spreads the retries out.  The number of refusals held at once is
bounded; past it they leave at once.

The wait queue of the stamping gate is sized from the measured service time, so that an
admitted request waits at most about ``queue_seconds`` however fast the machine signs.  A
fair share keeps one account (and one client address) from taking every place: once fewer
than a quarter of the places are free, a key may hold at most ``ceil(limit / keys holding
places)`` of them (all of them when it is alone).
Probe accounts get no special treatment: they see what applicants see.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["SHEDDER_STATE", "AdmissionMiddleware", "FairShare", "Gate", "Overloaded", "Shedder",
           "overloaded_body", "refusal_answer", "request_credential"]

#: The key of the app's :class:`Shedder` in the lifespan state, where the HTTP protocol finds it.
SHEDDER_STATE = "stamping.shedder"

#: The gate whose place the current request holds (set by the middleware, read by handlers).
_ADMITTED: ContextVar[Gate | None] = ContextVar("stamping_admitted", default=None)

#: Why a request was refused (the ``reason`` of the 503 body).
FULL, ACCOUNT_SHARE, ADDRESS_SHARE = "full", "account_share", "address_share"
_MESSAGES = {
    FULL: "the service is at capacity; retry after the indicated time",
    ACCOUNT_SHARE: "this account already has its fair share of requests waiting; retry after "
                   "the indicated time",
    ADDRESS_SHARE: "this address already has its fair share of requests waiting; retry after "
                   "the indicated time",
}


class Overloaded(Exception):
    """Refusal: the gate is full, or the caller holds its fair share of it.

    ``retry_after`` (whole seconds, at least 1) is drawn at random between the estimated
    wait and twice it, so that clients that obey it do not all come back in the same second.
    """

    def __init__(self, gate: str, estimated_wait: float, in_system: int,
                 reason: str = FULL) -> None:
        super().__init__(gate, estimated_wait, in_system)
        self.gate, self.estimated_wait, self.in_system = gate, estimated_wait, in_system
        self.reason = reason
        upper = max(2, math.ceil(2 * estimated_wait))
        self.retry_after = random.randint(max(1, math.ceil(estimated_wait)), upper)


class FairShare:
    """Places held per key (an account or a client address)."""

    def __init__(self) -> None:
        self.held: dict[str, int] = {}

    def allows(self, key: str, limit: int) -> bool:
        """Whether ``key`` may take one more of ``limit`` places (work-conserving)."""
        mine = self.held.get(key, 0)
        holders = len(self.held) + (0 if mine else 1)
        return mine < max(1, math.ceil(limit / holders))

    def take(self, key: str) -> None:
        """``key`` holds one more place."""
        self.held[key] = self.held.get(key, 0) + 1

    def give_back(self, key: str) -> None:
        """``key`` releases a place."""
        left = self.held[key] - 1
        if left:
            self.held[key] = left
        else:
            del self.held[key]


class Gate:
    """``slots`` jobs in service at once, a bounded queue waiting; the rest refused at once.

    With ``queue_seconds`` the queue holds at most what the slots serve in that many seconds
    at the measured service time (between ``3 * slots`` and ``queue``); without, ``queue``.
    """

    def __init__(self, name: str, slots: int, queue: int, initial_service_s: float = 0.05,
                 queue_seconds: float | None = None) -> None:
        self.name = name
        self.slots = slots
        self.queue = queue
        self.queue_seconds = queue_seconds
        self._sem = asyncio.Semaphore(slots)
        self.in_system = 0  # admitted: in service + waiting
        self.in_service = 0
        self._ewma = initial_service_s
        self.accounts = FairShare()
        self.addresses = FairShare()

    @property
    def waiting(self) -> int:
        """Admitted requests that do not hold a service slot yet (the queue depth)."""
        return self.in_system - self.in_service

    @property
    def service_seconds(self) -> float:
        """The moving average of the time a job holds a slot."""
        return self._ewma

    def estimated_wait(self) -> float:
        """Seconds a newly admitted request would wait for a slot."""
        return (self.waiting + 1) * self._ewma / self.slots

    def queue_limit(self) -> int:
        """How many admitted requests may wait for a slot now."""
        if self.queue_seconds is None:
            return self.queue
        sized = math.ceil(self.queue_seconds * self.slots / max(self._ewma, 1e-3))
        # Never below three rounds of slots: the working concurrency (a client per slot plus
        # one waiting behind it) is never refused, nor held to a fair share, even when a
        # slow burst inflates the average.
        return max(min(3 * self.slots, self.queue), min(self.queue, sized))

    def limit(self, cap: int | None = None) -> int:
        """How many requests may be in the system, under an optional injected cap."""
        total = self.slots + self.queue_limit()
        return total if cap is None else max(0, min(total, cap))

    def refusal(self, cap: int | None = None, account: str | None = None,
                address: str | None = None) -> Overloaded | None:
        """Why a new request cannot be admitted now, or None when it can."""
        limit = self.limit(cap)
        reason = None
        if self.in_system >= limit:
            reason = FULL
        elif 4 * (limit - self.in_system) > limit:
            pass  # shares apply once fewer than a quarter of the places are free
        elif account is not None and not self.accounts.allows(account, limit):
            reason = ACCOUNT_SHARE
        elif address is not None and not self.addresses.allows(address, limit):
            reason = ADDRESS_SHARE
        if reason is None:
            return None
        return Overloaded(self.name, self.estimated_wait(), self.in_system, reason)

    def enter(self, account: str | None = None, address: str | None = None) -> None:
        """Take a place (after :meth:`refusal` said None)."""
        self.in_system += 1
        if account is not None:
            self.accounts.take(account)
        if address is not None:
            self.addresses.take(address)

    def leave(self, account: str | None = None, address: str | None = None) -> None:
        """Give the place back."""
        self.in_system -= 1
        if account is not None:
            self.accounts.give_back(account)
        if address is not None:
            self.addresses.give_back(address)

    @asynccontextmanager
    async def admit(self, cap: int | None = None) -> AsyncIterator[Gate]:
        """Hold a place for the body of the ``async with``; raise Overloaded.

        A request the middleware admitted already holds its place: nothing more is taken.
        """
        if _ADMITTED.get() is self:
            yield self
            return
        refused = self.refusal(cap)
        if refused is not None:
            raise refused
        self.enter()
        try:
            yield self
        finally:
            self.leave()

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


def request_credential(scope: Scope, session_cookie: str) -> str | None:
    """The bearer token or session cookie of a request, read from the raw headers."""
    prefix = session_cookie.encode() + b"="
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip().decode("latin-1")
        elif name == b"cookie":
            for part in value.split(b";"):
                part = part.strip()
                if part.startswith(prefix) and len(part) > len(prefix):
                    return part[len(prefix):].decode("latin-1")
    return None


class Shedder:
    """The refusals of the gated paths: which gate a request needs, how long a refusal is
    held, how it is counted and what it says.

    Shared by :class:`AdmissionMiddleware`, which sees every request, and the HTTP protocol's
    early path (``stamping.http_protocol``), which refuses a request to a full gate from its
    head alone, without building an ASGI request for it; both hold refusals against one bound.
    ``gates`` maps a path to its gate (POST only); ``cached_capacity()`` says whether this
    process's copy of the injected stamping capacity is fresh, and the capacity;
    ``on_refused(path, gate, seconds, from_head)`` records a refusal in the metrics.
    """

    def __init__(self, gates: dict[str, Gate], hold_seconds: float = 0.0, max_held: int = 0,
                 on_refused: Callable[[str, str, float, bool], None] | None = None,
                 cached_capacity: Callable[[], tuple[bool, int | None]] | None = None) -> None:
        self.gates, self.hold_seconds, self.max_held = gates, hold_seconds, max_held
        self.on_refused, self.cached_capacity = on_refused, cached_capacity
        self.held = 0  # refusals being held right now

    def gate(self, method: str, path: str) -> Gate | None:
        """The gate a request must pass, if any."""
        return self.gates.get(path) if method == "POST" else None

    def refuse_when_full(self, method: str, path: str) -> tuple[Gate, Overloaded] | None:
        """The refusal of a request whose gate is full, decided from its method and path
        alone (None: admitted, not gated, or the capacity copy is stale, so the app decides)."""
        gate = self.gate(method, path)
        if gate is None or self.cached_capacity is None:
            return None
        fresh, cap = self.cached_capacity() if gate.name == "stamp" else (True, None)
        refused = gate.refusal(cap) if fresh else None
        return None if refused is None else (gate, refused)

    def take_hold(self) -> float:
        """Seconds to hold a refusal: a jittered 0.5-1x ``hold_seconds``, or 0 once
        ``max_held`` are held. A non-zero hold counts until :meth:`release_hold`."""
        if self.hold_seconds <= 0 or self.held >= self.max_held:
            return 0.0
        self.held += 1
        return self.hold_seconds * random.uniform(0.5, 1.0)

    def release_hold(self) -> None:
        """A held refusal has left."""
        self.held -= 1

    def refused(self, path: str, gate: Gate, seconds: float, from_head: bool = False) -> None:
        """Count a refusal that has been answered (by the HTTP protocol from the request's
        head, or by the middleware)."""
        if self.on_refused is not None:
            self.on_refused(path, gate.name, seconds, from_head)


class AdmissionMiddleware:
    """The outermost layer: admits or refuses requests for gated paths before the framework.

    ``capacity()`` is the injected stamping capacity (a fault), ``account_key`` maps a
    request's credential (bearer token or session cookie) to the key of its fair share.
    """

    def __init__(self, app: ASGIApp, shedder: Shedder,
                 capacity: Callable[[], Awaitable[int | None]],
                 account_key: Callable[[str], str] = str, session_cookie: str = "") -> None:
        self.app, self.shedder, self.capacity = app, shedder, capacity
        self.account_key, self.session_cookie = account_key, session_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        gate = self.shedder.gate(scope["method"], scope["path"]) \
            if scope["type"] == "http" else None
        if gate is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        cap = await self.capacity() if gate.name == "stamp" else None
        account = address = None
        # A full gate refuses whoever asks: the fair-share keys (a token hash) are only
        # worked out when there is a place to share.
        refused = gate.refusal(cap)
        if refused is None:
            credential = request_credential(scope, self.session_cookie)
            account = self.account_key(credential) if credential is not None else None
            client = scope.get("client")
            address = client[0] if client else None
            refused = gate.refusal(cap, account, address)
        if refused is not None:
            await self._hold()
            await _refuse(send, refused)
            self.shedder.refused(scope["path"], gate, time.perf_counter() - started)
            return
        gate.enter(account, address)
        token = _ADMITTED.set(gate)
        try:
            await self.app(scope, receive, send)
        finally:
            _ADMITTED.reset(token)
            gate.leave(account, address)

    async def _hold(self) -> None:
        seconds = self.shedder.take_hold()
        if seconds:
            try:
                await asyncio.sleep(seconds)
            finally:
                self.shedder.release_hold()


def overloaded_body(exc: Overloaded) -> dict[str, object]:
    """The JSON body of a 503 refusal."""
    return {"error": "overloaded", "message": _MESSAGES[exc.reason], "reason": exc.reason,
            "estimated_wait_seconds": round(exc.estimated_wait, 3), "queue": exc.gate}


def refusal_answer(exc: Overloaded) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The headers and body of a 503 refusal (status 503)."""
    body = json.dumps(overloaded_body(exc)).encode()
    return [(b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(exc.retry_after).encode())], body


async def _refuse(send: Send, exc: Overloaded) -> None:
    headers, body = refusal_answer(exc)
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})
