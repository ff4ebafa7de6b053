"""Email subscribers: ask (double opt-in), confirm, change choices, delete, disable, expire.

States: ``pending`` (asked; only the confirmation message is sent), ``active`` (confirmed),
``disabled`` (the mail server refused the address for good; operators see why). Unsubscribing
deletes the row and its deliveries: nothing personal is kept after it. An unconfirmed address
is forgotten after ``PENDING_TTL`` (48 h).

Links carry HMACs under the page's secret key (nothing stored): the confirmation link also
covers ``confirm_nonce`` (so a newer request voids older links), the management and unsubscribe
links cover the subscriber id and their purpose. Every verb writes its audit entry in the
caller's transaction, naming the subscriber by id only (the address stays out of the log).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.models import Component, Deadline, MailDelivery, MailSubscriber, utcnow
from statuspage.store.audit import Actor, record_audit
from statuspage.store.subscriptions import EMAIL_PATTERN, LANGUAGES, SubscriptionError

__all__ = [
    "DISABLED_TTL",
    "MAIL_EVENT_TYPES",
    "PENDING_TTL",
    "MailRequest",
    "confirm",
    "delete_subscriber",
    "disable",
    "expire",
    "link_token",
    "link_valid",
    "mail_counts",
    "recipient_key",
    "request_subscription",
    "update_choices",
]

#: Event types told by email. ``component.status_changed`` is left out on purpose: measured
#: status flaps, and an incident (opened by the team, or a published draft) says what it means.
MAIL_EVENT_TYPES: tuple[str, ...] = (
    "incident.created", "incident.updated", "incident.resolved", "maintenance.scheduled",
    "maintenance.started", "maintenance.completed", "deadline.notice",
)
PENDING_TTL = timedelta(hours=48)
#: A disabled address (refused by its mail server) is kept this long for the operators.
DISABLED_TTL = timedelta(days=30)
#: Characters that have a meaning in mail headers or SMTP commands.
_UNSAFE = re.compile(r"[<>,;:\"()\[\]\\\x00-\x20\x7f]")


@dataclass(frozen=True)
class MailRequest:
    """What the form asks for; validated by ``request_subscription``."""

    email: str
    language: str = "id"
    components: Sequence[str] | None = None  # None or empty: every component
    deadlines: Sequence[str] = ()  # the deadlines whose notices are wanted


def _email(raw: str, errors: dict[str, str]) -> str:
    email = (raw or "").strip().lower()
    # ASCII only: an internationalised address needs SMTPUTF8 from every relay on its way
    if (not EMAIL_PATTERN.match(email) or not email.isascii() or _UNSAFE.search(email)
            or "." not in email.partition("@")[2]):
        errors["email"] = "Alamat email tidak valid / Invalid email address."
    return email


def _choices(session: Session, errors: dict[str, str], language: str,
             components: Iterable[str] | None, deadlines: Iterable[str]
             ) -> tuple[list[str] | None, list[str]]:
    if language not in LANGUAGES:
        errors["language"] = "Bahasa harus id atau en / Language must be id or en."
    wanted = sorted({str(c) for c in components or ()})
    known = set(session.scalars(sa.select(Component.id).where(Component.active.is_(True))))
    if any(c not in known for c in wanted):
        errors["components"] = "Komponen tidak dikenal / Unknown component."
    chosen = sorted({str(d) for d in deadlines})
    found = set(session.scalars(sa.select(Deadline.id).where(Deadline.id.in_(chosen))))
    if any(d not in found for d in chosen):
        errors["deadlines"] = "Tenggat tidak dikenal / Unknown deadline."
    return (wanted or None), chosen


def _queue(session: Session, sub: MailSubscriber, kind: str, now: datetime) -> None:
    session.add(MailDelivery(subscriber_id=sub.id, event_id=None, kind=kind, state="pending",
                             attempts=0, next_attempt_at=now, created_at=now))


def request_subscription(session: Session, request: MailRequest, *, actor: Actor,
                         now: datetime | None = None) -> tuple[MailSubscriber, str]:
    """Ask to subscribe; returns the subscriber and the message queued for it: ``confirm``
    (a new or unconfirmed address: its choices are replaced) or ``already`` (a confirmed
    address gets its management link; its choices change only from there)."""
    now = now or utcnow()
    errors: dict[str, str] = {}
    email = _email(request.email, errors)
    components, deadlines = _choices(session, errors, request.language, request.components,
                                     request.deadlines)
    if errors:
        raise SubscriptionError(errors)
    sub = session.scalars(sa.select(MailSubscriber).where(MailSubscriber.email == email)
                          .with_for_update()).first()
    if sub is not None and sub.state == "active":
        _queue(session, sub, "already", now)
        record_audit(session, actor, "mail.subscribe_again", target=sub.id, at=now)
        return sub, "already"
    if sub is None:
        sub = MailSubscriber(email=email)
        session.add(sub)
    else:  # pending or disabled: a fresh request, older confirmation links stop working
        session.execute(sa.update(MailDelivery).where(
            MailDelivery.subscriber_id == sub.id, MailDelivery.state == "pending").values(
            state="skipped"))
    sub.language, sub.component_ids, sub.deadline_ids = request.language, components, deadlines
    sub.state, sub.confirm_nonce, sub.requested_at = "pending", secrets.token_hex(8), now
    sub.confirmed_at = sub.disabled_at = sub.disabled_reason = None
    session.flush()
    _queue(session, sub, "confirm", now)
    record_audit(session, actor, "mail.subscribe", target=sub.id,
                 detail={"language": sub.language, "components": components,
                         "deadlines": deadlines}, at=now)
    return sub, "confirm"


def link_token(secret_key: str, purpose: str, subscriber_id: str, nonce: str = "") -> str:
    """The token of a subscriber's ``confirm``, ``manage`` or ``unsubscribe`` link."""
    mac = hmac.new(secret_key.encode(), f"mail-{purpose}:{subscriber_id}:{nonce}".encode(),
                   hashlib.sha256)
    return mac.hexdigest()[:32]


