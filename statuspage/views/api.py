"""Statuspage v2 compatible JSON: the same paths, field names and value vocabularies.

A client written for a Statuspage page (``/api/v2/summary.json`` and friends) works unchanged.
Config groups are Statuspage "group components" (``group: true`` with ``components: [ids]``,
children carry ``group_id``); their ids are derived from the group name, so they are stable.
The shaping functions are pure (data in, dicts out); the handlers are ``CachedView``s, so a
surge of API polling costs the database one read per change, like the pages.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.routing import BaseRoute, Route

from statuspage.cache import Rendered
from statuspage.cached_view import CachedView, RenderRequest
from statuspage.config import StatusConfig
from statuspage.jsontext import html_safe_json
from statuspage.models import utcnow
from statuspage.services import Services
from statuspage.status import ACTIVE_MAINTENANCE, OPEN_INCIDENT_STATUSES
from statuspage.store.public import (
    ComponentView,
    GroupView,
    IncidentView,
    PageData,
    page_data,
    page_id,
    recent_incidents,
)
from statuspage.timefmt import iso

__all__ = [
    "component_json",
    "components_json",
    "incident_json",
    "json_rendered",
    "page_json",
    "routes",
    "status_json",
]

JSON = "application/json; charset=utf-8"
_CORS = ((b"access-control-allow-origin", b"*"),)


def page_json(config: StatusConfig, updated_at: datetime) -> dict[str, Any]:
    """The ``page`` object."""
    return {"id": page_id(config.page.url), "name": config.page.name, "url": config.page.url,
            "time_zone": config.page.time_zone, "updated_at": iso(updated_at)}


def status_json(data: PageData) -> dict[str, str]:
    """The ``status`` object: indicator none/minor/major/critical and its description."""
    return {"indicator": data.indicator, "description": data.description}


def component_json(c: ComponentView | GroupView, pid: str, position: int) -> dict[str, Any]:
    """One component (or group component) with every Statuspage field."""
    is_group = isinstance(c, GroupView)
    value: dict[str, Any] = {
        "id": c.id,
        "name": c.name,
        "status": c.status,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
        "position": position,
        "description": None if isinstance(c, GroupView) else (c.description or None),
        "showcase": not is_group,
        "start_date": c.created_at.date().isoformat(),
        "group_id": None if isinstance(c, GroupView) else c.group_id,
        "page_id": pid,
        "group": is_group,
        "only_show_if_degraded": False,
    }
    if isinstance(c, GroupView):
        value["components"] = [child.id for child in c.components]
    return value


def components_json(data: PageData, pid: str) -> list[dict[str, Any]]:
    """Every component in page order: each group followed by its members."""
    result: list[dict[str, Any]] = []
    for section in data.sections:
        result.append(component_json(section, pid, len(result) + 1))
        if isinstance(section, GroupView):
            result.extend(component_json(c, pid, len(result) + 1) for c in section.components)
    return result


def incident_json(i: IncidentView, data: PageData, config: StatusConfig) -> dict[str, Any]:
    """One incident or scheduled maintenance with its updates and affected components."""
    pid = page_id(config.page.url)
    positions = {c["id"]: c for c in components_json(data, pid)}
    value: dict[str, Any] = {
        "id": i.id,
        "name": i.name,
        "status": i.status,
        "created_at": iso(i.created_at),
        "updated_at": iso(i.updated_at),
        "monitoring_at": iso(i.monitoring_at),
        "resolved_at": iso(i.resolved_at),
        "impact": "maintenance" if i.is_maintenance else i.impact,
        "shortlink": f"{config.page.url}/incidents/{i.id}",
        "started_at": iso(i.started_at),
        "page_id": pid,
        "incident_updates": [
            {
                "id": u.id,
                "status": u.status,
                "body": u.body,
                "incident_id": i.id,
                "created_at": iso(u.created_at),
                "updated_at": iso(u.updated_at),
                "display_at": iso(u.display_at),
                "affected_components": [dict(a) for a in u.affected_components] or None,
                "deliver_notifications": u.notify,
                "custom_tweet": None,
                "tweet_id": None,
            }
            for u in i.updates
        ],
        "components": [positions[cid] for cid, _name, _st in i.components if cid in positions],
    }
    if i.is_maintenance:
        value["scheduled_for"] = iso(i.scheduled_for)
        value["scheduled_until"] = iso(i.scheduled_until)
    return value


def json_rendered(payload: dict[str, Any], status: int = 200) -> Rendered:
    """Cacheable JSON bytes, safe to paste into HTML, readable from any origin."""
    body = html_safe_json(payload).encode()
    return Rendered(status, body, JSON, None, _CORS)


def _json_view(build: Callable[[PageData, StatusConfig, Any], dict[str, Any]],
               incidents: dict[str, Any] | None = None,
               extend: Callable[[Any, StatusConfig], dict[str, Any]] | None = None
               ) -> CachedView:
    """A cached JSON endpoint: read the page (without history) and maybe some incidents;
    ``extend(session, config)`` adds keys of our own beside Statuspage's."""

    def render(services: Services, request: RenderRequest) -> Rendered:
        config = services.settings.config
        with services.db.read() as session:
            data = page_data(session, config, utcnow(), history=False)
            extra = recent_incidents(session, **incidents) if incidents is not None else ()
            own = extend(session, config) if extend is not None else {}
        payload = {"page": page_json(config, data.updated_at)}
        payload.update(build(data, config, extra))
        payload.update(own)
        return json_rendered(payload)

    return CachedView(render, localized=False)


