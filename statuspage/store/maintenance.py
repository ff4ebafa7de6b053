"""Scheduled maintenance: schedule a window, follow its course, start and end it on time.

A maintenance declares ``operational`` (neutral) for its components while scheduled or
completed and ``under_maintenance`` while in progress or verifying; the steps it shares with
incidents (declared statuses, updates, validation) are in ``statuspage.store.declared``.
Operators post its updates through ``statuspage.store.incidents.post_update``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from statuspage.db import bump_changes
from statuspage.models import Incident, IncidentUpdate, utcnow
from statuspage.status import ACTIVE_MAINTENANCE, MAINTENANCE_STATUSES
from statuspage.store.audit import Actor, record_audit
from statuspage.store.declared import (
    MAX_BODY,
    MAX_NAME,
    add_update,
    apply_components,
    check_components,
    check_text,
    declared_statuses,
    record_declared,
    refuse_if_any,
    set_status,
)
from statuspage.store.outbox import emit_incident_event

__all__ = [
    "AUTO_END_BODY",
    "AUTO_START_BODY",
    "advance_maintenances",
    "create_maintenance",
    "list_maintenances",
    "post_maintenance_update",
]

MAX_MAINTENANCE_WINDOW = timedelta(days=14)
#: How far ahead a maintenance may be scheduled (year 9999 overflowed time-zone arithmetic).
MAX_MAINTENANCE_LEAD = timedelta(days=366)
_MAINTENANCE_NEXT: dict[str, set[str]] = {
    "scheduled": {"scheduled", "in_progress", "completed"},
    "in_progress": {"in_progress", "verifying", "completed"},
    "verifying": {"verifying", "in_progress", "completed"},
    "completed": set(),
}
#: Maintenance transitions announced to subscribers (a move to or from ``verifying`` is not).
_MAINTENANCE_EVENTS: dict[tuple[str, str], str] = {
    ("scheduled", "in_progress"): "maintenance.started",
    ("scheduled", "completed"): "maintenance.completed",
    ("in_progress", "completed"): "maintenance.completed",
    ("verifying", "completed"): "maintenance.completed",
}
AUTO_START_BODY = "Pemeliharaan terjadwal sedang berlangsung."
AUTO_END_BODY = "Pemeliharaan terjadwal telah selesai."


def create_maintenance(session: Session, *, name: str, body: str, scheduled_for: datetime,
                       scheduled_until: datetime, components: Iterable[str] | Mapping[str, str],
                       auto_transition: bool = True, author: str | None, notify: bool = False,
                       actor: Actor | None = None, now: datetime | None = None) -> Incident:
    """Schedule a maintenance window (status ``scheduled``; components listed, not yet affected).

    Components may be a list of ids or a Statuspage-style ``{id: status}`` mapping (the
    declared status during the window is always ``under_maintenance``).
    """
    now = now or utcnow()
    asked_name = name
    errors: dict[str, str] = {}
    name = check_text(errors, "name", name, MAX_NAME, "Judul")
    body = check_text(errors, "body", body, MAX_BODY, "Pesan")
    ids = list(components)
    wanted = check_components(session, errors, dict.fromkeys(ids, "operational"))
    if scheduled_for.tzinfo is None or scheduled_until.tzinfo is None:
        errors["scheduled_for"] = "Waktu harus menyertakan zona waktu."
    elif scheduled_until <= scheduled_for:
        errors["scheduled_until"] = "Waktu selesai harus setelah waktu mulai."
    elif scheduled_until - scheduled_for > MAX_MAINTENANCE_WINDOW:
        errors["scheduled_until"] = "Jendela pemeliharaan maksimal 14 hari."
    elif scheduled_until <= now:
        errors["scheduled_until"] = "Waktu selesai sudah lewat."
    elif scheduled_for - now > MAX_MAINTENANCE_LEAD:
        errors["scheduled_for"] = "Pemeliharaan dapat dijadwalkan paling lama satu tahun ke depan."
    refuse_if_any(errors)
    maintenance = Incident(kind="maintenance", name=name, status="scheduled", impact="none",
                           is_draft=False,
                           started_at=scheduled_for, created_at=now, updated_at=now,
                           scheduled_for=scheduled_for, scheduled_until=scheduled_until,
                           auto_transition=auto_transition, created_by=author)
    session.add(maintenance)
    affected = apply_components(session, maintenance, wanted)
    add_update(maintenance, status="scheduled", body=body, affected=affected, notify=notify,
               author=author, now=now)
    emit_incident_event(session, "maintenance.scheduled", maintenance, now)
    if auto_transition:
        _advance(session, maintenance, now)
    bump_changes(session)
    if actor is not None:
        record_audit(session, actor, "maintenance.create", target=maintenance.id, detail={
            "name": asked_name, "scheduled_for": scheduled_for.isoformat(),
            "scheduled_until": scheduled_until.isoformat(), "components": ids})
    return maintenance


def post_maintenance_update(session: Session, maintenance: Incident, errors: dict[str, str], *,
                            status: str, body: str, notify: bool, author: str | None,
                            now: datetime) -> IncidentUpdate:
    """An operator's update of a maintenance (through ``incidents.post_update``): the status
    must follow the maintenance's course; ``errors`` already holds the body's problems."""
    if status not in MAINTENANCE_STATUSES:
        errors["status"] = "Status pemeliharaan tidak dikenal."
    elif status not in _MAINTENANCE_NEXT[maintenance.status]:
        errors["status"] = (f"Pemeliharaan berstatus {maintenance.status} tidak dapat diubah "
                            f"menjadi {status}.")
    refuse_if_any(errors)
    return _maintenance_update(session, maintenance, status, body, notify, author, now)


def _maintenance_update(session: Session, maintenance: Incident, status: str, body: str,
                        notify: bool, author: str | None, now: datetime) -> IncidentUpdate:
    active = status in ACTIVE_MAINTENANCE
    target = "under_maintenance" if active else "operational"
    current = {ic.component_id for ic in maintenance.components}
    before = declared_statuses(session, current)
    previous = maintenance.status
    affected = apply_components(session, maintenance, dict.fromkeys(current, target))
    set_status(maintenance, status, now)
    update = add_update(maintenance, status=status, body=body, affected=affected,
                        notify=notify, author=author, now=now)
    event = _MAINTENANCE_EVENTS.get((previous, status))
    if event is not None:
        emit_incident_event(session, event, maintenance, now)
    record_declared(session, before, maintenance, now)
    bump_changes(session)
    return update


def _advance(session: Session, maintenance: Incident, now: datetime) -> bool:
    changed = False
    start, end = maintenance.scheduled_for, maintenance.scheduled_until
    if maintenance.status == "scheduled" and start is not None and start <= now:
        _maintenance_update(session, maintenance, "in_progress", AUTO_START_BODY, False,
                            None, now)
        changed = True
    if maintenance.status == "in_progress" and end is not None and end <= now:
        _maintenance_update(session, maintenance, "completed", AUTO_END_BODY, False, None, now)
        changed = True
    return changed


def advance_maintenances(session: Session, now: datetime) -> int:
    """Start and end maintenance windows on time; returns how many maintenances changed.

    ``verifying`` is left to the operator. Rows are locked with SKIP LOCKED on PostgreSQL so
    two workers never post the same automatic update.
    """
    due = session.scalars(
        sa.select(Incident).where(
            Incident.kind == "maintenance", Incident.is_draft.is_(False),
            Incident.auto_transition.is_(True), Incident.resolved_at.is_(None),
            sa.or_(sa.and_(Incident.status == "scheduled", Incident.scheduled_for <= now),
                   sa.and_(Incident.status == "in_progress", Incident.scheduled_until <= now)))
        .order_by(Incident.scheduled_for).with_for_update(skip_locked=True)).all()
    return sum(1 for m in due if _advance(session, m, now))



def list_maintenances(session: Session, *, limit: int = 50) -> Sequence[Incident]:
    """Maintenance windows: unfinished ones first (soonest first), then recent completed."""
    return session.scalars(
        sa.select(Incident).where(Incident.kind == "maintenance", Incident.is_draft.is_(False))
        .options(selectinload(Incident.components))
        .order_by(Incident.resolved_at.is_not(None), Incident.scheduled_for.desc())
        .limit(limit)).all()
