"""Deadlines as data, and the notices that tell an agency what its applicants lost."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from statuspage.models.base import Base, BigId, new_id, utcnow

__all__ = ["NOTICE_STATES", "Deadline", "DeadlineNotice", "NoticeUpdate"]

#: draft (operators only) -> published (public, updated as evidence arrives) -> final.
NOTICE_STATES = ("draft", "published", "final")


class Deadline(Base):
    """A public deadline whose applicants depend on components (seeded from the config, then
    created and edited in the console or the API)."""

    __tablename__ = "deadlines"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    agency: Mapped[str] = mapped_column(sa.String(200))
    name_id: Mapped[str] = mapped_column(sa.String(300))
    name_en: Mapped[str] = mapped_column(sa.String(300), default="")
    closes_at: Mapped[datetime]
    time_zone: Mapped[str] = mapped_column(sa.String(64), default="Asia/Jakarta")
    opened_at: Mapped[datetime | None]
    legal_min_days: Mapped[int | None]
    components: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    window_days: Mapped[int] = mapped_column(default=7)
    patience_s: Mapped[float] = mapped_column(sa.Float, default=30.0)
    demand_profile: Mapped[list[float] | None] = mapped_column(sa.JSON)
    contact: Mapped[str] = mapped_column(sa.String(320), default="")
    #: The agency's decision: the new closing and its wording as announced.
    extended_to: Mapped[datetime | None]
    decision: Mapped[str | None] = mapped_column(sa.Text)
    #: "config" rows follow the config file; once edited elsewhere the config leaves them alone.
    origin: Mapped[str] = mapped_column(sa.String(16), default="config")
    #: The last evaluation's level (none / watch / at_risk / extension_recommended).
    level: Mapped[str] = mapped_column(sa.String(32), default="none")
    evaluated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def effective_close(self) -> datetime:
        """The closing that applies: the extension once the agency has decided one."""
        return self.extended_to or self.closes_at

    @property
    def at(self) -> datetime:
        """The effective closing (the name the status-history impact reads)."""
        return self.effective_close

    @property
    def window_days_delta(self) -> timedelta:
        """From the critical window's start (before the first closing) to the effective one."""
        return self.effective_close - (self.closes_at - timedelta(days=self.window_days))

    def name(self, lang: str = "id") -> str:
        """The name in ``lang`` (Bahasa Indonesia when no English name was given)."""
        return self.name_en if lang == "en" and self.name_en else self.name_id


class DeadlineNotice(Base):
    """The notice for one deadline: drafted on ``at_risk``, published by an operator (or at
    once by configuration), updated as evidence arrives, final after the closing passed."""

    __tablename__ = "deadline_notices"
    id: Mapped[str] = mapped_column(sa.String(16), primary_key=True, default=new_id)
    deadline_id: Mapped[str] = mapped_column(sa.ForeignKey("deadlines.id", ondelete="CASCADE"),
                                             unique=True)
    state: Mapped[str] = mapped_column(sa.String(16), default="draft", index=True)
    level: Mapped[str] = mapped_column(sa.String(32))
    statement_id: Mapped[str] = mapped_column(sa.Text, default="")
    statement_en: Mapped[str] = mapped_column(sa.Text, default="")
    figures: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None]
    final_at: Mapped[datetime | None]
    updates: Mapped[list[NoticeUpdate]] = relationship(
        back_populates="notice", order_by="NoticeUpdate.id.desc()", cascade="all, delete-orphan")
    deadline_row: Mapped[Deadline] = relationship(lazy="joined")


class NoticeUpdate(Base):
    """One entry of a notice's history (kept like incident updates, never rewritten)."""

    __tablename__ = "deadline_notice_updates"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    notice_id: Mapped[str] = mapped_column(
        sa.ForeignKey("deadline_notices.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # drafted|published|update|decision|final
    level: Mapped[str] = mapped_column(sa.String(32))
    body_id: Mapped[str] = mapped_column(sa.Text, default="")
    body_en: Mapped[str] = mapped_column(sa.Text, default="")
    figures: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    author: Mapped[str | None] = mapped_column(sa.String(320))
    notice: Mapped[DeadlineNotice] = relationship(back_populates="updates")
