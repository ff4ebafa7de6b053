"""Email subscription tables: subscribers, their deliveries, and the email fan-out's progress.

Personal data is the address, its choices and timestamps, nothing else (UU 27/2022): no name,
no client address (the audit log names the subscriber by id only). ``mail_deliveries`` are
claimed like webhook deliveries (``SKIP LOCKED`` + leases); ``mail_fanouts`` records how far
the email fan-out of each outbox event (``webhook_events``) has gone, in its own rows so the
webhook fan-out's row locks and the email one's never meet.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from statuspage.models.base import Base, BigId, new_id, utcnow

__all__ = ["MailDelivery", "MailFanout", "MailSubscriber"]


class MailSubscriber(Base):
    """One email address (states: pending, active, disabled)."""

    __tablename__ = "mail_subscribers"
    id: Mapped[str] = mapped_column(sa.String(16), primary_key=True, default=new_id)
    #: Lower-cased; one row per address.
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    language: Mapped[str] = mapped_column(sa.String(8), default="id")
    component_ids: Mapped[list[str] | None] = mapped_column(sa.JSON)  # None = all components
    deadline_ids: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # [] = none
    state: Mapped[str] = mapped_column(sa.String(16), default="pending", index=True)
    #: Changes with each confirmation request: the confirmation link's HMAC covers it, so an
    #: older link stops working.
    confirm_nonce: Mapped[str] = mapped_column(sa.String(24))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    confirmed_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    #: Why sending stopped (the SMTP server's permanent answer, the address removed).
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(300))


class MailDelivery(Base):
    """One message to one subscriber (kind: confirm, already, event; states: pending,
    sending, sent, failed, skipped). ``id`` names the message (its ``Message-ID``)."""

    __tablename__ = "mail_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("subscriber_id", "event_id", name="uq_mail_deliveries_pair"),
        sa.Index("ix_mail_deliveries_due", "state", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subscriber_id: Mapped[str] = mapped_column(
        sa.ForeignKey("mail_subscribers.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16), default="event")
    state: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class MailFanout(Base):
    """How far the email fan-out of one outbox event has gone (``done_at`` set: finished)."""

    __tablename__ = "mail_fanouts"
    event_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_events.id", ondelete="CASCADE"), primary_key=True)
    #: The last subscriber id scanned (a crash resumes after it).
    cursor: Mapped[str | None] = mapped_column(sa.String(16))
    recipients: Mapped[int] = mapped_column(default=0)
    done_at: Mapped[datetime | None] = mapped_column(index=True)
