"""Components, incidents (and scheduled maintenance), their updates, and the change counter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from statuspage.models.base import Base, BigId, new_id, utcnow

__all__ = [
    "ChangeCounter",
    "Component",
    "ComponentStatusChange",
    "Incident",
    "IncidentComponent",
    "IncidentUpdate",
    "UpdateEdit",
]


class ChangeCounter(Base):
    """One row whose value grows on every change a public page shows.

    Every web process polls it (at most once a second) to know when its rendered-bytes cache is
    out of date; that is what makes the cache correct with many processes on one PostgreSQL.
    """

    __tablename__ = "change_counter"
    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Component(Base):
    """A component from the config, with the status measured by the probes."""

    __tablename__ = "components"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    group_name: Mapped[str | None] = mapped_column(sa.String(200))
    position: Mapped[int] = mapped_column(default=0)
    measured_status: Mapped[str] = mapped_column(sa.String(32), default="operational")
    measured_since: Mapped[datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ComponentStatusChange(Base):
    """A change of a component's shown status (history for uptime and impact evidence)."""

    __tablename__ = "component_status_changes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    component_id: Mapped[str] = mapped_column(sa.ForeignKey("components.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(32))
    source: Mapped[str] = mapped_column(sa.String(16))  # "measured" | "declared"
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)


class Incident(Base):
    """An incident or, with ``kind == "maintenance"``, a scheduled maintenance (as Statuspage).

    A draft (``is_draft``) is created from probe evidence and is invisible to the public until an
    operator publishes it.
    """

    __tablename__ = "incidents"
    id: Mapped[str] = mapped_column(sa.String(16), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(sa.String(16), default="incident", index=True)
    name: Mapped[str] = mapped_column(sa.String(300))
    status: Mapped[str] = mapped_column(sa.String(32))
    impact: Mapped[str] = mapped_column(sa.String(16), default="none")
    is_draft: Mapped[bool] = mapped_column(default=False, index=True)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    monitoring_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    scheduled_for: Mapped[datetime | None]
    scheduled_until: Mapped[datetime | None]
    auto_transition: Mapped[bool] = mapped_column(default=True)
    postmortem_body: Mapped[str | None] = mapped_column(sa.Text)
    postmortem_published_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(sa.String(320))

    updates: Mapped[list[IncidentUpdate]] = relationship(
        back_populates="incident", order_by="IncidentUpdate.display_at.desc()",
        cascade="all, delete-orphan",
    )
    components: Mapped[list[IncidentComponent]] = relationship(
        back_populates="incident", cascade="all, delete-orphan"
    )


class IncidentComponent(Base):
    """A component an incident affects, with the status the operator declared for it."""

    __tablename__ = "incident_components"
    incident_id: Mapped[str] = mapped_column(
        sa.ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    component_id: Mapped[str] = mapped_column(sa.ForeignKey("components.id"), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(32))
    incident: Mapped[Incident] = relationship(back_populates="components")


class IncidentUpdate(Base):
    """One message in an incident's timeline (Markdown body, rendered and sanitised on output)."""

    __tablename__ = "incident_updates"
    id: Mapped[str] = mapped_column(sa.String(16), primary_key=True, default=new_id)
    incident_id: Mapped[str] = mapped_column(
        sa.ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(32))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    display_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    affected_components: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    notify: Mapped[bool] = mapped_column(default=False)
    author: Mapped[str | None] = mapped_column(sa.String(320))
    incident: Mapped[Incident] = relationship(back_populates="updates")


class UpdateEdit(Base):
    """The previous text of an update that an operator corrected (edit history)."""

    __tablename__ = "update_edits"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    update_id: Mapped[str] = mapped_column(
        sa.ForeignKey("incident_updates.id", ondelete="CASCADE"), index=True
    )
    previous_body: Mapped[str] = mapped_column(sa.Text)
    edited_at: Mapped[datetime] = mapped_column(default=utcnow)
    editor: Mapped[str | None] = mapped_column(sa.String(320))
