"""Webhook bodies: Statuspage's envelope (default) and a Slack incoming-webhook message.

Both are pure: an ``OutgoingEvent`` and a ``Recipient`` in, bytes out. The same inputs give the
same bytes, so a retry carries the same body as the first attempt (and the same ``webhook-id``).

Statuspage envelope (field names as the v2 JSON, so receivers written for Statuspage work)::

    {"meta": {"unsubscribe": URL, "documentation": URL, "generated_at": ISO,
              "event_id": "evt_...", "event_type": "incident.updated"},
     "page": {"id", "name", "url", "status_indicator", "status_description"},
     "event": {"id", "type", "created_at"},
     "incident": {...}                                   # incident.* and maintenance.*
     | "component": {...}, "component_update": {...}     # component.status_changed
     | "deadline": {...}}                                 # deadline.notice

Slack: ``{"text": one line, "blocks": [section, context, link]}`` (Slack, Mattermost,
Rocket.Chat and Discord's ``/slack`` endpoints accept it). Text is plain: ``<``, ``>`` and ``&``
are escaped as Slack requires, so an incident title cannot ping a channel or forge a link.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from statuspage.i18n import Catalog
from statuspage.timefmt import iso

__all__ = ["EVENT_TITLES", "FORMATS", "STATUS_WORDS", "OutgoingEvent", "Recipient", "render_body",
           "slack_confirmation"]

FORMATS: tuple[str, ...] = ("statuspage", "slack")

#: English message ids (translated by the page's catalogs) for codes shown in chat messages
#: and emails.
STATUS_WORDS: dict[str, str] = {
    "operational": "Operational", "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage", "major_outage": "Major outage",
    "under_maintenance": "Under maintenance", "investigating": "Investigating",
    "identified": "Identified", "monitoring": "Monitoring", "resolved": "Resolved",
    "postmortem": "Postmortem", "scheduled": "Scheduled", "in_progress": "In progress",
    "verifying": "Verifying", "completed": "Completed",
}
#: What each event type is called in a message title, (id, en).
EVENT_TITLES: dict[str, tuple[str, str]] = {
    "incident.created": ("Insiden baru", "New incident"),
    "incident.updated": ("Pembaruan insiden", "Incident update"),
    "incident.resolved": ("Insiden selesai", "Incident resolved"),
    "component.status_changed": ("Status komponen berubah", "Component status changed"),
    "maintenance.scheduled": ("Pemeliharaan terjadwal", "Maintenance scheduled"),
    "maintenance.started": ("Pemeliharaan dimulai", "Maintenance started"),
    "maintenance.completed": ("Pemeliharaan selesai", "Maintenance completed"),
    "deadline.notice": ("Pemberitahuan tenggat", "Deadline notice"),
    "test": ("Pesan uji", "Test message"),
}


@dataclass(frozen=True)
class OutgoingEvent:
    """An outbox event as sent: type, public id, time, payload and the page's status then."""

    public_id: str
    type: str
    occurred_at: datetime
    payload: dict[str, Any]
    page_id: str
    page_name: str
    page_url: str
    status_indicator: str
    status_description: str


@dataclass(frozen=True)
class Recipient:
    """Who receives: format, language, and the links that go into every message."""

    subscription_id: str
    format: str
    language: str
    unsubscribe_url: str
    documentation_url: str


