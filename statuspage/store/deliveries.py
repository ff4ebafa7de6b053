"""Webhook deliveries: fan-out from the outbox, claiming due sends, the queue's upkeep.

- ``fan_out``: for the oldest outbox event not yet fanned out (``SKIP LOCKED`` so several
  workers share the work), one delivery per matching active subscription, written in chunks
  that each commit; the last chunk marks the event done. A crash resumes where it stopped.
- ``claim_due``: the due deliveries that are their subscription's oldest unfinished one
  (in order per subscription), whose endpoint is not paused, locked with
  ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite has one claimer) and leased for
  ``lease_s``: a worker killed mid-send leaves a lease that expires (``release_leases`` puts it
  back in the queue), and the delivery is sent again (at least once; the ``webhook-id`` is
  the same, so receivers drop the duplicate).
- ``promote_next``: the oldest queued delivery of a subscription becomes pending once nothing
  of it is pending or sending; ``replay_delivery`` sends one again, ``delivery_log`` and
  ``queue_metrics`` read attempts and the queue, ``prune`` forgets finished deliveries.

Recording the outcomes of attempts (retries, giving up, back-off) is
``statuspage.store.delivery_outcomes``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from statuspage.models import (
    UNFINISHED_STATES,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookSubscription,
    utcnow,
)
from statuspage.store.audit import Actor, record_audit
from statuspage.store.subscriptions import signing_secrets

__all__ = [
    "Claimed",
    "claim_due",
    "delivery_log",
    "fan_out",
    "promote_next",
    "prune",
    "queue_metrics",
    "release_leases",
    "replay_delivery",
]

_UNFINISHED = UNFINISHED_STATES


@dataclass(frozen=True)
class Claimed:
    """A delivery leased to this worker, with what sending it needs."""

    delivery_id: int
    attempt: int
    subscription_id: str
    url: str
    endpoint: str
    format: str
    language: str
    secrets: tuple[str, ...]
    event_public_id: str
    event_type: str
    event_occurred_at: datetime
    event_payload: dict[str, Any]

    @property
    def message_id(self) -> str:
        """``webhook-id``: the same on every attempt, different per subscription."""
        return f"msg_{self.event_public_id[4:]}_{self.subscription_id}"


def _matches(sub_components: list[str] | None, sub_types: list[str] | None,
             event: WebhookEvent) -> bool:
    if sub_types and event.type not in sub_types and event.type != "test":
        return False
    if not sub_components or not event.component_ids:
        return True
    return bool(set(sub_components) & set(event.component_ids))


def fan_out(session: Session, page_status: Callable[[Session], Mapping[str, str]],
            chunk: int = 50, now: datetime | None = None) -> int:
    """Create up to ``chunk`` deliveries of the oldest event not fanned out yet.

    Subscriptions are taken in id order and each chunk commits on its own, so the first
    deliveries of a fan-out to 10,000 subscriptions go out while the rest are being written;
    the event is marked done with its last chunk. Resuming after a crash continues after the
    last subscription id scanned (inserts ignore a pair that exists, so two workers on one
    event cannot duplicate). Returns how many deliveries were created (at least 1 when an
    event was worked on, so the caller comes back for the next chunk).
    """
    now = now or utcnow()
    event = session.scalars(
        sa.select(WebhookEvent).where(WebhookEvent.fanned_out_at.is_(None))
        .order_by(WebhookEvent.id).limit(1).with_for_update(skip_locked=True)).first()
    if event is None:
        return 0
    # "_cursor": the last subscription id scanned (kept in the event row, so a crash resumes)
    cursor = event.payload.get("_cursor")
    if cursor is None and "_page" not in event.payload:
        event.payload = {**event.payload, "_page": dict(page_status(session))}
    size = chunk if cursor is None else chunk * 40  # a small first chunk: first sends sooner
    query = (sa.select(WebhookSubscription.id, WebhookSubscription.component_ids,
                       WebhookSubscription.event_types)
             .where(WebhookSubscription.state == "active").order_by(WebhookSubscription.id)
             .limit(size))
    if cursor is not None:
        query = query.where(WebhookSubscription.id > cursor)
    if event.only_subscription_id is not None:
        query = query.where(WebhookSubscription.id == event.only_subscription_id)
    scanned = session.execute(query).all()
    batch = [s.id for s in scanned if _matches(s.component_ids, s.event_types, event)]
    if batch:
        busy = set(session.scalars(sa.select(WebhookDelivery.subscription_id).where(
            WebhookDelivery.subscription_id.in_(batch),
            WebhookDelivery.state.in_(_UNFINISHED)).distinct()))
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(insert(WebhookDelivery).on_conflict_do_nothing(), [
            {"subscription_id": sid, "event_id": event.id,
             "state": "queued" if sid in busy else "pending", "attempts": 0,
             "next_attempt_at": now, "created_at": now} for sid in batch])
    if scanned:
        event.payload = {**event.payload, "_cursor": scanned[-1].id}
    if len(scanned) < size:
        event.fanned_out_at = now
        event.subscriber_count = session.scalar(
            sa.select(sa.func.count()).select_from(WebhookDelivery)
            .where(WebhookDelivery.event_id == event.id)) or 0
    return max(len(batch), 1)


def claim_due(session: Session, *, now: datetime, limit: int, lease_s: float,
              busy: Mapping[str, int] | None = None, per_endpoint: int = 8) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries, at most ``per_endpoint`` in flight per endpoint
    (counting ``busy``, this worker's sends already in flight).

    Only heads of subscription queues are ``pending`` and a paused endpoint's deliveries are
    pushed past its pause, so the claim is one ordered range scan of the due index that stops
    after ``2 * limit`` rows, however long the queue is.
    """
    d = WebhookDelivery
    rows = session.execute(
        sa.select(d.id, d.attempts, d.subscription_id, d.event_id)
        .where(d.state == "pending", d.next_attempt_at <= now)
        .order_by(d.next_attempt_at, d.id).limit(limit * 2)
        .with_for_update(skip_locked=True)).all()
    if not rows:
        return []
    sub = WebhookSubscription
    subs = {r.id: r for r in session.execute(
        sa.select(sub.id, sub.url, sub.endpoint, sub.format, sub.language, sub.secret,
                  sub.previous_secret, sub.previous_secret_until, sub.state)
        .where(sub.id.in_({r.subscription_id for r in rows})))}
    paused = set(session.scalars(sa.select(WebhookEndpoint.key).where(
        WebhookEndpoint.key.in_({s.endpoint for s in subs.values()}),
        WebhookEndpoint.paused_until > now)))
    load = dict(busy or {})
    chosen: list[Any] = []
    for row in rows:
        s = subs.get(row.subscription_id)
        if s is None or s.state != "active" or s.endpoint in paused:
            continue
        if len(chosen) >= limit:
            break
        if load.get(s.endpoint, 0) >= per_endpoint:
            continue
        load[s.endpoint] = load.get(s.endpoint, 0) + 1
        chosen.append(row)
    if not chosen:
        return []
    session.execute(sa.update(d).where(d.id.in_([r.id for r in chosen])).values(
        state="sending", lease_until=now + timedelta(seconds=lease_s)))
    events = {e.id: e for e in session.execute(
        sa.select(WebhookEvent.id, WebhookEvent.public_id, WebhookEvent.type,
                  WebhookEvent.occurred_at, WebhookEvent.payload)
        .where(WebhookEvent.id.in_({r.event_id for r in chosen})))}
    claimed = []
    for r in chosen:
        s, e = subs[r.subscription_id], events[r.event_id]
        keys = signing_secrets(s.secret, s.previous_secret, s.previous_secret_until, now)
        claimed.append(Claimed(r.id, r.attempts + 1, s.id, s.url, s.endpoint, s.format,
                               s.language, tuple(keys), e.public_id, e.type, e.occurred_at,
                               e.payload))
    return claimed


