"""Deadline impact from the recorded status history (see statuspage.impact for the rules)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.config import DeadlineConfig
from statuspage.impact import DeadlineImpact, Episode, StatusChange, deadline_impact
from statuspage.models import ComponentStatusChange, Incident, IncidentComponent, ProbeRollup

__all__ = ["evidence_start", "impact_for_deadline", "incidents_in_window"]

SOURCES = ("measured", "declared")


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
    for cid in deadline.components:
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
    since = evidence_start(session, deadline.components) or deadline.at
    total = deadline_impact(changes, keys(deadline.components), deadline.at, window, now=now,
                            initial=initial, measured_from=since)
    per_component = {
        cid: deadline_impact(changes, keys((cid,)), deadline.at, window, now=now,
                             initial=initial, measured_from=since).lost
        for cid in deadline.components
    }
    episodes = tuple(
        Episode(e.start, e.end, e.status, tuple(sorted({c.split(":", 1)[0] for c in e.components})))
        for e in total.episodes
    )
    return replace(total, per_component_lost=per_component, episodes=episodes)


def evidence_start(session: Session, components: tuple[str, ...]) -> datetime | None:
    """When recorded evidence about these components begins: the first day of probe data or
    the first recorded status change, whichever is earlier (None when there is none)."""
    first_rollup = session.scalar(
        sa.select(sa.func.min(ProbeRollup.bucket_start))
        .where(ProbeRollup.component_id.in_(components), ProbeRollup.period == "day"))
    first_change = session.scalar(
        sa.select(sa.func.min(ComponentStatusChange.at))
        .where(ComponentStatusChange.component_id.in_(components)))
    found = [value for value in (first_rollup, first_change) if value is not None]
    # min() over a UTCDateTime column comes back without the type's processing on SQLite
    return min(v if v.tzinfo else v.replace(tzinfo=UTC) for v in found) if found else None


def incidents_in_window(session: Session, deadline: DeadlineConfig) -> list[Incident]:
    """Published incidents that touched the deadline's components during its window."""
    start = deadline.at - deadline.window_days_delta
    affecting = sa.select(IncidentComponent.incident_id).where(
        IncidentComponent.component_id.in_(deadline.components))
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
