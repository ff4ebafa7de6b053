"""Reading probe measurements: raw samples for the evaluation window, the last result per
location, latency summaries from rollups, ``probes_overview`` for ``/api/v1/probes`` and
``day_totals`` for the ``/metrics`` collector.

Every verb touches a bounded number of rows whatever the history length: summaries read
rollups, and only the evaluation window reads raw results (written by
``statuspage.store.probe_results``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage import histogram
from statuspage.config import StatusConfig
from statuspage.inputs import finite
from statuspage.models import ProbeResultRow, ProbeRollup, utcnow
from statuspage.store.probe_results import bucket_start

__all__ = [
    "LatencySummary",
    "ProbeTotals",
    "Sample",
    "day_totals",
    "last_results",
    "latency_summary",
    "probe_locations",
    "probes_overview",
    "window_samples",
]


@dataclass(frozen=True)
class Sample:
    """One raw result as the evaluation rules see it."""

    probe: str
    location: str
    started_at: datetime
    outcome: str
    total_ms: float
    error_class: str | None = None


@dataclass(frozen=True)
class LatencySummary:
    """Counts and latency percentiles over a period, from rollup histograms."""

    count: int = 0
    ok: int = 0
    degraded: int = 0
    failed: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    mean_ms: float | None = None

    @property
    def success_rate(self) -> float | None:
        """Share of runs that did not fail (None without runs)."""
        return None if self.count == 0 else (self.ok + self.degraded) / self.count


def window_samples(session: Session, probes: Sequence[str], since: datetime) -> list[Sample]:
    """Raw results of ``probes`` started at or after ``since``, oldest first."""
    if not probes:
        return []
    rows = session.execute(
        sa.select(ProbeResultRow.probe, ProbeResultRow.location, ProbeResultRow.started_at,
                  ProbeResultRow.outcome, ProbeResultRow.total_ms, ProbeResultRow.error_class)
        .where(ProbeResultRow.probe.in_(list(probes)), ProbeResultRow.started_at >= since)
        .order_by(ProbeResultRow.started_at, ProbeResultRow.id)
    )
    return [Sample(r.probe, r.location, r.started_at, r.outcome, float(r.total_ms),
                   r.error_class) for r in rows]


def probe_locations(session: Session, probes: Sequence[str],
                    since: datetime) -> dict[str, list[str]]:
    """The locations each probe reported from since ``since`` (read from hour rollups)."""
    if not probes:
        return {}
    rows = session.execute(
        sa.select(ProbeRollup.probe, ProbeRollup.location).distinct()
        .where(ProbeRollup.probe.in_(list(probes)), ProbeRollup.period == "hour",
               ProbeRollup.bucket_start >= bucket_start(since, "hour"))
    )
    found: dict[str, list[str]] = {}
    for probe, location in rows:
        found.setdefault(probe, []).append(location)
    return {probe: sorted(locations) for probe, locations in found.items()}


def last_results(session: Session, probes: Sequence[str],
                 since: datetime) -> dict[tuple[str, str], ProbeResultRow]:
    """The newest raw result per (probe, location) among those reported since ``since``."""
    latest: dict[tuple[str, str], ProbeResultRow] = {}
    for probe, locations in probe_locations(session, probes, since).items():
        for location in locations:
            row = session.scalars(
                sa.select(ProbeResultRow)
                .where(ProbeResultRow.probe == probe, ProbeResultRow.location == location,
                       ProbeResultRow.started_at >= since)
                .order_by(ProbeResultRow.started_at.desc(), ProbeResultRow.id.desc()).limit(1)
            ).first()
            if row is not None:
                latest[(probe, location)] = row
    return latest


def latency_summary(session: Session, probe: str, *, period: str, since: datetime,
                    locations: Sequence[str] | None = None) -> LatencySummary:
    """Counts and p50/p95 of ``probe`` from ``period`` rollups starting at or after ``since``.

    ``since`` is floored to the period, so "last 5 minutes" reads 5-6 minute rows and "last 24
    hours" 24-25 hour rows, whatever the history length.
    """
    # labelled: a result Row is a tuple, whose .count is the tuple method, not the column
    query = sa.select(ProbeRollup.count.label("n"), ProbeRollup.ok, ProbeRollup.degraded,
                      ProbeRollup.failed, ProbeRollup.latency_sum_ms, ProbeRollup.latency_max_ms,
                      ProbeRollup.histogram).where(
        ProbeRollup.probe == probe, ProbeRollup.period == period,
        ProbeRollup.bucket_start >= bucket_start(since, period))
    if locations is not None:
        query = query.where(ProbeRollup.location.in_(list(locations)))
    rows = session.execute(query).all()
    count = sum(r.n for r in rows)
    if count == 0:
        return LatencySummary()
    merged = histogram.merge(r.histogram for r in rows)
    top = max(float(r.latency_max_ms) for r in rows)
    return LatencySummary(
        count=count, ok=sum(r.ok for r in rows), degraded=sum(r.degraded for r in rows),
        failed=sum(r.failed for r in rows),
        p50_ms=histogram.percentile(merged, 0.5, max_ms=top),
        p95_ms=histogram.percentile(merged, 0.95, max_ms=top),
        mean_ms=sum(float(r.latency_sum_ms) for r in rows) / count,
    )


def probes_overview(session: Session, config: StatusConfig,
                    now: datetime | None = None) -> list[dict[str, object]]:
    """Every configured probe with its locations, last results and latency summaries.

    Reads a bounded number of rows: hour rollups to find the locations, one raw row per
    location for the last result, 5-6 minute rollups and 24-25 hour rollups per probe.
    """
    now = now or utcnow()
    last = last_results(session, [p.name for p in config.probes],
                        now - timedelta(days=config.retention.raw_days))
    items: list[dict[str, object]] = []
    for probe in config.probes:
        rows = sorted((row for (name, _), row in last.items() if name == probe.name),
                      key=lambda r: r.location)
        summaries = {}
        for label, period, since in (("5m", "minute", now - timedelta(minutes=5)),
                                     ("24h", "hour", now - timedelta(hours=24))):
            summary = latency_summary(session, probe.name, period=period, since=since)
            summaries[label] = {
                "count": summary.count, "success_rate": summary.success_rate,
                "p50_ms": _round(summary.p50_ms), "p95_ms": _round(summary.p95_ms),
            }
        items.append({
            "name": probe.name, "kind": probe.kind, "component": probe.component,
            "target": _public_target(probe.target), "interval_s": probe.interval_s,
            "timeout_s": probe.timeout_s, "latency_budget_ms": probe.latency_budget_ms,
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


@dataclass
class ProbeTotals:
    """Outcome counts, latency sum and histogram of one (probe, location), summed over days."""

    ok: int = 0
    degraded: int = 0
    failed: int = 0
    latency_sum_ms: float = 0.0
    #: Latency counts per ``statuspage.histogram.BUCKETS`` bound.
    buckets: list[int] = field(default_factory=histogram.empty)

    def merge(self, other: ProbeTotals) -> None:
        """Add ``other``'s counts to these."""
        self.ok += other.ok
        self.degraded += other.degraded
        self.failed += other.failed
        self.latency_sum_ms += other.latency_sum_ms
        self.buckets = histogram.merge([self.buckets, other.buckets])


def day_totals(session: Session, *, before: datetime | None = None,
               since: datetime | None = None) -> dict[tuple[str, str], ProbeTotals]:
    """Day rollups summed per (probe, location), for buckets before and/or since a day start."""
    query = sa.select(ProbeRollup.probe, ProbeRollup.location, ProbeRollup.ok,
                      ProbeRollup.degraded, ProbeRollup.failed, ProbeRollup.latency_sum_ms,
                      ProbeRollup.histogram).where(ProbeRollup.period == "day")
    if before is not None:
        query = query.where(ProbeRollup.bucket_start < before)
    if since is not None:
        query = query.where(ProbeRollup.bucket_start >= since)
    totals: dict[tuple[str, str], ProbeTotals] = {}
    for row in session.execute(query):
        totals.setdefault((row.probe, row.location), ProbeTotals()).merge(ProbeTotals(
            row.ok, row.degraded, row.failed, float(row.latency_sum_ms), row.histogram))
    return totals
