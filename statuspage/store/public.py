"""Read verbs for the public page, the Statuspage-compatible API and the feeds.

Every verb takes a ``Session`` first and returns frozen plain values (no ORM objects escape, so
rendering can happen after the session closes). Reads are bounded: the page reads one aggregate
row per component and day (90 days) and per component and hour (24 hours) from the rollups,
however long the history is, and at most a fixed number of incidents.

Drafts (``is_draft``) are never returned by anything in this module.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from statuspage.config import StatusConfig
from statuspage.impact import StatusChange, status_timeline
from statuspage.inputs import finite
from statuspage.models import (
    ChangeCounter,
    Component,
    ComponentStatusChange,
    Incident,
    IncidentComponent,
    PageMarker,
    ProbeRollup,
)
from statuspage.models.public import SAMPLE_DATA_MARKER
from statuspage.status import (
    ACTIVE_MAINTENANCE,
    OPEN_INCIDENT_STATUSES,
    UNCONFIRMED_STATUSES,
    day_level,
    page_indicator,
    shown_status,
)
from statuspage.store.attempts import last_attempts
from statuspage.store.public_views import (
    ComponentView,
    DayUptime,
    GroupView,
    HistoryPage,
    IncidentRef,
    IncidentView,
    PageData,
    UpdateView,
    group_id,
    measurement_notes,
    page_id,
)
from statuspage.uptime import service_by_day

__all__ = [
    "DAYS",
    "ComponentView",
    "DayUptime",
    "GroupView",
    "HistoryPage",
    "IncidentRef",
    "IncidentView",
    "PageData",
    "UpdateView",
    "component_incidents",
    "day_level",
    "group_id",
    "history_page",
    "incident_detail",
    "page_data",
    "page_id",
    "recent_incidents",
    "sample_data",
]

DAYS = 90
HOURS = 24
_INCIDENTS_PER_DAY_LIMIT = 500
#: Measured status changes read for the 90 days (a flapping component cannot make it unbounded).
_STATUS_CHANGES_LIMIT = 20_000


def _published() -> sa.ColumnElement[bool]:
    return Incident.is_draft.is_(False)


def _with_children() -> tuple[object, ...]:
    return (selectinload(Incident.updates), selectinload(Incident.components))


def _view(incident: Incident, names: dict[str, str]) -> IncidentView:
    updates = tuple(
        UpdateView(u.id, u.incident_id, u.status, u.body, u.created_at, u.updated_at,
                   u.display_at, tuple(dict(a) for a in (u.affected_components or ())),
                   bool(u.notify))
        for u in sorted(incident.updates, key=lambda u: u.display_at, reverse=True)
    )
    comps = tuple((ic.component_id, names.get(ic.component_id, ic.component_id), ic.status)
                  for ic in sorted(incident.components, key=lambda ic: ic.component_id))
    return IncidentView(
        incident.id, incident.kind, incident.name, incident.status, incident.impact,
        incident.created_at, incident.updated_at, incident.started_at, incident.monitoring_at,
        incident.resolved_at, incident.scheduled_for, incident.scheduled_until, updates, comps,
        incident.postmortem_body if incident.postmortem_published_at else None,
        incident.postmortem_published_at,
    )


def _component_names(session: Session) -> dict[str, str]:
    return dict(session.execute(sa.select(Component.id, Component.name)).all())


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def _service_days(session: Session, first: date, today: date, zone: ZoneInfo, now: datetime
                  ) -> dict[str, dict[date, tuple[float, float]]]:
    """(measured s, served s) per component and local day, from the evaluated status.

    Bounded reads: one aggregate row per component and day (which days probes ran), the first
    hour rollup per component (when measurements began), and the measured status changes of
    the window plus the last one before it.
    """
    since = _day_start(first, zone)
    measured_days: dict[str, set[date]] = defaultdict(set)
    for cid, start, count in session.execute(
            sa.select(ProbeRollup.component_id, ProbeRollup.bucket_start,
                      sa.func.sum(ProbeRollup.count))
            .where(ProbeRollup.period == "day", ProbeRollup.bucket_start >= since,
                   ProbeRollup.bucket_start <= now)
            .group_by(ProbeRollup.component_id, ProbeRollup.bucket_start)):
        if count:
            measured_days[cid].add(start.astimezone(zone).date())
    if not measured_days:
        return {}
    # typed, so SQLite hands back an aware datetime like the column does
    first_at = sa.func.min(ProbeRollup.bucket_start, type_=ProbeRollup.bucket_start.type)
    began = dict(session.execute(
        sa.select(ProbeRollup.component_id, first_at)
        .where(ProbeRollup.period.in_(("hour", "day")))
        .group_by(ProbeRollup.component_id)).all())
    measured = ComponentStatusChange.source == "measured"
    before = (sa.select(ComponentStatusChange.component_id,
                        sa.func.max(ComponentStatusChange.at).label("at"))
              .where(measured, ComponentStatusChange.at < since)
              .group_by(ComponentStatusChange.component_id).subquery())
    changes = [StatusChange(cid, status, at) for cid, status, at in session.execute(
        sa.select(ComponentStatusChange.component_id, ComponentStatusChange.status,
                  ComponentStatusChange.at)
        .join(before, sa.and_(before.c.component_id == ComponentStatusChange.component_id,
                              before.c.at == ComponentStatusChange.at))
        .where(measured))]
    changes += [StatusChange(cid, status, at) for cid, status, at in session.execute(
        sa.select(ComponentStatusChange.component_id, ComponentStatusChange.status,
                  ComponentStatusChange.at)
        .where(measured, ComponentStatusChange.at >= since, ComponentStatusChange.at <= now)
        .order_by(ComponentStatusChange.at).limit(_STATUS_CHANGES_LIMIT))]
    days = [first + timedelta(days=i) for i in range((today - first).days + 1)]
    result: dict[str, dict[date, tuple[float, float]]] = {}
    for cid, seen in measured_days.items():
        steps = status_timeline(changes, cid, since, now)
        result[cid] = service_by_day(steps, days, zone, measured_days=seen,
                                     covered_from=began.get(cid), now=now)
    return result


def _latency_hours(session: Session, now: datetime) -> dict[str, dict[datetime, float]]:
    """Average latency per component and hour over the last 24 hours."""
    current = now.replace(minute=0, second=0, microsecond=0)
    since = current - timedelta(hours=HOURS - 1)
    # summed here, not with SQL SUM: on PostgreSQL a sum past the float range is an error,
    # and one poisoned row (stored before input was bounded) would stop every page
    rows = session.execute(
        sa.select(ProbeRollup.component_id, ProbeRollup.bucket_start,
                  ProbeRollup.latency_sum_ms, ProbeRollup.count)
        .where(ProbeRollup.period == "hour", ProbeRollup.bucket_start >= since,
               ProbeRollup.bucket_start <= now)
    )
    sums: dict[tuple[str, datetime], float] = defaultdict(float)
    counts: dict[tuple[str, datetime], int] = defaultdict(int)
    for cid, start, total, count in rows:
        part = finite(total)
        if part is None or not count:
            continue  # an unreadable hour is a gap in the line, not an error
        key = (cid, start.replace(minute=0, second=0, microsecond=0))
        sums[key] += part
        counts[key] += int(count)
    result: dict[str, dict[datetime, float]] = defaultdict(dict)
    for (cid, hour), total_ms in sums.items():
        result[cid][hour] = total_ms / counts[(cid, hour)]
    return result


def _incidents_by_day(session: Session, today: date, now: datetime, zone: ZoneInfo
                      ) -> dict[str, dict[date, list[IncidentRef]]]:
    """Published incidents overlapping each component's local days (bounded in number)."""
    first = today - timedelta(days=DAYS - 1)
    since = _day_start(first, zone)
    incidents = session.scalars(
        sa.select(Incident).options(selectinload(Incident.components))
        .where(_published(), Incident.kind == "incident", Incident.started_at <= now,
               sa.or_(Incident.resolved_at.is_(None), Incident.resolved_at >= since))
        .order_by(Incident.started_at.desc()).limit(_INCIDENTS_PER_DAY_LIMIT)
    ).all()
    result: dict[str, dict[date, list[IncidentRef]]] = defaultdict(lambda: defaultdict(list))
    for inc in incidents:
        ref = IncidentRef(inc.id, inc.name, inc.impact)
        start = max(inc.started_at.astimezone(zone).date(), first)
        end = min((inc.resolved_at or now).astimezone(zone).date(), today)
        for ic in inc.components:
            day = start
            while day <= end:
                result[ic.component_id][day].append(ref)
                day += timedelta(days=1)
    return result


