"""The bridge between the configuration, the pure ``probes`` package and the store.

- ``build_specs``: ``[[probes]]`` entries to ``probes.ProbeSpec`` with "bundled" targets
  resolved to the bundled (or externally configured) stamping service.
- ``store_results``: the ONE path by which results reach the database, used by the local
  scheduler (through ``DatabaseSink``) and by agents' pushes (through the API view).
- ``evaluate_components``: read each component's window, apply ``statuspage.evaluation``,
  record status changes and open/annotate draft incidents.

Agent tokens live in ``statuspage.store.agents``; the ``/api/v1/probes`` overview and the
``/metrics`` totals are reads of ``statuspage.store.probe_queries``.

The worker's scheduled jobs (probes, evaluation, rollup flush, pruning, maintenance windows,
the bundled service's watchdog and the rest) are listed in ``statuspage.jobs``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from probes import MAX_MILLIS, ProbeResult, ProbeSpec
from statuspage.config import BUNDLED, ProbeConfig, StatusConfig
from statuspage.db import Database
from statuspage.evaluation import ComponentEvaluation, evaluate_component
from statuspage.inputs import finite
from statuspage.models import Component, utcnow
from statuspage.store import drafts, probe_queries, probe_results
from statuspage.store.components import set_measured_status

__all__ = [
    "DatabaseSink",
    "agent_results_per_minute",
    "MAX_CLOCK_SKEW",
    "ResultRejected",
    "build_specs",
    "check_results",
    "component_map",
    "needs_bundled",
    "evaluate_components",
    "spec_for",
    "store_results",
]

log = logging.getLogger(__name__)



class ResultRejected(ValueError):
    """A result that names no configured probe or contradicts its configuration."""


def spec_for(probe: ProbeConfig, *, bundled_url: str | None = None,
             bundled_token: str | None = None) -> ProbeSpec:
    """The ``ProbeSpec`` of one configured probe.

    ``bundled_url``/``bundled_token`` stand for ``target = "bundled"``: the bundled stamping
    service, or ``STATUSPAGE_STAMPING_URL``/``_TOKEN`` when the page measures an external one.
    """
    if probe.target == BUNDLED:
        if bundled_url is None:
            raise ValueError(f"probe {probe.name!r} targets the bundled stamping service, "
                             "whose address is not known here (start it, or set "
                             "STATUSPAGE_STAMPING_URL)")
        base, token = bundled_url.rstrip("/"), probe.token or bundled_token
    else:
        base, token = probe.target, probe.token
    target = base
    if probe.kind == "http":  # the http kind fetches one URL; the others take a base URL
        target = base + (probe.path if probe.path.startswith("/") else "/" + probe.path)
    return ProbeSpec(
        name=probe.name, kind=probe.kind, target=target, timeout_s=probe.timeout_s,
        latency_budget_ms=probe.latency_budget_ms, expect_status=probe.expect_status,
        body_contains=probe.body_contains, token=token,
    )


def build_specs(config: StatusConfig, *, bundled_url: str | None = None,
                bundled_token: str | None = None) -> list[ProbeSpec]:
    """Specs for every configured probe, in configuration order."""
    return [spec_for(p, bundled_url=bundled_url, bundled_token=bundled_token)
            for p in config.probes]


def agent_results_per_minute(config: StatusConfig) -> int:
    """How many results one agent location may push per minute.

    Ten times what its probes produce (every probe at its interval, each hard failure with
    its confirmation runs), and at least 120: room for a backlog after the page was down,
    none for a flood (one token pushed 21,000 results in 1.2 s).
    """
    runs = sum(60.0 / p.interval_s for p in config.probes)
    return max(120, math.ceil(10 * runs * max(1, config.evaluation.fast_failures)))


def needs_bundled(config: StatusConfig) -> bool:
    """Whether any probe targets the bundled stamping service."""
    return any(p.target == BUNDLED for p in config.probes)


def component_map(config: StatusConfig) -> dict[str, str]:
    """Probe name to component id."""
    return {p.name: p.component for p in config.probes}


#: How far ahead of this host's clock a result may start (agents' clocks drift a little).
MAX_CLOCK_SKEW = timedelta(minutes=5)


def check_results(config: StatusConfig, results: Iterable[ProbeResult],
                  now: datetime | None = None) -> None:
    """Raise ``ResultRejected`` unless every result names a configured probe of its kind and
    started within the raw-result retention (agents resend buffered results after an outage of
    the page; older ones, or ones from the future, would write history that never happened)."""
    by_name = {p.name: p for p in config.probes}
    now = now or utcnow()
    oldest = now - timedelta(days=config.retention.raw_days)
    for result in results:
        probe = by_name.get(result.probe)
        if probe is None:
            raise ResultRejected(f"unknown probe {result.probe!r}")
        if probe.kind != result.kind:
            raise ResultRejected(f"probe {result.probe!r} is of kind {probe.kind!r}, "
                                 f"not {result.kind!r}")
        timings = [result.total_ms, *result.phases.values()]
        if any(finite(t, MAX_MILLIS) is None or t < 0 for t in timings):
            raise ResultRejected(f"probe {result.probe!r}: timings must be finite and between "
                                 f"0 and {MAX_MILLIS:.0f} ms")
        if not oldest <= result.started_at <= now + MAX_CLOCK_SKEW:
            raise ResultRejected(f"probe {result.probe!r}: started_at "
                                 f"{result.started_at.isoformat()} is outside "
                                 f"{oldest.isoformat()} .. now + {MAX_CLOCK_SKEW}")


def store_results(session: Session, config: StatusConfig,
                  results: Sequence[ProbeResult]) -> int:
    """Validate and record ``results`` (raw rows and rollups) in the caller's transaction."""
    check_results(config, results)
    return probe_results.record_results(session, results, component_map(config),
                                        ZoneInfo(config.page.time_zone))


