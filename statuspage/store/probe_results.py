"""Probe measurements: record raw results, keep minute/hour/day rollups, prune, summarise
(``probes_overview`` for ``/api/v1/probes``, ``day_totals`` for the ``/metrics`` collector).

Local results (this worker's scheduler) and pushed results (remote agents, through any web
process) are written by the same verb, ``record_results``, in the caller's transaction. Rollups
are upserted in that same transaction, so they never disagree with the raw rows; the upsert is
"insert if missing, lock the row, add" which is safe with many concurrent writers on PostgreSQL
(row locks, keys taken in sorted order so two writers cannot deadlock) and on SQLite (one writer
at a time). Minute and hour buckets are UTC-aligned; day buckets start at midnight in the page's
time zone (stored as the UTC instant of that midnight), so "2 December" is the applicants' day
(``store.day_zone`` converts existing day rollups when the zone changes).

Reading verbs touch a bounded number of rows whatever the history length: summaries read
rollups, and only the evaluation window reads raw results.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol, cast
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from statuspage import histogram
from statuspage.config import RetentionConfig, StatusConfig
from statuspage.db import bump_changes
from statuspage.inputs import finite, strip_text
from statuspage.models import ProbeMark, ProbeResultRow, ProbeRollup, utcnow

__all__ = [
    "FLUSH_MARK",
    "LatencySummary",
    "ProbeTotals",
    "ResultLike",
    "Sample",
    "bucket_start",
    "day_totals",
    "flush_rollups",
    "last_results",
    "latency_summary",
    "probe_locations",
    "probes_overview",
    "prune",
    "record_results",
    "window_samples",
]

log = logging.getLogger(__name__)

FLUSH_MARK = "rollups_flushed_id"
OUTCOMES = ("ok", "degraded", "failed")
_KEY = ("probe", "location", "period", "bucket_start")


class ResultLike(Protocol):
    """What ``record_results`` needs of a result (``probes.ProbeResult`` fits)."""

    @property
    def probe(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def started_at(self) -> datetime: ...

    @property
    def outcome(self) -> str: ...

    @property
    def total_ms(self) -> float: ...

    @property
    def phases(self) -> Mapping[str, float]: ...

    @property
    def error_class(self) -> str | None: ...

    @property
    def message(self) -> str | None: ...

    @property
    def location(self) -> str: ...


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


@dataclass
class _Aggregate:
    component_id: str
    count: int = 0
    ok: int = 0
    degraded: int = 0
    failed: int = 0
    latency_sum_ms: float = 0.0
    latency_max_ms: float = 0.0
    histogram: list[int] = field(default_factory=histogram.empty)


def bucket_start(at: datetime, period: str, zone: tzinfo = UTC) -> datetime:
    """The start (UTC) of the ``period`` ("minute", "hour", "day") bucket holding ``at``.

    A day starts at midnight in ``zone`` (the page's time zone): in Jakarta the bucket of
    2 December 02.00 WIB starts on 1 December at 17.00 UTC.
    """
    if period == "minute":
        return at.replace(second=0, microsecond=0)
    if period == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    if period == "day":
        local = at.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        return local.astimezone(UTC)
    raise ValueError(f"unknown rollup period {period!r}")


def record_results(session: Session, results: Iterable[ResultLike],
                   component_of: Mapping[str, str], zone: tzinfo = UTC) -> int:
    """Store raw results and add them to their minute, hour and day rollups.

    ``component_of`` maps probe name to component id; the caller has validated the names.
    ``zone`` is the page's time zone, where days begin. No change-counter bump here:
    ``flush_rollups`` announces new rollups once per flush.
    """
    rows: list[dict[str, Any]] = []
    aggregates: dict[tuple[str, str, str, datetime], _Aggregate] = {}
    for result in results:
        component = component_of[result.probe]
        started = result.started_at
        # error texts quote whatever a failing service said: kept, minus control characters
        rows.append({
            "probe": result.probe, "kind": result.kind, "component_id": component,
            "location": result.location, "started_at": started, "outcome": result.outcome,
            "error_class": _quoted(result.error_class), "message": _quoted(result.message),
            "total_ms": float(result.total_ms),
            "phases": {strip_text(k): float(v) for k, v in result.phases.items()},
        })
        for period in ("minute", "hour", "day"):
            key = (result.probe, result.location, period, bucket_start(started, period, zone))
            agg = aggregates.setdefault(key, _Aggregate(component))
            agg.count += 1
            if result.outcome in OUTCOMES:
                setattr(agg, result.outcome, getattr(agg, result.outcome) + 1)
            agg.latency_sum_ms += float(result.total_ms)
            agg.latency_max_ms = max(agg.latency_max_ms, float(result.total_ms))
            histogram.add(agg.histogram, result.total_ms)
    if not rows:
        return 0
    session.execute(sa.insert(ProbeResultRow), rows)
    _upsert_rollups(session, aggregates)
    return len(rows)


def _quoted(text: str | None) -> str | None:
    return None if text is None else strip_text(text)


def _upsert_rollups(session: Session,
                    aggregates: Mapping[tuple[str, str, str, datetime], _Aggregate]) -> None:
    table = cast(sa.Table, ProbeRollup.__table__)
    insert_fn = _insert_for(session)
    # sorted keys: concurrent writers lock rows in the same order and cannot deadlock
    for key in sorted(aggregates):
        probe, location, period, start = key
        agg = aggregates[key]
        ensure = insert_fn(table).values(
            probe=probe, location=location, period=period, bucket_start=start,
            component_id=agg.component_id, count=0, ok=0, degraded=0, failed=0,
            latency_sum_ms=0.0, latency_max_ms=0.0, histogram=histogram.empty(),
        ).on_conflict_do_nothing(index_elements=list(_KEY))
        session.execute(ensure)
        where = sa.and_(table.c.probe == probe, table.c.location == location,
                        table.c.period == period, table.c.bucket_start == start)
        current = session.execute(
            sa.select(table.c.id, table.c.latency_max_ms, table.c.histogram).where(where)
            .with_for_update()
        ).one()
        session.execute(
            sa.update(table).where(table.c.id == current.id).values(
                count=table.c.count + agg.count,
                ok=table.c.ok + agg.ok,
                degraded=table.c.degraded + agg.degraded,
                failed=table.c.failed + agg.failed,
                latency_sum_ms=table.c.latency_sum_ms + agg.latency_sum_ms,
                latency_max_ms=max(float(current.latency_max_ms), agg.latency_max_ms),
                histogram=histogram.merge([current.histogram, agg.histogram]),
            )
        )


def flush_rollups(session: Session) -> bool:
    """Bump the change counter once if results arrived since the last flush; return whether.

    Pages cache rendered bytes until the counter moves; calling this every minute keeps the
    charts at most a minute behind without re-rendering the page for every probe result.
    """
    newest = session.scalar(sa.select(sa.func.max(ProbeResultRow.id)))
    if newest is None:
        return False
    table = cast(sa.Table, ProbeMark.__table__)
    # the row is created by whichever flusher comes first; the others lock and read it
    session.execute(_insert_for(session)(table).values(name=FLUSH_MARK, value=0,
                                                        updated_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["name"]))
    seen = session.scalar(sa.select(table.c.value).where(table.c.name == FLUSH_MARK)
                          .with_for_update())
    if seen is not None and seen >= newest:
        return False
    session.execute(sa.update(table).where(table.c.name == FLUSH_MARK)
                    .values(value=int(newest), updated_at=utcnow()))
    bump_changes(session)
    return True


def _insert_for(session: Session) -> Any:
    """The dialect's INSERT construct (both offer ``on_conflict_do_nothing``)."""
    name = session.get_bind().dialect.name
    return postgresql.insert if name == "postgresql" else sqlite.insert


def prune(session: Session, retention: RetentionConfig,
          now: datetime | None = None,
          keep: Sequence[tuple[datetime, datetime]] = ()) -> dict[str, int]:
    """Delete raw results and minute/hour rollups past their retention; day rollups stay.

    Evidence is never erased: raw results inside a ``keep`` window (a deadline whose notice is
    not final, see statuspage.store.evidence_import) and imported results stay.
    """
    now = now or utcnow()
    raw = sa.delete(ProbeResultRow).where(
        ProbeResultRow.started_at < now - timedelta(days=retention.raw_days),
        ProbeResultRow.source.is_(None))
    for start, end in keep:
        raw = raw.where(sa.not_(sa.and_(ProbeResultRow.started_at >= start,
                                        ProbeResultRow.started_at < end)))
    statements: dict[str, sa.Delete] = {"raw": raw}
    for period, days in (("minute", retention.minute_days), ("hour", retention.hour_days)):
        statements[period] = sa.delete(ProbeRollup).where(
            ProbeRollup.period == period, ProbeRollup.bucket_start < now - timedelta(days=days))
    deleted: dict[str, int] = {}
    for name, statement in statements.items():
        result: Any = session.execute(statement)
        deleted[name] = int(result.rowcount or 0)
    return deleted


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
