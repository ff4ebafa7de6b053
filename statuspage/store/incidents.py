"""Write verbs for incidents and probe-made drafts (and the reads the console needs).

Rules every verb keeps:

- Bad input raises ``Refused`` (``statuspage.store.refusal``) before anything is written, with a
  message fit to show an operator and the offending field(s) in ``errors``.
- An operator's change (``actor`` given) writes its audit entry in the same transaction; the
  probes' own changes (no actor) are recorded in their evidence instead.
- Every write calls ``bump_changes`` (the public cache's invalidation) in the caller's transaction.
- Declared component statuses (``statuspage.store.declared``) live in ``IncidentComponent`` rows
  of open, published incidents. Resolving neutralises them to ``operational`` (the rows stay, so
  a resolved incident still says what it affected), and the page falls back to the measured
  status.
- Scheduled maintenance is in ``statuspage.store.maintenance``; its updates go through
  ``post_update`` here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from statuspage.db import bump_changes
from statuspage.models import (
    Component,
    Incident,
    IncidentUpdate,
    UpdateEdit,
    utcnow,
)
from statuspage.status import (
    COMPONENT_STATUSES,
    IMPACTS,
    STATUS_IMPACT,
    worst,
)
from statuspage.store.audit import Actor, record_audit
from statuspage.store.declared import (
    MAX_BODY,
    MAX_NAME,
    add_update,
    apply_components,
    check_components,
    check_text,
    declared_statuses,
    locked_incident,
    record_declared,
    refuse_if_any,
    set_status,
)
from statuspage.store.maintenance import post_maintenance_update
from statuspage.store.outbox import emit_incident_event
from statuspage.store.refusal import Refused

__all__ = [
    "INCIDENT_UPDATE_STATUSES",
    "create_incident",
    "discard_draft",
    "edit_update",
    "get_incident",
    "list_drafts",
    "list_incidents",
    "post_update",
    "publish_draft",
    "resolve_incident",
    "update_history",
    "write_postmortem",
]

#: Statuses an operator may post on an incident ("postmortem" is set by publishing one).
INCIDENT_UPDATE_STATUSES: tuple[str, ...] = ("investigating", "identified", "monitoring",
                                             "resolved")
MAX_POSTMORTEM = 100_000


# --- incidents --------------------------------------------------------------------------------

def create_incident(session: Session, *, name: str, status: str, impact: str, body: str,
                    components: Mapping[str, str], notify: bool, author: str | None,
                    actor: Actor | None = None, now: datetime | None = None) -> Incident:
    """Open a published incident with its first update and declared component statuses."""
    now = now or utcnow()
    asked = {"name": name, "status": status, "impact": impact, "components": components}
    errors: dict[str, str] = {}
    name = check_text(errors, "name", name, MAX_NAME, "Judul")
    body = check_text(errors, "body", body, MAX_BODY, "Pesan")
    if status not in INCIDENT_UPDATE_STATUSES:
        errors["status"] = "Status insiden tidak dikenal."
    if impact not in IMPACTS:
        errors["impact"] = "Dampak tidak dikenal."
    wanted = check_components(session, errors, components)
    refuse_if_any(errors)
    before = declared_statuses(session, wanted)
    incident = Incident(kind="incident", name=name, status=status, impact=impact,
                        is_draft=False, started_at=now, created_at=now, updated_at=now,
                        created_by=author)
    session.add(incident)
    set_status(incident, status, now)
    if status == "resolved":  # a retroactive record: nothing stays declared
        wanted = dict.fromkeys(wanted, "operational")
    affected = apply_components(session, incident, wanted)
    add_update(incident, status=status, body=body, affected=affected, notify=notify,
               author=author, now=now)
    emit_incident_event(session, "incident.created", incident, now)
    record_declared(session, before, incident, now)
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
    incident = locked_incident(session, incident_id)
    errors: dict[str, str] = {}
    body = check_text(errors, "body", body, MAX_BODY, "Pesan")
    wanted = check_components(session, errors, components)
    if incident.kind == "maintenance":
        return post_maintenance_update(session, incident, errors, status=status, body=body,
                                       notify=notify, author=author, now=now)
    if status not in INCIDENT_UPDATE_STATUSES:
        errors["status"] = "Status insiden tidak dikenal."
    elif incident.resolved_at is not None and not reopen:
        errors["status"] = ("Insiden ini sudah selesai. Centang \u201cbuka kembali\u201d untuk "
                            "melanjutkannya, atau buat insiden baru.")
    elif reopen and status == "resolved":
        errors["status"] = "Untuk membuka kembali, pilih status selain resolved."
    refuse_if_any(errors)
    if incident.resolved_at is not None:
        incident.resolved_at = None
    current = {ic.component_id for ic in incident.components}
    before = declared_statuses(session, current | set(wanted))
    if status == "resolved":
        wanted = {**dict.fromkeys(current, "operational"), **dict.fromkeys(wanted, "operational")}
    affected = apply_components(session, incident, wanted)
    set_status(incident, status, now)
    update = add_update(incident, status=status, body=body, affected=affected, notify=notify,
                        author=author, now=now)
    emit_incident_event(session, "incident.resolved" if status == "resolved"
                        else "incident.updated", incident, now)
    record_declared(session, before, incident, now)
    bump_changes(session)
    return update


def resolve_incident(session: Session, incident_id: str, *, body: str, author: str | None,
                     notify: bool = True, actor: Actor | None = None,
                     now: datetime | None = None) -> IncidentUpdate:
    """Resolve (or, for maintenance, complete): declared statuses return to measured."""
    incident = locked_incident(session, incident_id)
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
    body = check_text(errors, "body", body, MAX_BODY, "Pesan")
    refuse_if_any(errors)
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
    incident = locked_incident(session, incident_id)
    if incident.kind != "incident" or incident.resolved_at is None:
        raise Refused("Postmortem hanya untuk insiden yang sudah selesai.", "body")
    errors: dict[str, str] = {}
    body = check_text(errors, "body", body, MAX_POSTMORTEM, "Postmortem")
    refuse_if_any(errors)
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
    incident = locked_incident(session, incident_id, draft=True)
    if incident.resolved_at is not None:
        raise Refused("Draf ini sudah dibuang.", "incident")
    evidence = incident.evidence or {}
    errors: dict[str, str] = {}
    if components is None:
        known = set(session.scalars(sa.select(Component.id).where(Component.active.is_(True))))
        components = {c: s for c, s in (evidence.get("components") or {}).items()
                      if c in known and s in COMPONENT_STATUSES}
    wanted = check_components(session, errors, components)
    name = check_text(errors, "name", name or incident.name, MAX_NAME, "Judul")
    # the public text drafted from the operators' templates, never the raw evidence
    body = check_text(errors, "body", body or evidence.get("public_body") or "Kami sedang "
                      "menyelidiki gangguan ini.", MAX_BODY, "Pesan")
    status = status or (incident.status if incident.status in INCIDENT_UPDATE_STATUSES
                        else "investigating")
    derived = STATUS_IMPACT.get(worst(wanted.values()), "minor")
    impact = impact or (incident.impact if incident.impact not in (None, "none") else derived)
    if status not in INCIDENT_UPDATE_STATUSES:
        errors["status"] = "Status insiden tidak dikenal."
    if impact not in IMPACTS:
        errors["impact"] = "Dampak tidak dikenal."
    refuse_if_any(errors)
    before = declared_statuses(session,
                               {ic.component_id for ic in incident.components} | set(wanted))
    incident.components.clear()
    session.flush()
    incident.is_draft = False
    # created_by stays as the probes wrote it: their evaluation finds its episodes by it; the
    # publishing operator is the author of the first update (and in the audit log)
    incident.name, incident.impact = name, impact
    incident.started_at = _parse_time(evidence.get("since")) or now
    incident.updates.clear()
    set_status(incident, status, now)
    if status == "resolved":
        wanted = dict.fromkeys(wanted, "operational")
    affected = apply_components(session, incident, wanted)
    add_update(incident, status=status, body=body, affected=affected, notify=notify,
               author=author, now=now)
    emit_incident_event(session, "incident.created", incident, now)
    record_declared(session, before, incident, now)
    bump_changes(session)
    if actor is not None:
        record_audit(session, actor, "incident.publish_draft", target=incident_id)
    return incident


def discard_draft(session: Session, incident_id: str, *, author: str | None,
                  actor: Actor | None = None, now: datetime | None = None) -> Incident:
    """Dismiss a draft (a false alarm); it stays invisible and is kept for the record."""
    incident = locked_incident(session, incident_id, draft=True)
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