class DatabaseSink:
    """A ``probes.ResultSink`` that stores results through ``store_results``.

    The write runs in a thread so a slow database never stalls the event loop that is timing
    the other probes.
    """

    def __init__(self, db: Database, config: StatusConfig) -> None:
        self.db = db
        self.config = config
        #: Results that could not be stored (the database was unavailable).
        self.lost = 0

    def _store(self, results: Sequence[ProbeResult]) -> int:
        with self.db.session() as session:
            return store_results(session, self.config, results)

    async def submit(self, result: ProbeResult) -> None:
        """Store one result; never raises (a lost measurement is logged and counted)."""
        try:
            await asyncio.to_thread(self._store, [result])
        except Exception:
            self.lost += 1
            log.exception("could not store the result of probe %s", result.probe)


def evaluate_components(session: Session, config: StatusConfig,
                        now: datetime | None = None) -> list[ComponentEvaluation]:
    """Evaluate every probed component; record changes and drafts. Returns the changes."""
    now = now or utcnow()
    rules = config.evaluation
    probes_of: dict[str, list[ProbeConfig]] = {}
    for probe in config.probes:
        probes_of.setdefault(probe.component, []).append(probe)
    if not probes_of:
        return []
    # lock the rows: two workers evaluating at once must not both record the same change
    current = {c.id: c.measured_status for c in session.scalars(
        sa.select(Component).where(Component.id.in_(list(probes_of)))
        .order_by(Component.id).with_for_update())}
    since = now - timedelta(seconds=rules.window_s)
    samples = probe_queries.window_samples(session, [p.name for p in config.probes], since)
    changes: list[ComponentEvaluation] = []
    for component_id, probes in probes_of.items():
        if component_id not in current:
            continue
        names = {p.name for p in probes}
        evaluation = evaluate_component(
            component_id, current[component_id], [s for s in samples if s.probe in names],
            {p.name: p.latency_budget_ms for p in probes}, rules)
        if not evaluation.changed or evaluation.status is None:
            continue
        previous = current[component_id]
        set_measured_status(session, component_id, evaluation.status, evaluation.detail(), now)
        log.warning("component %s: %s -> %s (%s)", component_id, previous, evaluation.status,
                    evaluation.detail())
        draft = drafts.note_evaluation(session, evaluation, previous, now,
                                       config.page.time_zone, config.page.time_zone_label)
        if draft is not None:
            drafts.publish_if_configured(session, draft, rules.auto_publish)
        changes.append(evaluation)
    return changes
