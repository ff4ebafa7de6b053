"""Webhook tables: the event outbox, subscriptions, deliveries, attempts, endpoint state.

``webhook_events`` is the transactional outbox: a row is added in the same transaction as the
change it announces (see ``statuspage.store.outbox``). The worker fans each event out into one
``webhook_deliveries`` row per matching subscription and sends them; every send is logged in
``webhook_attempts``. ``webhook_endpoints`` holds per-endpoint back-off (``Retry-After``, the
circuit breaker) in the database so several workers agree. ``rate_counters`` are fixed-window
request counters for public endpoints (shared by every web process).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from statuspage.models.base import Base, BigId, new_id, utcnow

__all__ = [
    "UNFINISHED_STATES",
    "RateCounter",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "WebhookSubscription",
]


#: Delivery states still owed to the receiver: ``pending`` (its subscription's next, due at
#: ``next_attempt_at``), ``sending`` (leased to a worker), ``queued`` (waits behind the
#: subscription's pending or sending one: delivery is in order per subscription).
UNFINISHED_STATES: tuple[str, ...] = ("pending", "sending", "queued")


class WebhookEvent(Base):
    """One announced change (the outbox row); ``id`` orders events, ``public_id`` names them."""

    __tablename__ = "webhook_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(sa.String(40), unique=True)
    type: Mapped[str] = mapped_column(sa.String(40))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Component ids the event concerns (subscription filters match on them); [] = page-wide.
    component_ids: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    #: Set when deliveries were created; NULL rows are the fan-out queue.
    fanned_out_at: Mapped[datetime | None] = mapped_column(index=True)
    #: How many subscriptions the event was fanned out to (shown to operators).
    subscriber_count: Mapped[int] = mapped_column(default=0)
    #: Only for a test event or verification: the single subscription it goes to.
    only_subscription_id: Mapped[str | None] = mapped_column(sa.String(16))


class WebhookSubscription(Base):
    """An endpoint that receives events (states: pending, active, disabled, unsubscribed,
    expired)."""

    __tablename__ = "webhook_subscriptions"
    id: Mapped[str] = mapped_column(sa.String(16), primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(sa.String(2000))
    #: ``scheme://host:port``: per-endpoint limits, back-off and the circuit breaker key on it.
    endpoint: Mapped[str] = mapped_column(sa.String(300), index=True)
    format: Mapped[str] = mapped_column(sa.String(16), default="statuspage")
    language: Mapped[str] = mapped_column(sa.String(8), default="id")
    component_ids: Mapped[list[str] | None] = mapped_column(sa.JSON)  # None = all components
    event_types: Mapped[list[str] | None] = mapped_column(sa.JSON)  # None = every type
    contact_email: Mapped[str | None] = mapped_column(sa.String(320))
    state: Mapped[str] = mapped_column(sa.String(16), default="pending", index=True)
    secret: Mapped[str] = mapped_column(sa.String(120))
    previous_secret: Mapped[str | None] = mapped_column(sa.String(120))
    previous_secret_until: Mapped[datetime | None]
    #: SHA-256 hex of the management token (the token itself is shown once).
    manage_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: SHA-256 hex of the challenge (statuspage format) or confirmation token (slack format).
    confirm_digest: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    verify_attempts: Mapped[int] = mapped_column(default=0)
    next_verify_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_via: Mapped[str] = mapped_column(sa.String(16), default="public")
    created_by: Mapped[str | None] = mapped_column(sa.String(320))
    confirmed_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(300))
    #: When an operator acknowledged a disabled subscription's banner.
    acknowledged_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One event for one subscription (states: queued, pending, sending, delivered, failed,
    skipped).

    ``event_id`` orders a subscription's deliveries: only the oldest unfinished one is
    ``pending`` (claimable), the others are ``queued`` behind it and promoted one at a time.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_pair"),
        sa.Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        sa.Index("ix_webhook_deliveries_order", "subscription_id", "state", "event_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(
        sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_events.id", ondelete="CASCADE"),
                                          index=True)
    state: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery, for the delivery log (response excerpt is bounded)."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[str] = mapped_column(sa.String(16), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    attempt: Mapped[int]
    status_code: Mapped[int | None]
    latency_ms: Mapped[float | None]
    outcome: Mapped[str] = mapped_column(sa.String(16))
    error: Mapped[str | None] = mapped_column(sa.String(300))
    response_excerpt: Mapped[str | None] = mapped_column(sa.String(500))


class WebhookEndpoint(Base):
    """Back-off state of one ``scheme://host:port`` shared by its subscriptions."""

    __tablename__ = "webhook_endpoints"
    key: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    paused_until: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateCounter(Base):
    """A fixed-window counter (``key`` includes the window start); expired rows are pruned."""

    __tablename__ = "rate_counters"
    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime] = mapped_column(index=True)

