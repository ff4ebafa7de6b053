"""Email deliveries: fan-out from the event outbox, claiming due messages, recording results.

The same outbox as webhooks (``webhook_events``, written in the change's transaction) and the
same guarantees:

- ``fan_out``: for the oldest event of a type told by email that is not fanned out for email
  yet, one delivery per matching active subscriber, in chunks that each commit (progress in
  ``mail_fanouts``, locked with ``SKIP LOCKED`` so several workers share the work and a crash
  resumes after the last subscriber scanned; inserts ignore a pair that exists).
- ``claim_due``: due deliveries, locked with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite
  has one claimer) and leased for ``lease_s``: a worker killed mid-send leaves leases that
  expire (``release_leases``), and the message is sent again with the same ``Message-ID``
  (at least once).
- ``record_results``: one transaction per batch: sent; a temporary refusal (SMTP 4xx) or a
  connection failure is retried on ``RETRY_SCHEDULE_S`` with jitter; a permanent refusal (5xx)
  disables the address with the server's reason; a 4xx still failing after the last retry
  disables it too. Unlike webhooks there is no order per subscriber: each message stands alone.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from statuspage.models import MailDelivery, MailFanout, MailSubscriber, WebhookEvent, utcnow
from statuspage.store import deliveries as webhook_deliveries
from statuspage.store.mail_subscribers import MAIL_EVENT_TYPES, disable

__all__ = [
    "RETRY_SCHEDULE_S",
    "MailClaim",
    "MailResult",
    "claim_due",
    "fan_out",
    "matches",
    "prune",
    "record_results",
    "release_leases",
]

#: Delay before attempt 1, 2, ...: a mail server's greylisting usually clears within minutes;
#: about 2.5 days in all.
RETRY_SCHEDULE_S: tuple[float, ...] = (0, 60, 300, 1800, 7200, 21600, 43200, 86400, 86400)


@dataclass(frozen=True)
class MailClaim:
    """A message leased to this worker, with what building it needs."""

    delivery_id: int
    attempt: int
    kind: str
    subscriber_id: str
    email: str
    language: str
    confirm_nonce: str
    created_at: datetime
    event_public_id: str | None = None
    event_type: str | None = None
    event_occurred_at: datetime | None = None
    event_payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class MailResult:
    """How sending one message went (``outcome``: sent, temporary, permanent, error)."""

    delivery_id: int
    subscriber_id: str
    attempt: int
    outcome: str
    detail: str | None = None


def matches(component_ids: list[str] | None, deadline_ids: list[str] | None,
            event_type: str, event_components: list[str], payload: dict[str, Any]) -> bool:
    """Whether a subscriber with these choices is told of an event: a deadline notice only
    for a chosen deadline; anything else for a chosen component (or all, or page-wide)."""
    if event_type == "deadline.notice":
        deadline = payload.get("deadline")
        return isinstance(deadline, dict) and deadline.get("id") in (deadline_ids or ())
    if not component_ids or not event_components:
        return True
    return bool(set(component_ids) & set(event_components))


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def fan_out(session: Session, chunk: int = 500, now: datetime | None = None) -> int:
    """Create deliveries for up to ``chunk`` subscribers of the oldest event not fanned out
    for email. Returns how many subscribers were scanned plus one when an event was worked on
    (so the caller comes back at once), 0 when there was nothing to do."""
    now = now or utcnow()
    done = sa.select(MailFanout.event_id).where(MailFanout.event_id == WebhookEvent.id,
                                                MailFanout.done_at.is_not(None))
    event = session.execute(
        sa.select(WebhookEvent.id, WebhookEvent.type, WebhookEvent.component_ids,
                  WebhookEvent.payload)
        .where(WebhookEvent.type.in_(MAIL_EVENT_TYPES),
               WebhookEvent.only_subscription_id.is_(None), ~done.exists())
        .order_by(WebhookEvent.id).limit(1)).first()
    if event is None:
        return 0
    session.execute(_insert(session)(MailFanout).values(event_id=event.id, recipients=0)
                    .on_conflict_do_nothing(index_elements=[MailFanout.event_id]))
    progress = session.scalars(sa.select(MailFanout).where(
        MailFanout.event_id == event.id, MailFanout.done_at.is_(None))
        .with_for_update(skip_locked=True)).first()
    if progress is None:
        return 0  # another worker is on it
    s = MailSubscriber
    query = (sa.select(s.id, s.component_ids, s.deadline_ids).where(s.state == "active")
             .order_by(s.id).limit(chunk))
    if progress.cursor is not None:
        query = query.where(s.id > progress.cursor)
    scanned = session.execute(query).all()
    batch = [r.id for r in scanned if matches(r.component_ids, r.deadline_ids, event.type,
                                              event.component_ids or [], event.payload)]
    if batch:
        session.execute(_insert(session)(MailDelivery).on_conflict_do_nothing(), [
            {"subscriber_id": sid, "event_id": event.id, "kind": "event", "state": "pending",
             "attempts": 0, "next_attempt_at": now, "created_at": now} for sid in batch])
        progress.recipients += len(batch)
    if scanned:
        progress.cursor = scanned[-1].id
    if len(scanned) < chunk:
        progress.done_at = now
    return len(scanned) + 1


def claim_due(session: Session, *, now: datetime, limit: int, lease_s: float
              ) -> list[MailClaim]:
    """Lease up to ``limit`` due messages (oldest due first)."""
    d = MailDelivery
    rows = session.execute(
        sa.select(d.id, d.attempts, d.kind, d.subscriber_id, d.event_id, d.created_at)
        .where(d.state == "pending", d.next_attempt_at <= now)
        .order_by(d.next_attempt_at, d.id).limit(limit)
        .with_for_update(skip_locked=True)).all()
    if not rows:
        return []
    subs = {r.id: r for r in session.execute(
        sa.select(MailSubscriber.id, MailSubscriber.email, MailSubscriber.language,
                  MailSubscriber.confirm_nonce, MailSubscriber.state)
        .where(MailSubscriber.id.in_({r.subscriber_id for r in rows})))}
    events = {e.id: e for e in session.execute(
        sa.select(WebhookEvent.id, WebhookEvent.public_id, WebhookEvent.type,
                  WebhookEvent.occurred_at, WebhookEvent.payload)
        .where(WebhookEvent.id.in_({r.event_id for r in rows if r.event_id is not None})))}
    claimed: list[MailClaim] = []
    stale: list[int] = []
    for r in rows:
        sub = subs.get(r.subscriber_id)
        # an event message only to a confirmed address; the confirmation only while pending
        wanted = {"event": "active", "already": "active", "confirm": "pending"}.get(r.kind)
        if sub is None or sub.state != wanted:
            stale.append(r.id)
            continue
        e = events.get(r.event_id) if r.event_id is not None else None
        claimed.append(MailClaim(
            r.id, r.attempts + 1, r.kind, sub.id, sub.email, sub.language, sub.confirm_nonce,
            r.created_at, e.public_id if e else None, e.type if e else None,
            e.occurred_at if e else None, e.payload if e else None))
    if stale:
        session.execute(sa.update(d).where(d.id.in_(stale)).values(state="skipped"))
    if claimed:
        session.execute(sa.update(d).where(d.id.in_([c.delivery_id for c in claimed])).values(
            state="sending", lease_until=now + timedelta(seconds=lease_s)))
    return claimed


def release_leases(session: Session, now: datetime | None = None) -> int:
    """Put leased messages back in the queue: those whose lease expired (a worker died
    mid-send), or with ``now=None`` every one (SQLite's single worker, at start)."""
    return webhook_deliveries.release_leases(session, now, MailDelivery)


def record_results(session: Session, results: Sequence[MailResult], *, now: datetime,
                   schedule: Sequence[float] = RETRY_SCHEDULE_S,
                   rng: random.Random | None = None) -> list[str]:
    """Apply a batch of outcomes; returns the ids of subscribers disabled by it."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not security
    sent = [r.delivery_id for r in results if r.outcome == "sent"]
    if sent:
        session.execute(sa.update(MailDelivery).where(
            MailDelivery.id.in_(sent), MailDelivery.state == "sending").values(
            state="sent", sent_at=now, lease_until=None, last_error=None,
            attempts=MailDelivery.attempts + 1))
    disabled: list[str] = []
    for r in results:
        if r.outcome == "sent":
            continue
        delivery = session.get(MailDelivery, r.delivery_id, with_for_update=True)
        if delivery is None or delivery.state != "sending":
            continue  # deleted or skipped meanwhile (unsubscribed)
        delivery.attempts, delivery.lease_until = r.attempt, None
        delivery.last_error = (r.detail or r.outcome)[:300]
        retry = r.attempt < len(schedule) and r.outcome != "permanent"
        if retry:
            delivery.state = "pending"
            delay = schedule[r.attempt] * rng.uniform(0.9, 1.1)
            delivery.next_attempt_at = now + timedelta(seconds=delay)
            continue
        delivery.state = "failed"
        if r.outcome == "permanent":
            reason = r.detail or "refused"
        elif r.outcome == "temporary":
            reason = f"every retry refused (last: {r.detail})"
        else:
            continue  # our relay was unreachable: not the address's fault
        if disable(session, r.subscriber_id, reason, now=now):
            disabled.append(r.subscriber_id)
    return disabled


def prune(session: Session, now: datetime | None = None, keep_days: int = 30) -> int:
    """Forget finished deliveries after ``keep_days``."""
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    result: Any = session.execute(sa.delete(MailDelivery).where(
        MailDelivery.created_at < cutoff, MailDelivery.state.in_(("sent", "failed", "skipped"))))
    return int(result.rowcount or 0)