def _incidents(key: str) -> Callable[[PageData, StatusConfig, Any], dict[str, Any]]:
    def build(data: PageData, config: StatusConfig, extra: Any) -> dict[str, Any]:
        return {key: [incident_json(i, data, config) for i in extra]}
    return build


def _summary(data: PageData, config: StatusConfig, _extra: Any) -> dict[str, Any]:
    pid = page_id(config.page.url)
    maintenances = (*data.active_maintenances, *data.upcoming_maintenances)
    return {
        "components": components_json(data, pid),
        "incidents": [incident_json(i, data, config) for i in data.active_incidents],
        "scheduled_maintenances": [incident_json(i, data, config) for i in maintenances],
        "status": status_json(data),
    }


def _deadlines_v2(session: Any, config: StatusConfig) -> dict[str, Any]:
    from statuspage.store.deadline_records import list_deadlines
    from statuspage.store.notices import get_notice

    items = []
    for d in list_deadlines(session, limit=20):
        notice = get_notice(session, d.id)
        public = notice is not None and notice.state != "draft"
        items.append({
            "id": d.id, "name": d.name_id, "name_en": d.name_en, "agency": d.agency,
            "closes_at": iso(d.effective_close), "original_closes_at": iso(d.closes_at),
            "components": list(d.components), "level": d.level,
            "notice": None if not public or notice is None else {
                "state": notice.state, "level": notice.level,
                "published_at": iso(notice.published_at),
                "recommended_extension_days": notice.figures.get("recommended_extension_days"),
                "lost_seconds": notice.figures.get("lost_seconds")},
            "url": f"{config.page.url}/deadlines/{d.id}"})
    # not a Statuspage field: a key of our own, which Statuspage clients ignore
    return {"emeterai_deadlines": items}


def routes() -> list[BaseRoute]:
    """The ``/api/v2`` routes."""
    methods = ["GET", "HEAD"]
    mnt = {"kind": "maintenance", "limit": 50}
    views = {
        "/api/v2/summary.json": _json_view(_summary, extend=_deadlines_v2),
        "/api/v2/status.json": _json_view(lambda d, c, e: {"status": status_json(d)}),
        "/api/v2/components.json": _json_view(
            lambda d, c, e: {"components": components_json(d, page_id(c.page.url))}),
        "/api/v2/incidents.json": _json_view(
            _incidents("incidents"), {"kind": "incident", "limit": 50}),
        "/api/v2/incidents/unresolved.json": _json_view(
            _incidents("incidents"),
            {"kind": "incident", "limit": 50,
             "statuses": OPEN_INCIDENT_STATUSES}),
        "/api/v2/scheduled-maintenances.json": _json_view(
            _incidents("scheduled_maintenances"), mnt),
        "/api/v2/scheduled-maintenances/upcoming.json": _json_view(
            _incidents("scheduled_maintenances"), {**mnt, "statuses": ("scheduled",)}),
        "/api/v2/scheduled-maintenances/active.json": _json_view(
            _incidents("scheduled_maintenances"),
            {**mnt, "statuses": ACTIVE_MAINTENANCE}),
    }
    return [Route(path, view, methods=methods) for path, view in views.items()]
