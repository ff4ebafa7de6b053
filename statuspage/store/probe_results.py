"""Probe measurements written: record raw results, keep minute/hour/day rollups, flush, prune.
(Reading them, summaries and the overview, is ``statuspage.store.probe_queries``.)

Local results (this worker's scheduler) and pushed results (remote agents, through any web
process) are written by the same verb, ``record_results``, in the caller's transaction. Rollups
are upserted in that same transaction, so they never disagree with the raw rows; the upsert is
"insert if missing, lock the row, add" which is safe with many concurrent writers on PostgreSQL
(row locks, keys taken in sorted order so two writers cannot deadlock) and on SQLite (one writer
at a time). Minute and hour buckets are UTC-aligned; day buckets start at midnight in the page's
time zone (stored as the UTC instant of that midnight), so "2 December" is the applicants' day
(``store.day_zone`` converts existing day rollups when the zone changes).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from statuspage import histogram
from statuspage.config import RetentionConfig
from statuspage.db import bump_changes
from statuspage.inputs import strip_text
from statuspage.models import ProbeMark, ProbeResultRow, ProbeRollup, utcnow

__all__ = [
    "FLUSH_MARK",
    "ResultLike",
    "bucket_start",
    "flush_rollups",
    "prune",
    "record_results",
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
