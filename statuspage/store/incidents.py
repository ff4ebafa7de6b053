"""Write verbs for incidents and scheduled maintenance (and the reads the console needs).

Rules every verb keeps:

- Bad input raises ``Refused`` (``statuspage.store.refusal``) before anything is written, with a
  message fit to show an operator and the offending field(s) in ``errors``.
- An operator's change (``actor`` given) writes its audit entry in the same transaction; the
  probes' own changes (no actor) are recorded in their evidence instead.
- Every write calls ``bump_changes`` (the public cache's invalidation) in the caller's transaction.
- Declared component statuses live in ``IncidentComponent`` rows of open, published incidents.
  Resolving neutralises them to ``operational`` (the rows stay, so a resolved incident still says
  what it affected), and the page falls back to the measured status. Whenever a component's
  declared status (the worst over open incidents) changes, a ``ComponentStatusChange`` row with
  ``source="declared"`` records it, for uptime and deadline-impact history.
- A scheduled maintenance declares ``operational`` (neutral) while scheduled or completed and
  ``under_maintenance`` while in progress or verifying.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from statuspage.db import bump_changes
from statuspage.inputs import InputError, clean_text
from statuspage.models import (
    Component,
    ComponentStatusChange,
    Incident,
    IncidentComponent,
    IncidentUpdate,
    UpdateEdit,
    utcnow,
)
from statuspage.status import (
    ACTIVE_MAINTENANCE,
    CLOSING_STATUSES,
    COMPONENT_STATUSES,
    IMPACTS,
    MAINTENANCE_STATUSES,
    STATUS_IMPACT,
    worst,
)
from statuspage.store.audit import Actor, record_audit
from statuspage.store.outbox import emit_component_event, emit_incident_event
from statuspage.store.refusal import Refused

__all__ = [
    "INCIDENT_UPDATE_STATUSES",
    "advance_maintenances",
    "create_incident",
    "create_maintenance",
    "discard_draft",
    "edit_update",
    "get_incident",
    "list_drafts",
    "list_incidents",
    "list_maintenances",
    "post_update",
    "publish_draft",
    "resolve_incident",
    "update_history",
    "write_postmortem",
]

#: Statuses an operator may post on an incident ("postmortem" is set by publishing one).
INCIDENT_UPDATE_STATUSES: tuple[str, ...] = ("investigating", "identified", "monitoring",
                                             "resolved")
MAX_NAME = 300
MAX_BODY = 20_000
MAX_POSTMORTEM = 100_000
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


# --- validation -------------------------------------------------------------------------------

def _text(errors: dict[str, str], field: str, value: str | None, maximum: int,
          label: str) -> str:
    try:
        text = clean_text(value or "", field).strip()
    except InputError:
        errors[field] = f"{label} berisi karakter kontrol (hanya baris baru dan tab yang boleh)."
        return ""
    if not text:
        errors[field] = f"{label} wajib diisi."
    elif len(text) > maximum:
        errors[field] = f"{label} terlalu panjang (maksimal {maximum} karakter)."
    return text


def _components(session: Session, errors: dict[str, str],
                components: Mapping[str, str] | None) -> dict[str, str]:
    if not components:
        return {}
    known = set(session.scalars(sa.select(Component.id).where(Component.active.is_(True))))
    clean: dict[str, str] = {}
    for cid, status in components.items():
        if cid not in known:
            errors["components"] = f"Komponen tidak dikenal: {str(cid)[:64]}."
        elif status not in COMPONENT_STATUSES:
            errors["components"] = f"Status komponen tidak dikenal: {str(status)[:40]}."
        else:
            clean[cid] = status
    return clean


def _raise(errors: dict[str, str]) -> None:
    if errors:
        raise Refused(errors)


# --- declared statuses ------------------------------------------------------------------------

def _declared(session: Session, component_ids: Iterable[str]) -> dict[str, str]:
    """Each component's declared status: the worst over open, published incidents."""
    ids = list(component_ids)
    out = dict.fromkeys(ids, "operational")
    if not ids:
        return out
    session.flush()
    rows = session.execute(
        sa.select(IncidentComponent.component_id, IncidentComponent.status)
        .join(Incident, Incident.id == IncidentComponent.incident_id)
        .where(IncidentComponent.component_id.in_(ids), Incident.is_draft.is_(False),
               Incident.resolved_at.is_(None)))
    for cid, status in rows:
        out[cid] = worst([out[cid], status])
    return out


