"""Deadline evidence read from the database: raw probe results for the evidence engine, and
the declared-status weighted loss from the recorded status history (statuspage.impact).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.config import NoticesConfig
from statuspage.evidence import Evidence, EvidencePolicy, Sample, Window, evaluate
from statuspage.impact import DeadlineImpact, Episode, StatusChange, deadline_impact
from statuspage.models import (
    Component,
    ComponentStatusChange,
    Deadline,
    Incident,
    IncidentComponent,
    ProbeResultRow,
    ProbeRollup,
)

__all__ = ["current_statuses", "evidence_for", "evidence_start", "impact_for_deadline",
           "incidents_in_window", "raw_rows", "read_samples", "window_of"]

SOURCES = ("measured", "declared")
#: Raw results read for one evaluation at most (7 days x 2 components x 4 locations x 2/min is
#: about 160,000); beyond it the evaluation is refused rather than left to run unbounded.
MAX_SAMPLES = 500_000


class DeadlineConfig(Protocol):
    """What the impact reads of a deadline (a ``Deadline`` row or the config entry)."""

    @property
    def at(self) -> datetime: ...

    @property
    def components(self) -> Sequence[str]: ...

    @property
    def window_days_delta(self) -> timedelta: ...


def window_of(deadline: Deadline) -> Window:
    """The evaluated window: the critical days before the first closing, up to the effective
    closing (an extension lengthens it)."""
    return Window(start=deadline.closes_at - timedelta(days=deadline.window_days),
                  end=deadline.effective_close, closes_at=deadline.closes_at,
                  components=tuple(deadline.components), time_zone=deadline.time_zone,
                  opened_at=deadline.opened_at, legal_min_days=deadline.legal_min_days)


def read_samples(session: Session, components: Sequence[str], start: datetime, end: datetime
                 ) -> tuple[list[Sample], list[str]]:
    """Raw results of ``components`` in [start, end), all locations, and their import sources."""
    rows = session.execute(
        sa.select(ProbeResultRow.component_id, ProbeResultRow.location,
                  _epoch(session, ProbeResultRow.started_at), ProbeResultRow.outcome,
                  ProbeResultRow.total_ms, ProbeResultRow.source)
        .where(ProbeResultRow.component_id.in_(list(components)),
               ProbeResultRow.started_at >= start, ProbeResultRow.started_at < end)
        .limit(MAX_SAMPLES + 1))
    samples: list[Sample] = []
    sources: set[str] = set()
    stamp = datetime.fromtimestamp
    for cid, location, epoch, outcome, total_ms, source in rows:
        # millisecond precision is plenty for 5-minute intervals, and epoch floats skip the
        # slow per-row date parsing (a week of results is ~100,000 rows per evaluation)
        samples.append(Sample(cid, location, stamp(round(float(epoch), 3), UTC), outcome,
                              total_ms))
        if source:
            sources.add(source)
    if len(samples) > MAX_SAMPLES:
        raise ValueError(f"more than {MAX_SAMPLES} raw results in the window")
    return samples, sorted(sources)


def _epoch(session: Session, column: Any) -> Any:
    """Seconds since 1970 of a naive-UTC timestamp column, computed by the database."""
    if session.get_bind().dialect.name == "sqlite":
        return (sa.func.julianday(column) - 2440587.5) * 86400.0
    return sa.extract("epoch", column)


def raw_rows(session: Session, components: Sequence[str], start: datetime, end: datetime
             ) -> list[ProbeResultRow]:
    """The raw results behind a notice, oldest first (bounded like ``read_samples``)."""
    return list(session.scalars(
        sa.select(ProbeResultRow)
        .where(ProbeResultRow.component_id.in_(list(components)),
               ProbeResultRow.started_at >= start, ProbeResultRow.started_at < end)
        .order_by(ProbeResultRow.started_at, ProbeResultRow.id).limit(MAX_SAMPLES)))


def _maintenance(session: Session, components: Sequence[str], start: datetime, end: datetime
                 ) -> list[tuple[datetime, datetime]]:
    affecting = sa.select(IncidentComponent.incident_id).where(
        IncidentComponent.component_id.in_(list(components)))
    rows = session.execute(sa.select(Incident.scheduled_for, Incident.scheduled_until).where(
        Incident.kind == "maintenance", Incident.id.in_(affecting),
        Incident.scheduled_for < end, Incident.scheduled_until > start).limit(500))
    return [(a, b) for a, b in rows if a is not None and b is not None]


def current_statuses(session: Session, components: Sequence[str]) -> dict[str, str]:
    """Each component's measured status, made worse by any open published incident."""
    from statuspage.status import worst

    current: dict[str, str] = {
        cid: status for cid, status in session.execute(
            sa.select(Component.id, Component.measured_status)
            .where(Component.id.in_(list(components))))}
    declared = session.execute(
        sa.select(IncidentComponent.component_id, IncidentComponent.status)
        .join(Incident, Incident.id == IncidentComponent.incident_id)
        .where(IncidentComponent.component_id.in_(list(components)),
               Incident.kind == "incident", Incident.is_draft.is_(False),
               Incident.resolved_at.is_(None)))
    for cid, status in declared:
        current[cid] = worst((current.get(cid, "operational"), status))
    return current


