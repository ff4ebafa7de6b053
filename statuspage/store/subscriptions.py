"""Webhook subscriptions: subscribe, confirm, manage (rotate, filters, test), unsubscribe, disable.

States: ``pending`` (created; its URL has not proven ownership yet: no event is sent),
``active``, ``disabled`` (by a 410 answer, by failing every retry, or by an operator),
``unsubscribed``, ``expired`` (still pending 24 h after creation). Leaving ``active`` marks the
subscription's undelivered deliveries ``skipped``.

Secrets: the management token is shown once and stored as a SHA-256 digest (``manage_digest``);
the signing secret must stay readable to sign (HMAC needs the key). A rotation keeps the
previous secret valid for 24 h (both sign meanwhile). The unsubscribe link in every delivery
carries an HMAC of the subscription id under the page's secret key (nothing stored).
Every verb writes its audit entry in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.auth import new_secret as new_token
from statuspage.auth import token_digest
from statuspage.models import (
    UNFINISHED_STATES,
    Component,
    WebhookDelivery,
    WebhookSubscription,
    utcnow,
)
from statuspage.store.audit import Actor, record_audit
from statuspage.store.outbox import EVENT_TYPES, TEST_EVENT, emit_event
from statuspage.store.refusal import Refused
from statuspage.webhooks.formats import FORMATS
from statuspage.webhooks.signing import new_secret
from statuspage.webhooks.ssrf import UrlRefused, check_url

__all__ = [
    "EMAIL_PATTERN",
    "LANGUAGES",
    "PENDING_TTL",
    "ROTATION_OVERLAP",
    "SubscriptionError",
    "SubscriptionRequest",
    "acknowledge",
    "activate",
    "disabled_alerts",
    "confirm_by_token",
    "due_verifications",
    "expire_pending",
    "record_verification",
    "create_subscription",
    "disable_subscription",
    "find_by_manage_token",
    "list_subscriptions",
    "rotate_secret",
    "send_test_event",
    "signing_secrets",
    "unsubscribe",
    "unsubscribe_token",
    "unsubscribe_token_valid",
    "update_filters",
]

LANGUAGES: tuple[str, ...] = ("id", "en")
PENDING_TTL = timedelta(hours=24)
ROTATION_OVERLAP = timedelta(hours=24)
#: A plausible email address (the mail server has the last word).
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


class SubscriptionError(Refused):
    """Refused subscription input; ``errors`` maps field names to messages (id / en)."""


@dataclass(frozen=True)
class SubscriptionRequest:
    """What a subscriber (or operator) asks for; validated by ``create_subscription``."""

    url: str
    components: Sequence[str] | None = None  # None or empty: every component
    event_types: Sequence[str] | None = None  # None or empty: every type
    language: str = "id"
    format: str = "statuspage"
    contact_email: str | None = None


def _filters(session: Session, errors: dict[str, str], components: Iterable[str] | None,
             event_types: Iterable[str] | None) -> tuple[list[str] | None, list[str] | None]:
    wanted = sorted({str(c) for c in components or ()})
    known = set(session.scalars(sa.select(Component.id).where(Component.active.is_(True))))
    unknown = [c for c in wanted if c not in known]
    if unknown:
        errors["components"] = (f"Komponen tidak dikenal / Unknown component: "
                                f"{unknown[0][:64]}.")
    types = sorted({str(t) for t in event_types or ()})
    bad = [t for t in types if t not in EVENT_TYPES]
    if bad:
        errors["event_types"] = (f"Jenis peristiwa tidak dikenal / Unknown event type: "
                                 f"{bad[0][:40]}.")
    return (wanted or None), (types or None)


def create_subscription(session: Session, request: SubscriptionRequest, *, actor: Actor,
                        via: str, allow_private: bool, now: datetime | None = None
                        ) -> tuple[WebhookSubscription, str]:
    """Create a pending subscription; returns it and its management token (shown once)."""
    now = now or utcnow()
    errors: dict[str, str] = {}
    target = None
    try:
        target = check_url(request.url or "", allow_private=allow_private)
    except UrlRefused as exc:
        errors["url"] = str(exc)
    components, types = _filters(session, errors, request.components, request.event_types)
    if request.language not in LANGUAGES:
        errors["language"] = "Bahasa harus id atau en / Language must be id or en."
    if request.format not in FORMATS:
        errors["format"] = ("Format harus statuspage atau slack / Format must be statuspage "
                            "or slack.")
    email = (request.contact_email or "").strip().lower() or None
    if email is not None and not EMAIL_PATTERN.match(email):
        errors["contact_email"] = "Alamat email tidak valid / Invalid email address."
    if errors or target is None:
        raise SubscriptionError(errors)
    token = new_token("wsm_")
    sub = WebhookSubscription(
        url=target.url, endpoint=target.endpoint, format=request.format,
        language=request.language, component_ids=components, event_types=types,
        contact_email=email, state="pending", secret=new_secret(),
        manage_digest=token_digest(token), next_verify_at=now, created_at=now,
        created_via=via, created_by=actor.name)
    session.add(sub)
    session.flush()
    record_audit(session, actor, "webhook.subscribe", target=sub.id,
                 detail={"url": target.url, "format": request.format, "via": via}, at=now)
    return sub, token


def find_by_manage_token(session: Session, token: str) -> WebhookSubscription | None:
    """The subscription a management token opens (None for unknown or malformed tokens)."""
    if not token or len(token) > 100:
        return None
    return session.scalars(sa.select(WebhookSubscription).where(
        WebhookSubscription.manage_digest == token_digest(token))).first()


def confirm_by_token(session: Session, token: str, *, now: datetime | None = None
                     ) -> WebhookSubscription | None:
    """Activate a pending Slack-format subscription from the link in its test message."""
    if not token or len(token) > 100:
        return None
    sub = session.scalars(sa.select(WebhookSubscription).where(
        WebhookSubscription.confirm_digest == token_digest(token)).with_for_update()).first()
    if sub is None or sub.state not in ("pending", "active"):
        return None
    if sub.state == "pending":
        activate(session, sub, now or utcnow())
    return sub


def activate(session: Session, sub: WebhookSubscription, now: datetime) -> None:
    """A pending subscription proved ownership of its URL."""
    sub.state = "active"
    sub.confirmed_at = now
    sub.next_verify_at = None
    sub.confirm_digest = None
    record_audit(session, Actor(None, "system"), "webhook.confirm", target=sub.id, at=now)


def signing_secrets(secret: str, previous: str | None, previous_until: datetime | None,
                    now: datetime) -> list[str]:
    """The secrets that sign a message now: the current one, and the previous during overlap."""
    found = [secret]
    if previous and previous_until and previous_until > now:
        found.append(previous)
    return found


def rotate_secret(session: Session, sub: WebhookSubscription, *, actor: Actor,
                  now: datetime | None = None) -> str:
    """A new signing secret; the old one keeps signing (alongside) for 24 h."""
    now = now or utcnow()
    sub.previous_secret, sub.previous_secret_until = sub.secret, now + ROTATION_OVERLAP
    sub.secret = new_secret()
    record_audit(session, actor, "webhook.rotate_secret", target=sub.id, at=now)
    return sub.secret


def update_filters(session: Session, sub: WebhookSubscription, *,
                   components: Iterable[str] | None, event_types: Iterable[str] | None,
                   language: str, actor: Actor) -> WebhookSubscription:
    """Change which events a subscription receives, and their language."""
    errors: dict[str, str] = {}
    wanted, types = _filters(session, errors, components, event_types)
    if language not in LANGUAGES:
        errors["language"] = "Bahasa harus id atau en / Language must be id or en."
    if errors:
        raise SubscriptionError(errors)
    sub.component_ids, sub.event_types, sub.language = wanted, types, language
    record_audit(session, actor, "webhook.update_filters", target=sub.id,
                 detail={"components": wanted, "event_types": types, "language": language})
    return sub


def _leave(session: Session, sub: WebhookSubscription, state: str, reason: str | None,
           now: datetime) -> None:
    sub.state = state
    sub.disabled_at = now
    sub.disabled_reason = (reason or "")[:300] or None
    sub.next_verify_at = None
    session.execute(sa.update(WebhookDelivery).where(
        WebhookDelivery.subscription_id == sub.id,
        WebhookDelivery.state.in_(UNFINISHED_STATES)).values(state="skipped",
                                                                  lease_until=None))


def unsubscribe(session: Session, sub: WebhookSubscription, *, actor: Actor,
                now: datetime | None = None) -> None:
    """Stop a subscription for good (its undelivered deliveries are skipped)."""
    now = now or utcnow()
    if sub.state == "unsubscribed":
        return
    _leave(session, sub, "unsubscribed", None, now)
    record_audit(session, actor, "webhook.unsubscribe", target=sub.id, at=now)


def disable_subscription(session: Session, sub: WebhookSubscription, reason: str, *,
                         actor: Actor | None = None, now: datetime | None = None) -> None:
    """Disable (410, retries exhausted, operator); operators see a console banner."""
    now = now or utcnow()
    if sub.state in ("disabled", "unsubscribed"):
        return
    _leave(session, sub, "disabled", reason, now)
    sub.acknowledged_at = None
    record_audit(session, actor or Actor(None, "system"), "webhook.disable", target=sub.id,
                 detail={"reason": reason[:300], "contact": sub.contact_email}, at=now)


def send_test_event(session: Session, sub: WebhookSubscription, *, actor: Actor,
                    now: datetime | None = None) -> None:
    """Queue a ``test`` event for this one (active) subscription."""
    if sub.state != "active":
        raise SubscriptionError({"_": "Langganan belum aktif / The subscription is not active."})
    now = now or utcnow()
    emit_event(session, TEST_EVENT, {"message": "Pesan uji / Test message"},
               only_subscription=sub.id, now=now)
    record_audit(session, actor, "webhook.test", target=sub.id, at=now)


def list_subscriptions(session: Session, *, state: str | None = None, limit: int = 200
                       ) -> Sequence[WebhookSubscription]:
    """Subscriptions, newest first (optionally in one state)."""
    query = (sa.select(WebhookSubscription).order_by(WebhookSubscription.created_at.desc())
             .limit(limit))
    if state:
        query = query.where(WebhookSubscription.state == state)
    return session.scalars(query).all()


def unsubscribe_token(secret_key: str, subscription_id: str) -> str:
    """The token of a subscription's unsubscribe link (an HMAC: nothing stored)."""
    mac = hmac.new(secret_key.encode(), f"unsubscribe:{subscription_id}".encode(),
                   hashlib.sha256)
    return mac.hexdigest()[:32]