def _record_declared(session: Session, before: dict[str, str], incident: Incident,
                     now: datetime) -> None:
    after = _declared(session, before)
    for cid, status in after.items():
        if status != before[cid]:
            session.add(ComponentStatusChange(component_id=cid, status=status, source="declared",
                                              at=now, detail={"incident_id": incident.id}))
            component = session.get(Component, cid)
            if component is not None:
                emit_component_event(session, component, before[cid], status, "declared", now)


def _apply_components(session: Session, incident: Incident, wanted: Mapping[str, str]
                      ) -> list[dict[str, Any]]:
    """Set declared statuses; returns Statuspage ``affected_components`` for what changed."""
    current = {ic.component_id: ic for ic in incident.components}
    names: dict[str, str] = {}
    measured: dict[str, str] = {}
    for cid, name, status in session.execute(
            sa.select(Component.id, Component.name, Component.measured_status)
            .where(Component.id.in_(list(wanted)))):
        names[cid], measured[cid] = name, status
    affected = []
    for cid, status in wanted.items():
        row = current.get(cid)
        old = row.status if row is not None else measured.get(cid, "operational")
        if row is None:
            incident.components.append(IncidentComponent(component_id=cid, status=status))
        else:
            row.status = status
        if old != status or row is None:
            affected.append({"code": cid, "name": names.get(cid, cid), "old_status": old,
                             "new_status": status})
    return affected


def _add_update(incident: Incident, *, status: str, body: str, affected: list[dict[str, Any]],
                notify: bool, author: str | None, now: datetime) -> IncidentUpdate:
    update = IncidentUpdate(status=status, body=body, created_at=now, display_at=now,
                            updated_at=now, affected_components=affected, notify=notify,
                            author=author)
    incident.updates.insert(0, update)
    incident.updated_at = now
    return update


def _set_status(incident: Incident, status: str, now: datetime) -> None:
    incident.status = status
    if status == "monitoring" and incident.monitoring_at is None:
        incident.monitoring_at = now
    if status in CLOSING_STATUSES:
        incident.resolved_at = now


def _incident(session: Session, incident_id: str, *, draft: bool = False) -> Incident:
    incident = session.get(Incident, incident_id, with_for_update=True)
    if incident is None or incident.is_draft != draft:
        raise Refused("Draf tidak ditemukan." if draft else "Insiden tidak ditemukan.",
                            "incident")
    return incident


# --- incidents --------------------------------------------------------------------------------

def create_incident(session: Session, *, name: str, status: str, impact: str, body: str,
                    components: Mapping[str, str], notify: bool, author: str | None,
                    actor: Actor | None = None, now: datetime | None = None) -> Incident:
    """Open a published incident with its first update and declared component statuses."""
    now = now or utcnow()
    asked = {"name": name, "status": status, "impact": impact, "components": components}
    errors: dict[str, str] = {}
    name = _text(errors, "name", name, MAX_NAME, "Judul")
    body = _text(errors, "body", body, MAX_BODY, "Pesan")
    if status not in INCIDENT_UPDATE_STATUSES:
        errors["status"] = "Status insiden tidak dikenal."
    if impact not in IMPACTS:
        errors["impact"] = "Dampak tidak dikenal."
    wanted = _components(session, errors, components)
    _raise(errors)
    before = _declared(session, wanted)
    incident = Incident(kind="incident", name=name, status=status, impact=impact,
                        is_draft=False, started_at=now, created_at=now, updated_at=now,
                        created_by=author)
    session.add(incident)
    _set_status(incident, status, now)
    if status == "resolved":  # a retroactive record: nothing stays declared
        wanted = dict.fromkeys(wanted, "operational")
    affected = _apply_components(session, incident, wanted)
    _add_update(incident, status=status, body=body, affected=affected, notify=notify,
                author=author, now=now)
    emit_incident_event(session, "incident.created", incident, now)
    _record_declared(session, before, incident, now)
    bump_changes(session)
    if actor is not None:
        record_audit(session, actor, "incident.create", target=incident.id, detail=asked)
    return incident