def _sections(components: Sequence[ComponentView]) -> tuple[ComponentView | GroupView, ...]:
    """Components in page order, grouped where the config groups them (group at first child)."""
    sections: list[ComponentView | GroupView] = []
    members: dict[str, list[ComponentView]] = {}
    for comp in components:
        if comp.group is None:
            sections.append(comp)
        elif comp.group not in members:
            members[comp.group] = [comp]
            sections.append(GroupView(group_id(comp.group), comp.group, comp.position, ()))
        else:
            members[comp.group].append(comp)
    return tuple(
        GroupView(s.id, s.name, s.position, tuple(members[s.name]))
        if isinstance(s, GroupView) else s for s in sections
    )


def page_data(session: Session, config: StatusConfig, now: datetime, *,
              history: bool = True) -> PageData:
    """What the home page shows now; ``history=False`` skips uptime and latency (API)."""
    zone = ZoneInfo(config.page.time_zone)
    today = now.astimezone(zone).date()
    rows = session.scalars(sa.select(Component).where(Component.active.is_(True))
                           .order_by(Component.position, Component.id)).all()
    names = {c.id: c.name for c in rows}
    open_items = session.scalars(
        sa.select(Incident).options(*_with_children())  # type: ignore[arg-type]
        .where(_published(), sa.or_(
            sa.and_(Incident.kind == "incident", Incident.status.in_(OPEN_INCIDENT_STATUSES)),
            sa.and_(Incident.kind == "maintenance",
                    Incident.status.in_(("scheduled", *ACTIVE_MAINTENANCE)))))
        .order_by(Incident.started_at.desc()).limit(200)
    ).all()
    views = [_view(i, names) for i in open_items]
    incidents = tuple(v for v in views if not v.is_maintenance)
    active_mnt = tuple(v for v in views if v.is_maintenance and v.status in ACTIVE_MAINTENANCE)
    upcoming = tuple(sorted(
        (v for v in views if v.is_maintenance and v.status == "scheduled"
         and (v.scheduled_until is None or v.scheduled_until > now)),
        key=lambda v: v.begins_at))
    declared: dict[str, list[str]] = defaultdict(list)
    unconfirmed: dict[str, list[str]] = defaultdict(list)  # not yet in monitoring
    for inc in incidents:
        for cid, _name, status in inc.components:
            declared[cid].append(status)
            if inc.status in UNCONFIRMED_STATUSES:
                unconfirmed[cid].append(status)
    maintained = {cid for m in active_mnt for cid, _n, _s in m.components}

    first_day = today - timedelta(days=DAYS - 1)
    days = _service_days(session, first_day, today, zone, now) if history else {}
    by_day = _incidents_by_day(session, today, now, zone) if history else {}
    latency = _latency_hours(session, now) if history else {}
    attempts = last_attempts(session, [r.id for r in rows], now - timedelta(hours=HOURS)
                             ) if history else {}
    recovered_after = timedelta(seconds=config.evaluation.recovery_prompt_s)
    day_list = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    current_hour = now.replace(minute=0, second=0, microsecond=0)
    hours = [current_hour - timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]
    components = []
    for row in rows:
        comp_days: tuple[DayUptime, ...] = ()
        comp_latency: tuple[float | None, ...] = ()
        if history:
            counts = days.get(row.id, {})
            refs = by_day.get(row.id, {})
            comp_days = tuple(DayUptime(d, *counts.get(d, (0.0, 0.0)), tuple(refs.get(d, ())),
                                        config.uptime) for d in day_list)
            comp_latency = tuple(latency.get(row.id, {}).get(h) for h in hours)
        status = shown_status(row.measured_status, declared.get(row.id, ()),
                              in_maintenance=row.id in maintained)
        detected_at, recovered_at = measurement_notes(
            row.measured_status, row.measured_since, declared.get(row.id, ()),
            unconfirmed.get(row.id, ()), row.id in maintained, now, recovered_after)
        components.append(ComponentView(
            row.id, row.name, row.description or "", row.group_name, row.position, status,
            row.created_at, row.updated_at, comp_days, comp_latency, attempts.get(row.id),
            detected_at, recovered_at))
    indicator, description = page_indicator([c.status for c in components],
                                            [i.impact for i in incidents])
    changed = session.scalar(sa.select(ChangeCounter.changed_at).where(ChangeCounter.id == 1))
    sample = sample_data(session)
    return PageData(now, changed or now, indicator, description, tuple(components),
                    _sections(components), incidents, active_mnt, upcoming, sample)