def link_valid(secret_key: str, purpose: str, subscriber_id: str, token: str,
               nonce: str = "") -> bool:
    """Constant-time check of a link token."""
    return hmac.compare_digest(link_token(secret_key, purpose, subscriber_id, nonce),
                               (token or "")[:64])


def recipient_key(email: str) -> str:
    """What the per-recipient rate counter is keyed on (a digest: the address is not stored
    in the counters)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def confirm(session: Session, subscriber_id: str, token: str, *, secret_key: str,
            now: datetime | None = None) -> MailSubscriber | None:
    """Follow a confirmation link: ``pending`` becomes ``active`` (again: a no-op)."""
    sub = session.get(MailSubscriber, subscriber_id[:16], with_for_update=True)
    if sub is None or not link_valid(secret_key, "confirm", sub.id, token, sub.confirm_nonce):
        return None
    if sub.state == "pending":
        now = now or utcnow()
        sub.state, sub.confirmed_at = "active", now
        record_audit(session, Actor(None, "subscriber"), "mail.confirm", target=sub.id, at=now)
    return sub if sub.state == "active" else None


def update_choices(session: Session, sub: MailSubscriber, *, language: str,
                   components: Iterable[str] | None, deadlines: Iterable[str],
                   actor: Actor) -> None:
    """Change what an address receives, from its management page."""
    errors: dict[str, str] = {}
    wanted, chosen = _choices(session, errors, language, components, deadlines)
    if errors:
        raise SubscriptionError(errors)
    sub.language, sub.component_ids, sub.deadline_ids = language, wanted, chosen
    record_audit(session, actor, "mail.update_choices", target=sub.id,
                 detail={"language": language, "components": wanted, "deadlines": chosen})


def delete_subscriber(session: Session, sub: MailSubscriber, *, actor: Actor,
                      how: str = "unsubscribe") -> None:
    """Forget an address: the row and its deliveries (unsubscribe or "delete everything")."""
    session.execute(sa.delete(MailDelivery).where(MailDelivery.subscriber_id == sub.id))
    record_audit(session, actor, f"mail.{how}", target=sub.id)
    session.delete(sub)


def _redact(reason: str, email: str) -> str:
    """A server's answer without the address in it (operators see reasons, not addresses)."""
    return re.sub(re.escape(email), "<address>", reason, flags=re.IGNORECASE)[:300]


def disable(session: Session, subscriber_id: str, reason: str, *,
            now: datetime | None = None) -> bool:
    """Stop sending to an address its mail server refused for good; True if it was sending."""
    sub = session.get(MailSubscriber, subscriber_id, with_for_update=True)
    if sub is None or sub.state == "disabled":
        return False
    now = now or utcnow()
    sub.state, sub.disabled_at = "disabled", now
    sub.disabled_reason = _redact(reason, sub.email)
    session.execute(sa.update(MailDelivery).where(
        MailDelivery.subscriber_id == sub.id,
        MailDelivery.state.in_(("pending", "sending"))).values(state="skipped",
                                                               lease_until=None))
    record_audit(session, Actor(None, "system"), "mail.disable", target=sub.id,
                 detail={"reason": sub.disabled_reason}, at=now)
    return True


def expire(session: Session, now: datetime | None = None) -> int:
    """Forget addresses never confirmed within 48 h, and disabled ones after 30 days."""
    now = now or utcnow()
    stale = sa.or_(sa.and_(MailSubscriber.state == "pending",
                           MailSubscriber.requested_at <= now - PENDING_TTL),
                   sa.and_(MailSubscriber.state == "disabled",
                           MailSubscriber.disabled_at <= now - DISABLED_TTL))
    ids = list(session.scalars(sa.select(MailSubscriber.id).where(stale)))
    if not ids:
        return 0
    session.execute(sa.delete(MailDelivery).where(MailDelivery.subscriber_id.in_(ids)))
    session.execute(sa.delete(MailSubscriber).where(MailSubscriber.id.in_(ids)))
    return len(ids)


def mail_counts(session: Session, limit: int = 50) -> dict[str, Any]:
    """What operators see: subscribers and deliveries by state, and why addresses were
    disabled (without the addresses)."""
    subscribers = dict(session.execute(sa.select(MailSubscriber.state, sa.func.count())
                                       .group_by(MailSubscriber.state)).all())
    deliveries = dict(session.execute(sa.select(MailDelivery.state, sa.func.count())
                                      .group_by(MailDelivery.state)).all())
    disabled = session.execute(
        sa.select(MailSubscriber.id, MailSubscriber.disabled_at, MailSubscriber.disabled_reason)
        .where(MailSubscriber.state == "disabled")
        .order_by(MailSubscriber.disabled_at.desc()).limit(limit)).all()
    return {"subscribers": {str(k): int(v) for k, v in subscribers.items()},
            "deliveries": {str(k): int(v) for k, v in deliveries.items()},
            "disabled": disabled}
