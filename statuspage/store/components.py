"""Components: keep the table in step with the config; read and set measured status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.config import StatusConfig
from statuspage.db import bump_changes
from statuspage.models import Component, ComponentStatusChange, utcnow
from statuspage.status import COMPONENT_STATUSES
from statuspage.store.outbox import emit_component_event

__all__ = ["COMPONENT_STATUSES", "list_components", "measured_statuses", "set_measured_status",
           "sync_components"]



def sync_components(session: Session, config: StatusConfig) -> None:
    """Insert new components, update names/groups/order, deactivate ones no longer configured."""
    existing = {c.id: c for c in session.scalars(sa.select(Component))}
    changed = False
    for position, cc in enumerate(config.components):
        row = existing.pop(cc.id, None)
        values = {"name": cc.name, "description": cc.description, "group_name": cc.group,
                  "position": position, "active": True}
        if row is None:
            session.add(Component(id=cc.id, **values))
            changed = True
        elif any(getattr(row, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            changed = True
    for row in existing.values():  # kept for history, hidden from the page
        if row.active:
            row.active = False
            changed = True
    if changed:
        bump_changes(session)


def list_components(session: Session, *, active_only: bool = True) -> Sequence[Component]:
    """Components in page order."""
    query = sa.select(Component).order_by(Component.position, Component.id)
    if active_only:
        query = query.where(Component.active.is_(True))
    return session.scalars(query).all()


def measured_statuses(session: Session) -> dict[str, str]:
    """Each active component's measured status, by id."""
    rows = session.execute(sa.select(Component.id, Component.measured_status)
                           .where(Component.active.is_(True)))
    return {component_id: status for component_id, status in rows}


def set_measured_status(session: Session, component_id: str, status: str,
                        detail: dict[str, object] | None = None,
                        now: datetime | None = None) -> bool:
    """Record a new measured status (at ``now``, the evaluation's time); returns whether it
    changed."""
    if status not in COMPONENT_STATUSES:
        raise ValueError(f"unknown component status {status!r}")
    row = session.get(Component, component_id)
    if row is None or row.measured_status == status:
        return False
    now = now or utcnow()
    previous = row.measured_status
    row.measured_status = status
    row.measured_since = now
    session.add(ComponentStatusChange(component_id=component_id, status=status,
                                      source="measured", at=now, detail=detail))
    emit_component_event(session, row, previous, status, "measured", now)
    bump_changes(session)
    return True
