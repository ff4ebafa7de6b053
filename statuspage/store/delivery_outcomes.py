"""Webhook delivery outcomes: recording a batch of attempts in one transaction.

``record_results`` applies each outcome: success, retry on the schedule with jitter, give up
after the last attempt (the subscription is disabled), 410 disables at once, endpoint back-off
for ``Retry-After`` and the circuit breaker; then the next queued delivery of each subscription
is promoted. Fan-out and claiming are ``statuspage.store.deliveries``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.models import (
    UNFINISHED_STATES,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookSubscription,
)
from statuspage.store.deliveries import promote_next
from statuspage.store.subscriptions import disable_subscription

__all__ = [
    "BREAKER_FAILURES",
    "RETRY_SCHEDULE_S",
    "AttemptOutcome",
    "record_results",
]

#: Standard Webhooks' example schedule: delay before attempt 1, 2, ... 10 (about 3 days).
RETRY_SCHEDULE_S: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000,
                                       86400)
#: Consecutive timeouts/connection errors after which an endpoint is parked (circuit breaker).
BREAKER_FAILURES = 5
_UNFINISHED = UNFINISHED_STATES


@dataclass(frozen=True)
class AttemptOutcome:
    """What one HTTP attempt came to (``outcome``: success, failure, throttled, gone, timeout,
    error, refused)."""

    delivery_id: int
    subscription_id: str
    endpoint: str
    attempt: int
    outcome: str
    status_code: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    excerpt: str | None = None
    retry_after_s: float | None = None
    at: datetime | None = None


def _next_delay(attempt: int, schedule: Sequence[float], rng: random.Random) -> float | None:
    if attempt >= len(schedule):
        return None
    return schedule[attempt] * rng.uniform(0.9, 1.1)  # jitter: retries of a burst spread out


def _endpoint(session: Session, key: str, now: datetime) -> WebhookEndpoint:
    row = session.get(WebhookEndpoint, key, with_for_update=True)
    if row is None:
        row = WebhookEndpoint(key=key, consecutive_failures=0, updated_at=now)
        session.add(row)
    return row


def record_results(session: Session, results: Sequence[AttemptOutcome], *, now: datetime,
                   schedule: Sequence[float] = RETRY_SCHEDULE_S,
                   rng: random.Random | None = None) -> list[str]:
    """Apply a batch of attempt outcomes; returns ids of subscriptions disabled by it."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not security
    disabled: list[str] = []
    session.execute(sa.insert(WebhookAttempt), [
        {"delivery_id": r.delivery_id, "subscription_id": r.subscription_id, "at": r.at or now,
         "attempt": r.attempt, "status_code": r.status_code, "latency_ms": r.latency_ms,
         "outcome": r.outcome, "error": (r.error or "")[:300] or None,
         "response_excerpt": (r.excerpt or "")[:500] or None} for r in results])
    by_code: dict[int | None, list[int]] = {}
    for r in results:
        if r.outcome == "success":
            by_code.setdefault(r.status_code, []).append(r.delivery_id)
    for code, done in by_code.items():
        session.execute(sa.update(WebhookDelivery).where(
            WebhookDelivery.id.in_(done), WebhookDelivery.state.in_(_UNFINISHED)).values(
            state="delivered", delivered_at=now, lease_until=None, last_error=None,
            last_status=code, attempts=WebhookDelivery.attempts + 1))
    healthy = {r.endpoint for r in results if r.outcome in ("success", "failure", "gone")}
    if healthy:
        session.execute(sa.update(WebhookEndpoint).where(
            WebhookEndpoint.key.in_(healthy), WebhookEndpoint.consecutive_failures > 0).values(
            consecutive_failures=0, updated_at=now))
    for r in results:
        if r.outcome == "success":
            continue
        delivery = session.get(WebhookDelivery, r.delivery_id, with_for_update=True)
        if delivery is None or delivery.state != "sending":
            continue  # skipped meanwhile (unsubscribed, disabled)
        delivery.attempts = r.attempt
        delivery.last_status, delivery.last_error = r.status_code, (r.error or "")[:300] or None
        delivery.lease_until = None
        sub = session.get(WebhookSubscription, r.subscription_id)
        if r.outcome == "gone" and sub is not None:
            delivery.state = "failed"
            disable_subscription(session, sub, "410 Gone: the endpoint asked to stop", now=now)
            disabled.append(sub.id)
            continue
        delay = _next_delay(r.attempt, schedule, rng)
        if r.outcome in ("throttled", "timeout", "error"):
            _back_off(session, r, now)
        if delay is None:
            delivery.state = "failed"
            if sub is not None:
                disable_subscription(session, sub, f"every retry failed (last: "
                                     f"{r.status_code or r.error})", now=now)
                disabled.append(sub.id)
            continue
        if r.retry_after_s is not None:
            delay = max(delay, r.retry_after_s)
        delivery.state = "pending"
        delivery.next_attempt_at = now + timedelta(seconds=delay)
    promote_next(session, {r.subscription_id for r in results}, now)
    return disabled


def _back_off(session: Session, r: AttemptOutcome, now: datetime) -> None:
    """Slow an endpoint down: ``Retry-After`` / 429 / 5xx gateway errors, or the breaker."""
    row = _endpoint(session, r.endpoint, now)
    row.updated_at = now
    if r.outcome == "throttled":
        pause = min(max(r.retry_after_s or 5.0, 1.0), 3600.0)
        row.paused_until = max(row.paused_until or now, now + timedelta(seconds=pause))
        row.reason = f"HTTP {r.status_code}"
        _hold(session, r.endpoint, row.paused_until)
        return
    row.consecutive_failures += 1
    if row.consecutive_failures >= BREAKER_FAILURES:
        # parked for 30 s, doubling per further failure up to an hour: a dead endpoint costs
        # one probe-like attempt per pause instead of a timeout per subscription
        extra = row.consecutive_failures - BREAKER_FAILURES
        pause = min(30.0 * (2 ** min(extra, 10)), 3600.0)
        row.paused_until = now + timedelta(seconds=pause)
        row.reason = f"circuit open after {row.consecutive_failures} {r.outcome}s"
        _hold(session, r.endpoint, row.paused_until)


def _hold(session: Session, endpoint: str, until: datetime) -> None:
    """Move a paused endpoint's due deliveries to the end of its pause (so claims, which read
    the due index in order, never wade through them)."""
    session.execute(sa.update(WebhookDelivery).where(
        WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at < until,
        WebhookDelivery.subscription_id.in_(sa.select(WebhookSubscription.id).where(
            WebhookSubscription.endpoint == endpoint))).values(next_attempt_at=until))