def post_update(session: Session, incident_id: str, *, status: str, body: str,
                components: Mapping[str, str] | None, notify: bool, author: str | None,
                reopen: bool = False, actor: Actor | None = None,
                now: datetime | None = None) -> IncidentUpdate:
    """Add an update (incident or maintenance); resolved/completed ones need ``reopen``."""
    update = _post_update(session, incident_id, status=status, body=body,
                          components=components, notify=notify, author=author, reopen=reopen,
                          now=now or utcnow())
    if actor is not None:
        record_audit(session, actor, "incident.update", target=incident_id, detail={
            "update_id": update.id, "status": status, "reopen": reopen,
            "components": components})
    return update


def _post_update(session: Session, incident_id: str, *, status: str, body: str,
                 components: Mapping[str, str] | None, notify: bool, author: str | None,
                 reopen: bool, now: datetime) -> IncidentUpdate:
    incident = _incident(session, incident_id)
    errors: dict[str, str] = {}
    body = _text(errors, "body", body, MAX_BODY, "Pesan")
    wanted = _components(session, errors, components)
    if incident.kind == "maintenance":
        if status not in MAINTENANCE_STATUSES:
            errors["status"] = "Status pemeliharaan tidak dikenal."
        elif status not in _MAINTENANCE_NEXT[incident.status]:
            errors["status"] = (f"Pemeliharaan berstatus {incident.status} tidak dapat diubah "
                                f"menjadi {status}.")
        _raise(errors)
        return _maintenance_update(session, incident, status, body, notify, author, now)
    if status not in INCIDENT_UPDATE_STATUSES:
        errors["status"] = "Status insiden tidak dikenal."
    elif incident.resolved_at is not None and not reopen:
        errors["status"] = ("Insiden ini sudah selesai. Centang \u201cbuka kembali\u201d untuk "
                            "melanjutkannya, atau buat insiden baru.")
    elif reopen and status == "resolved":
        errors["status"] = "Untuk membuka kembali, pilih status selain resolved."
    _raise(errors)
    if incident.resolved_at is not None:
        incident.resolved_at = None
    current = {ic.component_id for ic in incident.components}
    before = _declared(session, current | set(wanted))
    if status == "resolved":
        wanted = {**dict.fromkeys(current, "operational"), **dict.fromkeys(wanted, "operational")}
    affected = _apply_components(session, incident, wanted)
    _set_status(incident, status, now)
    update = _add_update(incident, status=status, body=body, affected=affected, notify=notify,
                         author=author, now=now)
    emit_incident_event(session, "incident.resolved" if status == "resolved"
                        else "incident.updated", incident, now)
    _record_declared(session, before, incident, now)
    bump_changes(session)
    return update


def resolve_incident(session: Session, incident_id: str, *, body: str, author: str | None,
                     notify: bool = True, actor: Actor | None = None,
                     now: datetime | None = None) -> IncidentUpdate:
    """Resolve (or, for maintenance, complete): declared statuses return to measured."""
    incident = _incident(session, incident_id)
    status = "completed" if incident.kind == "maintenance" else "resolved"
    update = post_update(session, incident_id, status=status, body=body, components=None,
                         notify=notify, author=author, now=now)
    if actor is not None:
        record_audit(session, actor, "incident.resolve", target=incident_id)
    return update


def edit_update(session: Session, update_id: str, *, body: str, editor: str | None,
                actor: Actor | None = None, now: datetime | None = None) -> IncidentUpdate:
    """Correct an update's text; the previous text is kept as an ``UpdateEdit``."""
    update = session.get(IncidentUpdate, update_id, with_for_update=True)
    if update is None:
        raise Refused("Pembaruan tidak ditemukan.", "update")
    errors: dict[str, str] = {}
    body = _text(errors, "body", body, MAX_BODY, "Pesan")
    _raise(errors)
    if actor is not None:
        record_audit(session, actor, "incident.edit_update", target=update.incident_id,
                     detail={"update_id": update_id, "previous_body": update.body[:2000]})
    if body == update.body:
        return update
    now = now or utcnow()
    session.add(UpdateEdit(update_id=update.id, previous_body=update.body, edited_at=now,
                           editor=editor))
    update.body = body
    update.updated_at = now
    bump_changes(session)
    return update


