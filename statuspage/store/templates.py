"""Incident templates: prepared texts an operator starts an incident from, and that the probes'
drafts take their public wording from (``statuspage.store.draft_text``)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.models.operators import IncidentTemplate
from statuspage.status import COMPONENT_STATUSES, IMPACTS
from statuspage.store.audit import Actor, record_audit
from statuspage.store.declared import MAX_BODY, MAX_NAME
from statuspage.store.incidents import INCIDENT_UPDATE_STATUSES
from statuspage.store.refusal import Refused, clean

__all__ = ["delete_template", "list_templates", "save_template"]


def list_templates(session: Session) -> Sequence[IncidentTemplate]:
    """Incident templates in display order."""
    return session.scalars(sa.select(IncidentTemplate)
                           .order_by(IncidentTemplate.position, IncidentTemplate.name)).all()


def save_template(session: Session, *, name: str, status: str, impact: str, body: str,
                  components: dict[str, str], template_id: str | None = None,
                  actor: Actor | None = None) -> IncidentTemplate:
    """Create (or, with ``template_id``, replace) a template; statuses are checked, component
    ids are not (a template may name components that only some pages configure)."""
    name, body = clean(name, "name").strip(), clean(body, "body").strip()
    if not name or len(name) > MAX_NAME:
        raise Refused(f"Judul templat wajib diisi (maksimal {MAX_NAME} karakter).", "name")
    if len(body) > MAX_BODY:
        raise Refused(f"Pesan maksimal {MAX_BODY} karakter.", "body")
    if status not in INCIDENT_UPDATE_STATUSES:
        raise Refused("Status insiden tidak dikenal.", "status")
    if impact not in IMPACTS:
        raise Refused("Dampak tidak dikenal.", "impact")
    if any(s not in COMPONENT_STATUSES for s in components.values()):
        raise Refused("Status komponen tidak dikenal.", "components")
    row = session.get(IncidentTemplate, template_id) if template_id else None
    if template_id and row is None:
        raise Refused("Templat tidak ditemukan.", "name")
    if row is None:
        last = session.scalar(sa.select(sa.func.max(IncidentTemplate.position)))
        row = IncidentTemplate(position=(last or 0) + 1)
        session.add(row)
    row.name, row.status, row.impact, row.body = name, status, impact, body
    row.components = dict(components)
    session.flush()
    record_audit(session, actor, "template.save", target=row.id, detail={"name": name})
    return row


def delete_template(session: Session, template_id: str, *, actor: Actor | None = None) -> bool:
    """Remove a template; returns whether it existed."""
    row = session.get(IncidentTemplate, template_id)
    if row is None:
        return False
    session.delete(row)
    record_audit(session, actor, "template.delete", target=template_id, detail={"name": row.name})
    return True