def promote_next(session: Session, subscription_ids: Iterable[str] | None = None,
                 now: datetime | None = None) -> int:
    """Make the oldest ``queued`` delivery ``pending`` for each subscription (of
    ``subscription_ids``, or all) that has nothing pending or sending any more."""
    d = WebhookDelivery
    head = aliased(WebhookDelivery)
    waiting = (sa.select(d.subscription_id, sa.func.min(d.event_id))
               .where(d.state == "queued",
                      ~sa.select(head.id).where(head.subscription_id == d.subscription_id,
                                                head.state.in_(("pending", "sending")))
                      .exists())
               .group_by(d.subscription_id))
    if subscription_ids is not None:
        ids = list(set(subscription_ids))
        if not ids:
            return 0
        waiting = waiting.where(d.subscription_id.in_(ids))
    pairs = session.execute(waiting).all()
    for sid, event_id in pairs:
        session.execute(sa.update(d).where(d.subscription_id == sid, d.event_id == event_id,
                                           d.state == "queued")
                        .values(state="pending", next_attempt_at=now or utcnow()))
    return len(pairs)


def release_leases(session: Session, now: datetime | None = None,
                   model: Any = WebhookDelivery) -> int:
    """Return leased deliveries to the queue: those whose lease expired (a worker died
    mid-send), or with ``now=None`` every one (SQLite's single worker, at start).

    ``model``: any delivery table with ``state`` and ``lease_until`` (email uses it too).
    """
    where = [model.state == "sending"]
    if now is not None:
        where.append(model.lease_until < now)
    result: Any = session.execute(sa.update(model).where(*where).values(
        state="pending", lease_until=None))
    return int(result.rowcount or 0)