def _dump(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def statuspage_body(event: OutgoingEvent, to: Recipient) -> dict[str, Any]:
    """The Statuspage-style envelope as a dict."""
    body: dict[str, Any] = {
        "meta": {"unsubscribe": to.unsubscribe_url, "documentation": to.documentation_url,
                 "generated_at": iso(event.occurred_at), "event_id": event.public_id,
                 "event_type": event.type},
        "page": {"id": event.page_id, "name": event.page_name, "url": event.page_url,
                 "status_indicator": event.status_indicator,
                 "status_description": event.status_description},
        "event": {"id": event.public_id, "type": event.type,
                  "created_at": iso(event.occurred_at)},
    }
    for key, value in event.payload.items():
        if key not in body and not key.startswith("_"):  # "_page": fan-out's own note
            body[key] = value
    incident = body.get("incident")
    if isinstance(incident, dict) and "shortlink_path" in incident:
        incident = dict(incident)
        incident["shortlink"] = event.page_url.rstrip("/") + str(incident.pop("shortlink_path"))
        incident["page_id"] = event.page_id
        body["incident"] = incident
    return body


def _slack_escape(text: object) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _word(catalog: Catalog, code: object) -> str:
    return catalog.gettext(STATUS_WORDS.get(str(code), str(code)))


def _summary(event: OutgoingEvent, catalog: Catalog, lang: str) -> tuple[str, str, str]:
    """(headline, detail, link) of an event in ``lang``."""
    title = EVENT_TITLES.get(event.type, (event.type, event.type))[0 if lang == "id" else 1]
    page = event.page_url.rstrip("/")
    incident = event.payload.get("incident")
    if isinstance(incident, dict):
        updates = incident.get("incident_updates") or [{}]
        latest = updates[0] if isinstance(updates[0], dict) else {}
        components = ", ".join(f"{c.get('name')}: {_word(catalog, c.get('status'))}"
                               for c in incident.get("components") or [] if isinstance(c, dict))
        detail = f"{_word(catalog, incident.get('status'))}. {latest.get('body') or ''}".strip()
        if components:
            detail += f"\n{components}"
        return (f"{title}: {incident.get('name')}", detail,
                page + str(incident.get("shortlink_path") or "/"))
    component = event.payload.get("component")
    update = event.payload.get("component_update")
    if isinstance(component, dict) and isinstance(update, dict):
        return (f"{title}: {component.get('name')}",
                f"{_word(catalog, update.get('old_status'))} \u2192 "
                f"{_word(catalog, update.get('new_status'))}",
                f"{page}/components/{component.get('id')}")
    deadline = event.payload.get("deadline")
    if isinstance(deadline, dict):
        return (f"{title}: {deadline.get('name') or deadline.get('id') or ''}",
                str(deadline.get("summary") or ""), page + str(deadline.get("path") or "/"))
    return title, str(event.payload.get("message") or ""), page + "/"


def slack_body(event: OutgoingEvent, to: Recipient, catalog: Catalog) -> dict[str, Any]:
    """A Slack incoming-webhook message for the event."""
    headline, detail, link = _summary(event, catalog, to.language)
    status = catalog.gettext(event.status_description)
    more = "Lihat halaman status" if to.language == "id" else "Open the status page"
    stop = "Berhenti berlangganan" if to.language == "id" else "Unsubscribe"
    text = f"{_slack_escape(headline)} ({_slack_escape(status)})"
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_slack_escape(headline)}*"
                                         f"\n{_slack_escape(detail)[:2500]}"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text":
                                              f"{_slack_escape(event.page_name)}: "
                                              f"{_slack_escape(status)}"}]},
            {"type": "section", "text": {"type": "mrkdwn", "text":
                                         f"<{link}|{more}> \u00b7 <{to.unsubscribe_url}|{stop}>"}},
        ],
    }


def render_body(event: OutgoingEvent, to: Recipient, catalog: Catalog) -> bytes:
    """The bytes sent to ``to`` for ``event`` (deterministic)."""
    if to.format == "slack":
        return _dump(slack_body(event, to, catalog))
    return _dump(statuspage_body(event, to))


def slack_confirmation(page_name: str, confirm_url: str, language: str) -> bytes:
    """The message that asks a Slack-format subscriber to confirm by following a link."""
    name = _slack_escape(page_name)
    if language == "id":
        text = (f"Langganan {name} menunggu konfirmasi. Buka tautan ini untuk mengaktifkannya: "
                f"<{confirm_url}|konfirmasi langganan>")
    else:
        text = (f"A {name} subscription is waiting for confirmation. Follow this link to "
                f"activate it: <{confirm_url}|confirm the subscription>")
    return _dump({"text": text})