def sample_data(session: Session) -> bool:
    """Whether the database holds labelled sample history (``statuspage serve --demo``)."""
    return session.get(PageMarker, SAMPLE_DATA_MARKER) is not None


def incident_detail(session: Session, incident_id: str) -> IncidentView | None:
    """One published incident or maintenance, or None (unknown id or a draft)."""
    incident = session.scalars(
        sa.select(Incident).options(*_with_children())  # type: ignore[arg-type]
        .where(Incident.id == incident_id[:16], _published())
    ).first()
    return None if incident is None else _view(incident, _component_names(session))


def recent_incidents(session: Session, *, kind: str | None = "incident", limit: int = 50,
                     component_id: str | None = None, statuses: Sequence[str] | None = None
                     ) -> tuple[IncidentView, ...]:
    """The most recent published incidents (and/or maintenances), newest first."""
    query = sa.select(Incident).options(*_with_children()).where(  # type: ignore[arg-type]
        _published())
    if kind is not None:
        query = query.where(Incident.kind == kind)
    if statuses is not None:
        query = query.where(Incident.status.in_(tuple(statuses)))
    if component_id is not None:
        query = query.where(Incident.id.in_(
            sa.select(IncidentComponent.incident_id)
            .where(IncidentComponent.component_id == component_id)))
    order = sa.func.coalesce(Incident.scheduled_for, Incident.started_at).desc()
    rows = session.scalars(query.order_by(order, Incident.id).limit(limit)).all()
    names = _component_names(session)
    return tuple(_view(i, names) for i in rows)