def update_history(session: Session, update_id: str) -> Sequence[UpdateEdit]:
    """Previous texts of an update, newest first."""
    return session.scalars(sa.select(UpdateEdit).where(UpdateEdit.update_id == update_id)
                           .order_by(UpdateEdit.edited_at.desc(), UpdateEdit.id.desc())).all()


def write_postmortem(session: Session, incident_id: str, *, body: str, author: str | None,
                     publish: bool = True, actor: Actor | None = None,
                     now: datetime | None = None) -> Incident:
    """Save (and optionally publish) the postmortem of a resolved incident."""
    incident = _incident(session, incident_id)
    if incident.kind != "incident" or incident.resolved_at is None:
        raise Refused("Postmortem hanya untuk insiden yang sudah selesai.", "body")
    errors: dict[str, str] = {}
    body = _text(errors, "body", body, MAX_POSTMORTEM, "Postmortem")
    _raise(errors)
    now = now or utcnow()
    incident.postmortem_body = body
    if publish and incident.postmortem_published_at is None:
        incident.postmortem_published_at = now
    incident.updated_at = now
    bump_changes(session)
    if actor is not None:
        record_audit(session, actor, "incident.postmortem", target=incident_id,
                     detail={"published": publish})
    return incident


# --- drafts from probes -----------------------------------------------------------------------

def publish_draft(session: Session, incident_id: str, *, author: str | None,
                  name: str | None = None, status: str | None = None, impact: str | None = None,
                  body: str | None = None, components: Mapping[str, str] | None = None,
                  notify: bool = False, actor: Actor | None = None,
                  now: datetime | None = None) -> Incident:
    """Make a probe-made draft public, with the operator's edits or the evidence's defaults."""
    now = now or utcnow()
    incident = _incident(session, incident_id, draft=True)
    if incident.resolved_at is not None:
        raise Refused("Draf ini sudah dibuang.", "incident")
    evidence = incident.evidence or {}
    errors: dict[str, str] = {}
    if components is None:
        known = set(session.scalars(sa.select(Component.id).where(Component.active.is_(True))))
        components = {c: s for c, s in (evidence.get("components") or {}).items()
                      if c in known and s in COMPONENT_STATUSES}
    wanted = _components(session, errors, components)
    name = _text(errors, "name", name or incident.name, MAX_NAME, "Judul")
    # the public text drafted from the operators' templates, never the raw evidence
    body = _text(errors, "body", body or evidence.get("public_body") or "Kami sedang "
                 "menyelidiki gangguan ini.", MAX_BODY, "Pesan")
    status = status or (incident.status if incident.status in INCIDENT_UPDATE_STATUSES
                        else "investigating")
    derived = STATUS_IMPACT.get(worst(wanted.values()), "minor")
    impact = impact or (incident.impact if incident.impact not in (None, "none") else derived)
    if status not in INCIDENT_UPDATE_STATUSES:
        errors["status"] = "Status insiden tidak dikenal."
    if impact not in IMPACTS:
        errors["impact"] = "Dampak tidak dikenal."
    _raise(errors)
    before = _declared(session, {ic.component_id for ic in incident.components} | set(wanted))
    incident.components.clear()
    session.flush()
    incident.is_draft = False
    # created_by stays as the probes wrote it: their evaluation finds its episodes by it; the
    # publishing operator is the author of the first update (and in the audit log)
    incident.name, incident.impact = name, impact
    incident.started_at = _parse_time(evidence.get("since")) or now
    incident.updates.clear()
    _set_status(incident, status, now)
    if status == "resolved":
        wanted = dict.fromkeys(wanted, "operational")
    affected = _apply_components(session, incident, wanted)
    _add_update(incident, status=status, body=body, affected=affected, notify=notify,
                author=author, now=now)
    emit_incident_event(session, "incident.created", incident, now)
    _record_declared(session, before, incident, now)
    bump_changes(session)
    if actor is not None:
        record_audit(session, actor, "incident.publish_draft", target=incident_id)
    return incident