def evidence_for(session: Session, deadline: Deadline, now: datetime,
                 notices: NoticesConfig = NoticesConfig()) -> Evidence:
    """Every figure of the deadline's notice as of ``now`` (see statuspage.evidence)."""
    window = window_of(deadline)
    until = min(now, window.end)
    samples, sources = read_samples(session, window.components, window.start, until)
    policy = EvidencePolicy(
        patience_s=deadline.patience_s,
        at_risk_after=timedelta(hours=notices.at_risk_hours),
        extension_after=timedelta(hours=notices.extension_after_hours),
        demand_profile=tuple(deadline.demand_profile) if deadline.demand_profile else None)
    declared = impact_for_deadline(session, deadline, now)
    current = current_statuses(session, window.components) if now < window.end else {}
    return evaluate(samples, window, now, policy=policy,
                    maintenance=_maintenance(session, window.components, window.start, until),
                    current=current,
                    declared_lost=declared.lost if declared.coverage > 0 else None,
                    sources=sources)


def impact_for_deadline(session: Session, deadline: DeadlineConfig, now: datetime
                        ) -> DeadlineImpact:
    """The impact of the recorded statuses on ``deadline``, as of ``now``.

    Measured and declared statuses are recorded separately and the page showed the worse of the
    two, so each (component, source) is a timeline of its own and the combination takes the
    worst. Reads are bounded by the number of status changes in the window.
    """
    window = deadline.window_days_delta
    start = deadline.at - window
    changes: list[StatusChange] = []
    initial: dict[str, str] = {}
    components = tuple(deadline.components)
    for cid in components:
        for source in SOURCES:
            key = f"{cid}:{source}"
            of_key = (ComponentStatusChange.component_id == cid,
                      ComponentStatusChange.source == source)
            before = session.scalars(
                sa.select(ComponentStatusChange.status).where(*of_key,
                                                              ComponentStatusChange.at <= start)
                .order_by(ComponentStatusChange.at.desc()).limit(1)
            ).first()
            if before is not None:
                initial[key] = before
            rows = session.execute(
                sa.select(ComponentStatusChange.status, ComponentStatusChange.at)
                .where(*of_key, ComponentStatusChange.at > start,
                       ComponentStatusChange.at <= deadline.at)
                .order_by(ComponentStatusChange.at)
            )
            changes.extend(StatusChange(key, status, at) for status, at in rows)

    def keys(cids: tuple[str, ...]) -> list[str]:
        return [f"{cid}:{source}" for cid in cids for source in SOURCES]

    # no evidence at all: nothing is known, which is not the same as "nothing was lost"
    since = evidence_start(session, components) or deadline.at
    total = deadline_impact(changes, keys(components), deadline.at, window, now=now,
                            initial=initial, measured_from=since)
    per_component = {
        cid: deadline_impact(changes, keys((cid,)), deadline.at, window, now=now,
                             initial=initial, measured_from=since).lost
        for cid in components
    }
    episodes = tuple(
        Episode(e.start, e.end, e.status, tuple(sorted({c.split(":", 1)[0] for c in e.components})))
        for e in total.episodes
    )
    return replace(total, per_component_lost=per_component, episodes=episodes)


def evidence_start(session: Session, components: Sequence[str]) -> datetime | None:
    """When recorded evidence about these components begins: the first day of probe data or
    the first recorded status change, whichever is earlier (None when there is none)."""
    first_rollup = session.scalar(
        sa.select(sa.func.min(ProbeRollup.bucket_start))
        .where(ProbeRollup.component_id.in_(list(components)), ProbeRollup.period == "day"))
    first_change = session.scalar(
        sa.select(sa.func.min(ComponentStatusChange.at))
        .where(ComponentStatusChange.component_id.in_(list(components))))
    found = [value for value in (first_rollup, first_change) if value is not None]
    # min() over a UTCDateTime column comes back without the type's processing on SQLite
    return min(v if v.tzinfo else v.replace(tzinfo=UTC) for v in found) if found else None


def incidents_in_window(session: Session, deadline: DeadlineConfig) -> list[Incident]:
    """Published incidents that touched the deadline's components during its window."""
    start = deadline.at - deadline.window_days_delta
    affecting = sa.select(IncidentComponent.incident_id).where(
        IncidentComponent.component_id.in_(list(deadline.components)))
    query = (
        sa.select(Incident)
        .where(Incident.kind == "incident", Incident.is_draft.is_(False),
               Incident.id.in_(affecting),
               Incident.started_at <= deadline.at,
               sa.or_(Incident.resolved_at.is_(None), Incident.resolved_at >= start))
        .order_by(Incident.started_at)
        .limit(50)
    )
    return list(session.scalars(query))
