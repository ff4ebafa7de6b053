"""What incident and maintenance verbs share: input checks, declared component statuses, the
timeline's updates.

Declared component statuses live in ``IncidentComponent`` rows of open, published incidents.
Whenever a component's declared status (the worst over open incidents) changes, a
``ComponentStatusChange`` row with ``source="declared"`` records it, for uptime and
deadline-impact history, and subscribers hear of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.inputs import InputError, clean_text
from statuspage.models import (
    Component,
    ComponentStatusChange,
    Incident,
    IncidentComponent,
    IncidentUpdate,
)
from statuspage.status import CLOSING_STATUSES, COMPONENT_STATUSES, worst
from statuspage.store.outbox import emit_component_event
from statuspage.store.refusal import Refused

__all__ = [
    "MAX_BODY",
    "MAX_NAME",
    "add_update",
    "apply_components",
    "check_components",
    "check_text",
    "declared_statuses",
    "locked_incident",
    "record_declared",
    "refuse_if_any",
    "set_status",
]

MAX_NAME = 300
MAX_BODY = 20_000


# --- validation -------------------------------------------------------------------------------

def check_text(errors: dict[str, str], field: str, value: str | None, maximum: int,
               label: str) -> str:
    """``value`` cleaned and stripped; a problem goes into ``errors[field]`` (labelled)."""
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


def check_components(session: Session, errors: dict[str, str],
                     components: Mapping[str, str] | None) -> dict[str, str]:
    """The known active components with a known status; unknown ones go into ``errors``."""
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


def refuse_if_any(errors: dict[str, str]) -> None:
    """Raise ``Refused`` with every collected field error, if any."""
    if errors:
        raise Refused(errors)


# --- declared statuses ------------------------------------------------------------------------

def declared_statuses(session: Session, component_ids: Iterable[str]) -> dict[str, str]:
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


def record_declared(session: Session, before: dict[str, str], incident: Incident,
                    now: datetime) -> None:
    """Record (and announce) every declared status that differs from ``before``."""
    after = declared_statuses(session, before)
    for cid, status in after.items():
        if status != before[cid]:
            session.add(ComponentStatusChange(component_id=cid, status=status, source="declared",
                                              at=now, detail={"incident_id": incident.id}))
            component = session.get(Component, cid)
            if component is not None:
                emit_component_event(session, component, before[cid], status, "declared", now)


def apply_components(session: Session, incident: Incident, wanted: Mapping[str, str]
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


def add_update(incident: Incident, *, status: str, body: str, affected: list[dict[str, Any]],
               notify: bool, author: str | None, now: datetime) -> IncidentUpdate:
    """A new update, first in the incident's timeline."""
    update = IncidentUpdate(status=status, body=body, created_at=now, display_at=now,
                            updated_at=now, affected_components=affected, notify=notify,
                            author=author)
    incident.updates.insert(0, update)
    incident.updated_at = now
    return update


def set_status(incident: Incident, status: str, now: datetime) -> None:
    """Set the status and the times it implies (monitoring, resolved/completed)."""
    incident.status = status
    if status == "monitoring" and incident.monitoring_at is None:
        incident.monitoring_at = now
    if status in CLOSING_STATUSES:
        incident.resolved_at = now


def locked_incident(session: Session, incident_id: str, *, draft: bool = False) -> Incident:
    """The incident (or draft), locked for the change; ``Refused`` if there is none."""
    incident = session.get(Incident, incident_id, with_for_update=True)
    if incident is None or incident.is_draft != draft:
        raise Refused("Draf tidak ditemukan." if draft else "Insiden tidak ditemukan.",
                            "incident")
    return incident