def discard_draft(session: Session, incident_id: str, *, author: str | None,
                  actor: Actor | None = None, now: datetime | None = None) -> Incident:
    """Dismiss a draft (a false alarm); it stays invisible and is kept for the record."""
    incident = _incident(session, incident_id, draft=True)
    incident.status = "resolved"
    incident.resolved_at = now or utcnow()
    incident.evidence = {**(incident.evidence or {}), "discarded_by": author}
    if actor is not None:
        record_audit(session, actor, "incident.discard_draft", target=incident_id)
    return incident


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


# --- scheduled maintenance --------------------------------------------------------------------

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
    name = _text(errors, "name", name, MAX_NAME, "Judul")
    body = _text(errors, "body", body, MAX_BODY, "Pesan")
    ids = list(components)
    wanted = _components(session, errors, dict.fromkeys(ids, "operational"))
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
    _raise(errors)
    maintenance = Incident(kind="maintenance", name=name, status="scheduled", impact="none",
                           is_draft=False,
                           started_at=scheduled_for, created_at=now, updated_at=now,
                           scheduled_for=scheduled_for, scheduled_until=scheduled_until,
                           auto_transition=auto_transition, created_by=author)
    session.add(maintenance)
    affected = _apply_components(session, maintenance, wanted)
    _add_update(maintenance, status="scheduled", body=body, affected=affected, notify=notify,
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


def _maintenance_update(session: Session, maintenance: Incident, status: str, body: str,
                        notify: bool, author: str | None, now: datetime) -> IncidentUpdate:
    active = status in ACTIVE_MAINTENANCE
    target = "under_maintenance" if active else "operational"
    current = {ic.component_id for ic in maintenance.components}
    before = _declared(session, current)
    previous = maintenance.status
    affected = _apply_components(session, maintenance, dict.fromkeys(current, target))
    _set_status(maintenance, status, now)
    update = _add_update(maintenance, status=status, body=body, affected=affected,
                         notify=notify, author=author, now=now)
    event = _MAINTENANCE_EVENTS.get((previous, status))
    if event is not None:
        emit_incident_event(session, event, maintenance, now)
    _record_declared(session, before, maintenance, now)
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


# --- reads ------------------------------------------------------------------------------------

def get_incident(session: Session, incident_id: str) -> Incident | None:
    """An incident, maintenance or draft with its updates and components loaded."""
    return session.scalars(sa.select(Incident).where(Incident.id == incident_id).options(
        selectinload(Incident.updates), selectinload(Incident.components))).first()


def list_incidents(session: Session, *, open_only: bool = False, limit: int = 50
                   ) -> Sequence[Incident]:
    """Published incidents (not maintenance), open first then newest."""
    query = (sa.select(Incident).where(Incident.kind == "incident", Incident.is_draft.is_(False))
             .options(selectinload(Incident.components))
             .order_by(Incident.resolved_at.is_not(None), Incident.created_at.desc())
             .limit(limit))
    if open_only:
        query = query.where(Incident.resolved_at.is_(None))
    return session.scalars(query).all()


def list_drafts(session: Session) -> Sequence[Incident]:
    """Open drafts from the probes, newest first."""
    return session.scalars(
        sa.select(Incident).where(Incident.is_draft.is_(True), Incident.resolved_at.is_(None))
        .order_by(Incident.created_at.desc())).all()


def list_maintenances(session: Session, *, limit: int = 50) -> Sequence[Incident]:
    """Maintenance windows: unfinished ones first (soonest first), then recent completed."""
    return session.scalars(
        sa.select(Incident).where(Incident.kind == "maintenance", Incident.is_draft.is_(False))
        .options(selectinload(Incident.components))
        .order_by(Incident.resolved_at.is_not(None), Incident.scheduled_for.desc())
        .limit(limit)).all()
