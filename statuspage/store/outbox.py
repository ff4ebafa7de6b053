"""The event outbox: every change a subscriber may hear of, written in the change's transaction.

Design (used by incidents, maintenance, evaluation, deadline notices and, later, email
subscriptions and multi-worker delivery):

- **Table** ``webhook_events`` (model ``WebhookEvent``): ``id`` (ordering), ``public_id``
  (``evt_...``, the receiver-visible name), ``type``, ``occurred_at``, ``component_ids`` (what
  subscription filters match; ``[]`` = page-wide, matches every filter), ``payload`` (JSON),
  ``fanned_out_at`` (NULL = waiting for fan-out) and ``subscriber_count``.
- **Verb** ``emit_event(session, type, payload, components=...)``: adds the row in the caller's
  transaction, so an event exists if and only if its change committed. Store verbs call it;
  nothing else produces events. ``incident_payload`` and ``component_payload`` build the
  payloads of the built-in types.
- **Fan-out** (worker, ``statuspage.store.deliveries.fan_out``): one ``webhook_deliveries`` row per
  matching active subscription, in the same transaction that sets ``fanned_out_at``. Deliveries
  are then claimed, sent, retried (``statuspage.webhooks``). A new kind of subscriber (email)
  adds its own fan-out reading the same events.
- **Types** (``EVENT_TYPES``): ``incident.created``, ``incident.updated``, ``incident.resolved``,
  ``component.status_changed``, ``maintenance.scheduled``, ``maintenance.started``,
  ``maintenance.completed``, ``deadline.notice``; plus ``test`` (one subscription only).
- **Payload** (the Statuspage webhook body without ``meta`` and ``page``, which are added per
  subscription at send time; field names as the v2 JSON):

  - incident and maintenance types: ``{"incident": {id, name, status, impact, created_at,
    updated_at, monitoring_at, resolved_at, started_at, shortlink_path, scheduled_for,
    scheduled_until, components: [{id, name, status}], incident_updates: [{id, status, body,
    incident_id, created_at, updated_at, display_at, affected_components,
    deliver_notifications}] (newest first, at most 25)}}``
  - ``component.status_changed``: ``{"component": {id, name, status, created_at},
    "component_update": {id, component_id, old_status, new_status, created_at, source}}``
    (``source`` is ``measured`` for the probes' evaluation, ``declared`` for an incident)
  - ``deadline.notice``: ``{"deadline": {...}}``, shaped by the deadline notices.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from statuspage.models import Component, Incident, IncidentUpdate, WebhookEvent, new_id, utcnow
from statuspage.timefmt import iso

__all__ = [
    "EVENT_TYPES",
    "MAX_PAYLOAD_BYTES",
    "TEST_EVENT",
    "component_payload",
    "emit_component_event",
    "emit_event",
    "emit_incident_event",
    "incident_payload",
]

EVENT_TYPES: tuple[str, ...] = (
    "incident.created", "incident.updated", "incident.resolved", "component.status_changed",
    "maintenance.scheduled", "maintenance.started", "maintenance.completed", "deadline.notice",
)
TEST_EVENT = "test"
#: An event larger than this is refused (a bug, not data to ship to thousands of endpoints).
MAX_PAYLOAD_BYTES = 256 * 1024
_MAX_UPDATES = 25


def emit_event(session: Session, type_: str, payload: dict[str, Any], *,
               components: Iterable[str] = (), only_subscription: str | None = None,
               now: datetime | None = None) -> WebhookEvent:
    """Add an event to the outbox inside the caller's transaction and return it."""
    if type_ not in EVENT_TYPES and type_ != TEST_EVENT:
        raise ValueError(f"unknown event type {type_!r}")
    if len(json.dumps(payload, default=str)) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"event payload over {MAX_PAYLOAD_BYTES} bytes")
    event = WebhookEvent(public_id="evt_" + new_id(20), type=type_,
                         occurred_at=now or utcnow(), component_ids=sorted(set(components)),
                         payload=payload, only_subscription_id=only_subscription)
    session.add(event)
    return event


def _update_json(incident_id: str, u: IncidentUpdate) -> dict[str, Any]:
    return {
        "id": u.id, "status": u.status, "body": u.body, "incident_id": incident_id,
        "created_at": iso(u.created_at), "updated_at": iso(u.updated_at),
        "display_at": iso(u.display_at),
        "affected_components": [dict(a) for a in u.affected_components or ()] or None,
        "deliver_notifications": u.notify,
    }


def incident_payload(session: Session, incident: Incident) -> dict[str, Any]:
    """The ``incident`` object of an incident or maintenance event, as it is now."""
    session.flush()  # ids of the new update and components
    names = dict(session.query(Component.id, Component.name).filter(
        Component.id.in_([ic.component_id for ic in incident.components])).all())
    updates = sorted(incident.updates, key=lambda u: (u.display_at, u.created_at), reverse=True)
    value: dict[str, Any] = {
        "id": incident.id,
        "name": incident.name,
        "status": incident.status,
        "impact": "maintenance" if incident.kind == "maintenance" else incident.impact,
        "created_at": iso(incident.created_at),
        "updated_at": iso(incident.updated_at),
        "monitoring_at": iso(incident.monitoring_at),
        "resolved_at": iso(incident.resolved_at),
        "started_at": iso(incident.started_at),
        "shortlink_path": f"/incidents/{incident.id}",
        "components": [{"id": ic.component_id, "name": names.get(ic.component_id,
                                                                  ic.component_id),
                        "status": ic.status} for ic in incident.components],
        "incident_updates": [_update_json(incident.id, u) for u in updates[:_MAX_UPDATES]],
    }
    if incident.kind == "maintenance":
        value["scheduled_for"] = iso(incident.scheduled_for)
        value["scheduled_until"] = iso(incident.scheduled_until)
    return {"incident": value}


def emit_incident_event(session: Session, type_: str, incident: Incident,
                        now: datetime | None = None) -> WebhookEvent:
    """Emit an incident/maintenance event with the incident as it stands in this transaction."""
    payload = incident_payload(session, incident)
    return emit_event(session, type_, payload,
                      components=[ic.component_id for ic in incident.components], now=now)


def component_payload(component: Component, old_status: str, new_status: str, source: str,
                      at: datetime) -> dict[str, Any]:
    """The ``component`` and ``component_update`` objects of a status change."""
    return {
        "component": {"id": component.id, "name": component.name, "status": new_status,
                      "created_at": iso(component.created_at)},
        "component_update": {"id": "cu_" + new_id(16), "component_id": component.id,
                             "old_status": old_status, "new_status": new_status,
                             "created_at": iso(at), "source": source},
    }


def emit_component_event(session: Session, component: Component, old_status: str,
                         new_status: str, source: str, at: datetime) -> WebhookEvent:
    """Emit ``component.status_changed`` for one component."""
    return emit_event(session, "component.status_changed",
                      component_payload(component, old_status, new_status, source, at),
                      components=[component.id], now=at)
