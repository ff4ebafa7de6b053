"""How many subscribers each incident update reached (for the console's timeline).

Every incident change writes one outbox event (``store.outbox``) whose payload lists the
incident's updates newest first, so the event of an update is the one whose first update is
it; the worker's fan-out records ``subscriber_count``. Until fan-out ran the count is unknown.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.models import WebhookEvent

__all__ = ["subscribers_notified"]

#: Events read per incident page: an incident has far fewer updates than this.
_EVENTS_LIMIT = 500


def subscribers_notified(session: Session, incident_id: str) -> dict[str, int | None]:
    """Update id -> subscribers its event went to (None: not fanned out yet)."""
    rows = session.execute(
        sa.select(WebhookEvent.payload, WebhookEvent.fanned_out_at,
                  WebhookEvent.subscriber_count)
        .where(WebhookEvent.type.like("incident.%") | WebhookEvent.type.like("maintenance.%"))
        .order_by(WebhookEvent.id.desc()).limit(_EVENTS_LIMIT)).all()
    counts: dict[str, int | None] = {}
    for payload, fanned_out_at, count in rows:
        incident = (payload or {}).get("incident") or {}
        updates = incident.get("incident_updates") or []
        if incident.get("id") != incident_id or not updates:
            continue
        update_id = updates[0].get("id")
        if isinstance(update_id, str) and update_id not in counts:
            counts[update_id] = int(count) if fanned_out_at is not None else None
    return counts