def replay_delivery(session: Session, delivery_id: int, *, actor: Actor | None = None,
                    now: datetime | None = None) -> WebhookDelivery | None:
    """Send a delivery again (same ``webhook-id``), whatever its state, if its subscription is
    active (audited as ``webhook.replay`` when ``actor`` is given)."""
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None:
        return None
    sub = session.get(WebhookSubscription, delivery.subscription_id)
    if sub is None or sub.state != "active":
        return None
    ahead = session.scalar(sa.select(WebhookDelivery.id).where(
        WebhookDelivery.subscription_id == sub.id, WebhookDelivery.id != delivery.id,
        WebhookDelivery.state.in_(("pending", "sending"))).limit(1))
    # behind the one being sent, if any; promotion takes the oldest event first
    delivery.state = "queued" if ahead is not None else "pending"
    delivery.next_attempt_at, delivery.lease_until = now or utcnow(), None
    if actor is not None:
        record_audit(session, actor, "webhook.replay", target=sub.id,
                     detail={"delivery_id": delivery.id})
    return delivery


def delivery_log(session: Session, subscription_id: str, limit: int = 100
                 ) -> Sequence[Any]:
    """Recent attempts of a subscription with their event: newest first."""
    return session.execute(
        sa.select(WebhookAttempt.at, WebhookAttempt.attempt, WebhookAttempt.status_code,
                  WebhookAttempt.latency_ms, WebhookAttempt.outcome, WebhookAttempt.error,
                  WebhookAttempt.response_excerpt, WebhookAttempt.delivery_id,
                  WebhookEvent.type, WebhookEvent.public_id, WebhookDelivery.state)
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookAttempt.subscription_id == subscription_id)
        .order_by(WebhookAttempt.id.desc()).limit(limit)).all()


def queue_metrics(session: Session, now: datetime | None = None) -> dict[str, Any]:
    """Totals for ``/metrics``: attempts by outcome, queue depth, oldest undelivered age."""
    now = now or utcnow()
    outcomes = dict(session.execute(
        sa.select(WebhookAttempt.outcome, sa.func.count()).group_by(WebhookAttempt.outcome)
    ).all())
    depth = session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery).where(
        WebhookDelivery.state.in_(_UNFINISHED))) or 0
    oldest = session.scalar(sa.select(sa.func.min(WebhookDelivery.created_at)).where(
        WebhookDelivery.state.in_(_UNFINISHED)))
    unfanned = session.scalar(sa.select(sa.func.min(WebhookEvent.occurred_at)).where(
        WebhookEvent.fanned_out_at.is_(None)))
    starts = [t for t in (oldest, unfanned) if t is not None]
    age = (now - min(starts)).total_seconds() if starts else 0.0
    return {"outcomes": {str(k): int(v) for k, v in outcomes.items()}, "depth": int(depth),
            "oldest_age_s": max(age, 0.0)}


def prune(session: Session, now: datetime | None = None, keep_days: int = 30) -> dict[str, int]:
    """Forget finished deliveries, their attempts and fanned-out events after ``keep_days``."""
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    deleted: dict[str, int] = {}
    statements: dict[str, Any] = {
        "attempts": sa.delete(WebhookAttempt).where(WebhookAttempt.at < cutoff),
        "deliveries": sa.delete(WebhookDelivery).where(
            WebhookDelivery.created_at < cutoff, WebhookDelivery.state.not_in(_UNFINISHED)),
        "events": sa.delete(WebhookEvent).where(
            WebhookEvent.fanned_out_at < cutoff,
            ~sa.select(WebhookDelivery.id).where(
                WebhookDelivery.event_id == WebhookEvent.id).exists()),
    }
    for name, statement in statements.items():
        result: Any = session.execute(statement)
        deleted[name] = int(result.rowcount or 0)
    return deleted