def component_incidents(session: Session, component_id: str, limit: int = 20
                        ) -> tuple[IncidentView, ...]:
    """Recent published incidents and maintenances that affected one component."""
    return recent_incidents(session, kind=None, limit=limit, component_id=component_id)


def history_page(session: Session, config: StatusConfig, page: int, per_page: int = 20
                 ) -> HistoryPage | None:
    """Page ``page`` (1-based) of past incidents and maintenances, grouped by month.

    Months without incidents between the first and last shown are listed empty, so the reader
    sees "no incidents" rather than a gap. None when the page is past the end.
    """
    zone = ZoneInfo(config.page.time_zone)
    total = session.scalar(sa.select(sa.func.count()).select_from(Incident).where(
        _published(), sa.or_(Incident.kind == "incident",
                             Incident.status.in_((*ACTIVE_MAINTENANCE, "completed"))))
    ) or 0
    pages = max(1, math.ceil(total / per_page))
    if page < 1 or page > pages:
        return None
    query = sa.select(Incident).options(*_with_children()).where(  # type: ignore[arg-type]
        _published(), sa.or_(Incident.kind == "incident",
                             Incident.status.in_((*ACTIVE_MAINTENANCE, "completed"))))
    order = sa.func.coalesce(Incident.scheduled_for, Incident.started_at).desc()
    rows = session.scalars(query.order_by(order, Incident.id)
                           .offset((page - 1) * per_page).limit(per_page)).all()
    names = _component_names(session)
    grouped: dict[date, list[IncidentView]] = defaultdict(list)
    for row in rows:
        view = _view(row, names)
        local = view.begins_at.astimezone(zone)
        grouped[date(local.year, local.month, 1)].append(view)
    months: list[tuple[date, tuple[IncidentView, ...]]] = []
    if grouped:
        newest = max(grouped)
        if page == 1:
            today = datetime.now(UTC).astimezone(zone)
            newest = max(newest, date(today.year, today.month, 1))
        oldest = min(grouped)
        month = newest
        while month >= oldest and len(months) < 240:
            months.append((month, tuple(grouped.get(month, ()))))
            month = (month - timedelta(days=1)).replace(day=1)
    return HistoryPage(page, pages, tuple(months))
