"""The bridge between the configuration, the pure ``probes`` package and the store.

- ``build_specs``: ``[[probes]]`` entries to ``probes.ProbeSpec`` with "bundled" targets
  resolved to the bundled (or externally configured) stamping service.
- ``store_results``: the ONE path by which results reach the database, used by the local
  scheduler (through ``DatabaseSink``) and by agents' pushes (through the API view).
- ``evaluate_components``: read each component's window, apply ``statuspage.evaluation``,
  record status changes and open/annotate draft incidents.
- agent tokens (``create_agent_token``, ``authenticate_agent``, ``list_agent_tokens``,
  ``revoke_agent_token``) and ``overview``, the ``/api/v1/probes`` read.

The worker's scheduled jobs (probes, evaluation, rollup flush, pruning, maintenance windows,
the bundled service's watchdog and the rest) are listed in ``statuspage.jobs``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from probes import MAX_MILLIS, ProbeResult, ProbeSpec
from statuspage.config import BUNDLED, ProbeConfig, StatusConfig
from statuspage.db import Database
from statuspage.evaluation import ComponentEvaluation, evaluate_component
from statuspage.inputs import finite
from statuspage.models import AgentToken, Component, utcnow
from statuspage.store import drafts, probe_results
from statuspage.store.components import set_measured_status

__all__ = [
    "DatabaseSink",
    "agent_results_per_minute",
    "LOCAL",
    "MAX_CLOCK_SKEW",
    "ResultRejected",
    "authenticate_agent",
    "build_specs",
    "check_results",
    "component_map",
    "create_agent_token",
    "list_agent_tokens",
    "needs_bundled",
    "overview",
    "revoke_agent_token",
    "evaluate_components",
    "spec_for",
    "store_results",
]

log = logging.getLogger(__name__)

#: The location name of this host's own scheduler; agents must use another.
LOCAL = "local"
_LOCATION = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_TOKEN_PREFIX = "spa_"  # noqa: S105 - a recognisable prefix, not a secret


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
    samples = probe_results.window_samples(session, [p.name for p in config.probes], since)
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


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_agent_token(session: Session, location: str) -> str:
    """A new agent token for ``location``; only its SHA-256 is stored, so show it once."""
    if not _LOCATION.match(location) or location == LOCAL:
        raise ValueError("location: lowercase letters, digits, '-' or '_' (and not 'local', "
                         "which is this host's own scheduler)")
    token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(AgentToken(location=location, token_sha256=_digest(token)))
    return token


def authenticate_agent(session: Session, token: str) -> str | None:
    """The location of a valid, unrevoked agent token, else None."""
    row = session.scalars(sa.select(AgentToken).where(
        AgentToken.token_sha256 == _digest(token), AgentToken.revoked_at.is_(None))).first()
    if row is None:
        return None
    now = utcnow()
    # one write a minute at most, not one per push
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        row.last_used_at = now
    return row.location


def list_agent_tokens(session: Session) -> list[AgentToken]:
    """Every agent token (digests only), newest first."""
    return list(session.scalars(sa.select(AgentToken).order_by(AgentToken.id.desc())))


def revoke_agent_token(session: Session, token_id: int) -> bool:
    """Revoke one token; returns whether it existed and was active."""
    row = session.get(AgentToken, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def overview(session: Session, config: StatusConfig,
             now: datetime | None = None) -> list[dict[str, object]]:
    """Every configured probe with its locations, last results and latency summaries.

    Reads a bounded number of rows: hour rollups to find the locations, one raw row per
    location for the last result, 5-6 minute rollups and 24-25 hour rollups per probe.
    """
    now = now or utcnow()
    names = [p.name for p in config.probes]
    recent = now - timedelta(days=config.retention.raw_days)
    last = probe_results.last_results(session, names, recent)
    items: list[dict[str, object]] = []
    for probe in config.probes:
        rows = sorted((row for (name, _), row in last.items() if name == probe.name),
                      key=lambda r: r.location)
        summaries = {}
        for label, period, since in (("5m", "minute", now - timedelta(minutes=5)),
                                     ("24h", "hour", now - timedelta(hours=24))):
            summary = probe_results.latency_summary(session, probe.name, period=period,
                                                    since=since)
            summaries[label] = {
                "count": summary.count, "success_rate": summary.success_rate,
                "p50_ms": _round(summary.p50_ms), "p95_ms": _round(summary.p95_ms),
            }
        items.append({
            "name": probe.name,
            "kind": probe.kind,
            "component": probe.component,
            "target": _public_target(probe.target),
            "interval_s": probe.interval_s,
            "timeout_s": probe.timeout_s,
            "latency_budget_ms": probe.latency_budget_ms,
            "locations": [r.location for r in rows],
            "last_results": [{
                "location": r.location, "started_at": r.started_at.isoformat(),
                "outcome": r.outcome, "error_class": r.error_class, "message": r.message,
                "total_ms": _round(r.total_ms), "phases": r.phases,
            } for r in rows],
            "latency": summaries,
        })
    return items


def _round(value: float | None) -> float | None:
    # finite(): a figure stored before input was bounded shows as unknown, never "Infinity"
    number = finite(value)
    return None if number is None else round(number, 1)


def _public_target(target: str) -> str:
    """A target URL without any user:password part ("bundled" stays as is)."""
    parts = urlsplit(target)
    if "@" not in parts.netloc:
        return target
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
