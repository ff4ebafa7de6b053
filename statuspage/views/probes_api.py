"""Probe endpoints: the probes overview, agents' pushed results, and Prometheus ``/metrics``.

``/api/v1/probes`` is served from the page cache like every public read. ``/metrics`` is
produced by a collector that reads day rollups at scrape time, so every web
process reports the same numbers (in-process counters would differ per process and reset on
restart). Finished days are summed once per process per day; only today's rows are read on
each scrape, so a scrape costs the same after a year as after a day.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from probes import ProbeResult
from statuspage import histogram, probing
from statuspage.cache import Rendered
from statuspage.cached_view import CachedView, RenderRequest
from statuspage.config import StatusConfig
from statuspage.db import Database
from statuspage.inputs import InputError, decode_json
from statuspage.jsontext import html_safe_json
from statuspage.leadership import current_leader
from statuspage.models import utcnow
from statuspage.services import Services
from statuspage.status import COMPONENT_STATUSES
from statuspage.store import probe_queries
from statuspage.store.agents import authenticate_agent
from statuspage.store.components import measured_statuses
from statuspage.store.probe_queries import ProbeTotals
from statuspage.store.probe_results import bucket_start
from statuspage.store.ratelimits import Allowance, take
from statuspage.webhooks.metrics import WebhookMetricsCollector

__all__ = ["MAX_BODY_BYTES", "MAX_RESULTS", "ProbeMetricsCollector", "render_probes", "routes"]

log = logging.getLogger(__name__)

MAX_RESULTS = 1000
MAX_BODY_BYTES = 2 * 1024 * 1024


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def render_probes(services: Services, request: RenderRequest) -> Rendered:
    """``GET /api/v1/probes``: every probe, its locations, last results and latency.

    Served from the page cache like every public read (rendered once per data version): the
    worker's rollup flush moves the change counter, so the figures trail by at most one flush
    interval, and a surge of readers costs no database work.
    """
    with services.db.read() as session:
        items = probe_queries.probes_overview(session, services.settings.config)
    # probe messages quote failing services: keep <, > and & inert for innerHTML consumers
    text = html_safe_json({"generated_at": utcnow().isoformat(), "probes": items})
    return Rendered(200, text.encode(), "application/json")


def _problem(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status,
                        headers={"Cache-Control": "no-store", **headers})


async def push_results(request: Request) -> Response:
    """``POST /api/v1/probe-results``: ``{"results": [...]}`` from an authenticated agent.

    202 with the count stored; 401 for a missing/unknown/revoked token; 422 when any result is
    invalid, names an unknown probe or another location (the batch is all or nothing); 429
    with Retry-After past the location's rate (``probing.agent_results_per_minute``).
    """
    services = _services(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return _problem(401, "agent token required", **{"WWW-Authenticate": "Bearer"})

    def authenticate() -> str | None:
        with services.db.session() as session:
            return authenticate_agent(session, token)

    location = await asyncio.to_thread(authenticate)
    if location is None:
        return _problem(401, "unknown or revoked agent token",
                        **{"WWW-Authenticate": 'Bearer error="invalid_token"'})
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return _problem(413, f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        # text is not checked here: error messages quote failing services and are stripped
        # of control characters when stored, not refused
        payload = decode_json(body, check_text=False)
    except InputError as exc:
        return _problem(exc.status, str(exc))
    items = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return _problem(422, 'expected {"results": [...]}')
    if len(items) > MAX_RESULTS:
        return _problem(413, f"at most {MAX_RESULTS} results per request")
    results: list[ProbeResult] = []
    for index, item in enumerate(items):
        try:
            result = ProbeResult.from_dict(item)
        except ValueError as exc:
            return _problem(422, f"results[{index}]: {exc}")
        if result.location != location:
            return _problem(422, f"results[{index}]: this token reports for location "
                                 f"{location!r}, not {result.location!r}")
        results.append(result)

    config = services.settings.config

    def store() -> int | Allowance:
        with services.db.session() as session:
            allowance = take(session, "agent", location, len(results),
                             limit=probing.agent_results_per_minute(config), window_s=60)
            if not allowance.allowed:
                return allowance
            return probing.store_results(session, config, results)

    try:
        count = await asyncio.to_thread(store)
    except probing.ResultRejected as exc:
        return _problem(422, str(exc))
    if isinstance(count, Allowance):
        return _problem(429, f"location {location!r} may push at most "
                             f"{probing.agent_results_per_minute(config)} results a minute",
                        **{"Retry-After": str(count.retry_after_s)})
    return JSONResponse({"accepted": count, "location": location}, status_code=202,
                        headers={"Cache-Control": "no-store"})


class ProbeMetricsCollector(Collector):
    """Prometheus metrics read from the database at scrape time."""

    def __init__(self, db: Database, config: StatusConfig) -> None:
        self.db = db
        self.config = config
        self._lock = threading.Lock()
        self._past_day: datetime | None = None
        self._past: dict[tuple[str, str], ProbeTotals] = {}

    def collect(self) -> Iterator[Metric]:
        """Yield latency histograms, outcome counters and component status gauges."""
        # day rollups start at local midnight: split "past" and "today" where they do
        today = bucket_start(utcnow(), "day", ZoneInfo(self.config.page.time_zone))
        with self.db.session() as session:
            with self._lock:
                if self._past_day != today:
                    self._past = probe_queries.day_totals(session, before=today)
                    self._past_day = today
                past = dict(self._past)
            current = probe_queries.day_totals(session, since=today)
            statuses = measured_statuses(session)
        latency = HistogramMetricFamily(
            "statuspage_probe_duration_seconds", "Probe run duration (whole transaction)",
            labels=["probe", "location"])
        outcomes = CounterMetricFamily(
            "statuspage_probe_results", "Probe runs by outcome", labels=["probe", "location",
                                                                        "outcome"])
        for key in sorted(set(past) | set(current)):
            total = ProbeTotals()
            for part in (past.get(key), current.get(key)):
                if part is not None:
                    total.merge(part)
            cumulative, buckets = 0, []
            for bound, count in zip(histogram.BUCKETS, total.buckets, strict=False):
                cumulative += count
                buckets.append((_le(bound / 1000), float(cumulative)))
            buckets.append(("+Inf", float(sum(total.buckets))))
            latency.add_metric(list(key), buckets, total.latency_sum_ms / 1000)
            for outcome in ("ok", "degraded", "failed"):
                outcomes.add_metric([*key, outcome], getattr(total, outcome))
        status = GaugeMetricFamily("statuspage_component_measured_status",
                                   "1 for the component's measured status",
                                   labels=["component", "status"])
        for component, measured in sorted(statuses.items()):
            for name in COMPONENT_STATUSES:
                status.add_metric([component, name], 1.0 if measured == name else 0.0)
        leader = GaugeMetricFamily("statuspage_worker_leader",
                                   "1 for the worker that runs the scheduled jobs now; no sample"
                                   " when no worker leads", labels=["worker"])
        who = current_leader(self.db.engine)
        if who is not None:
            leader.add_metric([who], 1.0)
        yield latency
        yield outcomes
        yield status
        yield leader


def _le(seconds: float) -> str:
    return f"{seconds:g}"


def _registry(services: Services) -> CollectorRegistry:
    if services.metrics_registry is None:
        # one registry per app, never the global default: several apps may share a process
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ProbeMetricsCollector(services.db, services.settings.config))
        registry.register(WebhookMetricsCollector(services.db))
        services.metrics_registry = registry
    return services.metrics_registry


async def metrics(request: Request) -> Response:
    """``GET /metrics`` in the Prometheus text format."""
    registry = _registry(_services(request))
    body = await asyncio.to_thread(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})


def routes() -> list[BaseRoute]:
    """The probe routes."""
    return [
        Route("/api/v1/probes", CachedView(render_probes, localized=False),
              methods=["GET", "HEAD"]),
        Route("/api/v1/probe-results", push_results, methods=["POST"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