def unsubscribe_token_valid(secret_key: str, subscription_id: str, token: str) -> bool:
    """Constant-time check of an unsubscribe token."""
    return hmac.compare_digest(unsubscribe_token(secret_key, subscription_id), token or "")


def due_verifications(session: Session, now: datetime, limit: int = 20
                      ) -> list[tuple[str, str, str, str, str, int]]:
    """Pending subscriptions whose URL check is due: (id, url, format, language, secret,
    attempts)."""
    rows = session.execute(
        sa.select(WebhookSubscription.id, WebhookSubscription.url, WebhookSubscription.format,
                  WebhookSubscription.language, WebhookSubscription.secret,
                  WebhookSubscription.verify_attempts)
        .where(WebhookSubscription.state == "pending",
               WebhookSubscription.next_verify_at <= now,
               WebhookSubscription.created_at > now - PENDING_TTL)
        .order_by(WebhookSubscription.next_verify_at).limit(limit)).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def record_verification(session: Session, subscription_id: str, *, ok: bool, now: datetime,
                        confirm_digest: str | None = None, error: str | None = None) -> None:
    """After a URL check: activate (echoed challenge), wait for the link (Slack), or retry
    later (1 min, doubling, at most hourly, until the 24 h expiry)."""
    sub = session.get(WebhookSubscription, subscription_id, with_for_update=True)
    if sub is None or sub.state != "pending":
        return
    sub.verify_attempts += 1
    if ok and confirm_digest is None:
        activate(session, sub, now)
        return
    if ok:
        sub.confirm_digest = confirm_digest
        sub.next_verify_at = None  # waiting for the subscriber to follow the link
        return
    sub.disabled_reason = (error or "")[:300] or None
    sub.next_verify_at = now + timedelta(seconds=min(60 * 2 ** (sub.verify_attempts - 1), 3600))


def expire_pending(session: Session, now: datetime) -> int:
    """Pending subscriptions older than 24 h become ``expired``."""
    result: Any = session.execute(sa.update(WebhookSubscription).where(
        WebhookSubscription.state == "pending",
        WebhookSubscription.created_at <= now - PENDING_TTL).values(
        state="expired", next_verify_at=None, disabled_at=now))
    return int(result.rowcount or 0)


def disabled_alerts(session: Session, limit: int = 20) -> Sequence[WebhookSubscription]:
    """Disabled subscriptions no operator has acknowledged yet (the console banner)."""
    return session.scalars(
        sa.select(WebhookSubscription).where(WebhookSubscription.state == "disabled",
                                             WebhookSubscription.acknowledged_at.is_(None))
        .order_by(WebhookSubscription.disabled_at.desc()).limit(limit)).all()


def acknowledge(session: Session, sub: WebhookSubscription, *, actor: Actor,
                now: datetime | None = None) -> None:
    """An operator has seen that a subscription was disabled (its banner goes away)."""
    now = now or utcnow()
    sub.acknowledged_at = now
    record_audit(session, actor, "webhook.acknowledge", target=sub.id, at=now)
