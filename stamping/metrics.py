"""Prometheus metrics of one web process (each app owns its registry).

Probe accounts' activity carries ``account_kind="probe"`` so synthetic checks never inflate
the sales figures.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stamping.admission import Gate

__all__ = ["Metrics", "MetricsMiddleware"]

_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """The service's metrics in a registry of their own (no global state)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        ProcessCollector(registry=r)  # CPU, memory, open files of this web process
        self.requests = Counter("stamping_http_requests", "HTTP requests",
                                ["method", "route", "status", "account_kind"], registry=r)
        self.latency = Histogram("stamping_http_request_duration_seconds",
                                 "HTTP request latency", ["route", "status"], buckets=_BUCKETS,
                                 registry=r)
        self.queue_depth = Gauge("stamping_queue_depth",
                                 "Admitted requests waiting for a slot", ["gate"], registry=r)
        self.in_service = Gauge("stamping_in_service", "Requests holding a slot", ["gate"],
                                registry=r)
        self.rejected = Counter("stamping_rejected", "Requests refused by admission control",
                                ["gate"], registry=r)
        self.refused_from_head = Counter(
            "stamping_refused_from_head", "Refusals (also in stamping_rejected) answered by the "
            "HTTP protocol from the request head, without the app", ["gate"], registry=r)
        self.quota_sold = Counter("stamping_quota_sold", "Stamps credited after payment",
                                  ["account_kind"], registry=r)
        self.quota_spent = Counter("stamping_quota_spent", "Stamps spent on stamped documents",
                                   ["account_kind"], registry=r)
        self.signing = Histogram("stamping_signing_duration_seconds",
                                 "Time in the signing pool", buckets=_BUCKETS, registry=r)
        self.bad_input = Counter("stamping_bad_input", "Refused documents", ["error"],
                                 registry=r)
        self._refusal_children: dict[tuple[str, str], tuple[Any, Any, Any, Any]] = {}

    def observe_refusal(self, path: str, gate: str, seconds: float,
                        from_head: bool = False) -> None:
        """Count a refusal made by the admission gate (before the metrics middleware), and
        whether the HTTP protocol made it from the request's head.

        The labelled children are looked up once per path and gate: at the peak this runs a hundred
        times a second.
        """
        children = self._refusal_children.get((path, gate))
        if children is None:
            children = self._refusal_children[path, gate] = (
                self.rejected.labels(gate), self.requests.labels("POST", path, "503", "none"),
                self.latency.labels(path, "503"), self.refused_from_head.labels(gate))
        rejected, requests, latency, early = children
        rejected.inc()
        if from_head:
            early.inc()
        requests.inc()
        latency.observe(seconds)

    def observe_gates(self, gates: list[Gate]) -> None:
        """Copy the gates' current depth into the gauges (called on scrape)."""
        for gate in gates:
            self.queue_depth.labels(gate.name).set(gate.waiting)
            self.in_service.labels(gate.name).set(gate.in_service)


class MetricsMiddleware:
    """Counts every request by route template, status and account kind."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        scope.setdefault("state", {})

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            state = scope.get("state", {})
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            kind = state.get("account_kind", "none")
            self.metrics.requests.labels(scope["method"], template, str(status), kind).inc()
            self.metrics.latency.labels(template, str(status)).observe(
                time.perf_counter() - started)
