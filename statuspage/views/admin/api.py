"""The automation JSON API: ``Authorization: Bearer TOKEN`` (tokens made in the console).

Responses use Statuspage's incident shape. Missing or wrong tokens get 401 JSON; bad input gets
422 with ``{"errors": {field: message}}`` and changes nothing. JSON is written HTML-safe (``<``,
``>``, ``&`` as ``\\u003c`` ...) so a body echoed by a careless widget cannot open a tag.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from statuspage.inputs import InputError, decode_json, parse_time
from statuspage.jsontext import html_safe_json
from statuspage.models import Incident, IncidentUpdate
from statuspage.models.operators import ApiToken, Operator
from statuspage.store import incidents as store
from statuspage.store import maintenance as maintenance_store
from statuspage.store.audit import Actor
from statuspage.store.operators import token_operator
from statuspage.store.refusal import Refused
from statuspage.timefmt import iso
from statuspage.views.admin.common import client_address, services

__all__ = ["incident_json", "routes", "token_known"]

DEFAULT_RESOLVE_BODY = "Gangguan telah teratasi. Layanan kembali normal."


class ApiError(Exception):
    """An API refusal with its status code and JSON payload."""

    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        super().__init__(payload)
        self.status = status
        self.payload = payload


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    """JSON with ``<``, ``>`` and ``&`` escaped (still the same JSON once parsed)."""
    return Response(html_safe_json(payload), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store", **(headers or {})})


def update_json(update: IncidentUpdate) -> dict[str, Any]:
    """One incident update in Statuspage's shape."""
    return {"id": update.id, "incident_id": update.incident_id, "status": update.status,
            "body": update.body, "created_at": iso(update.created_at),
            "updated_at": iso(update.updated_at), "display_at": iso(update.display_at),
            "affected_components": update.affected_components or [],
            "deliver_notifications": update.notify}


def incident_json(incident: Incident, page_url: str) -> dict[str, Any]:
    """An incident or maintenance in Statuspage's shape."""
    return {
        "id": incident.id, "name": incident.name, "status": incident.status,
        "impact": incident.impact, "kind": incident.kind,
        "created_at": iso(incident.created_at), "updated_at": iso(incident.updated_at),
        "started_at": iso(incident.started_at), "monitoring_at": iso(incident.monitoring_at),
        "resolved_at": iso(incident.resolved_at),
        "scheduled_for": iso(incident.scheduled_for),
        "scheduled_until": iso(incident.scheduled_until),
        "scheduled_auto_transition": incident.auto_transition if incident.kind == "maintenance"
        else None,
        "shortlink": f"{page_url.rstrip('/')}/incidents/{incident.id}",
        "postmortem_body": incident.postmortem_body if incident.postmortem_published_at else None,
        "postmortem_published_at": iso(incident.postmortem_published_at),
        "components": [{"id": c.component_id, "status": c.status} for c in incident.components],
        "incident_updates": [update_json(u) for u in incident.updates],
    }


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def token_known(request: Request, secret: str) -> bool:
    """Whether ``secret`` is a live API token. Every API handler asks this before it reads the
    body, so an anonymous caller cannot make the process buffer anything (the route's body
    cap bounds the rest); the handler's own transaction resolves the token again."""
    svc = services(request)

    def known() -> bool:
        with svc.db.session() as session:
            return token_operator(session, secret) is not None

    return await asyncio.to_thread(known)


def _payload(raw: bytes) -> dict[str, Any]:
    try:
        data = decode_json(raw or b"{}")
    except InputError as exc:
        code = "invalid_json" if exc.status == 400 else "invalid"
        raise ApiError(exc.status, {"error": code, "message": exc.message,
                             "errors": {exc.field: exc.message}}) from exc
    if not isinstance(data, dict):
        raise ApiError(422, {"error": "invalid", "errors": {"_": "Expected a JSON object."}})
    for wrapper in ("incident", "maintenance"):  # Statuspage clients nest the object
        if isinstance(data.get(wrapper), dict):
            data = data[wrapper]
    return data


def _field(data: dict[str, Any], errors: dict[str, str], name: str, kind: type,
           default: Any = ..., label: str = "") -> Any:
    value = data.get(name, default)
    if value is ...:
        errors[name] = f"{label or name} wajib diisi."
        return None
    if value is not None and not isinstance(value, kind):
        errors[name] = f"{name} harus bertipe {kind.__name__}."
        return None
    return value


def _components(data: dict[str, Any], errors: dict[str, str], required: bool = False,
                allow_list: bool = False) -> dict[str, str] | None:
    value = data.get("components")
    if value is None:
        return {} if required else None
    if allow_list and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return dict.fromkeys(value, "under_maintenance")
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        errors["components"] = "components harus berupa objek {id_komponen: status}."
        return None
    return value


def _time(data: dict[str, Any], errors: dict[str, str], name: str) -> datetime | None:
    try:
        return parse_time(data.get(name), name)
    except InputError as exc:
        errors[name] = f"{exc.message} (ISO 8601 dengan zona waktu)."
        return None


Work = Callable[[Session, Actor, dict[str, Any]], tuple[int, Any]]


async def _run(request: Request, work: Work, *, read_body: bool = True) -> Response:
    """Authenticate the token, then run ``work`` in the same transaction."""
    svc = services(request)
    secret = _bearer(request)
    unauthorized = json_response(
        {"error": "unauthorized", "message": "Missing or invalid API token."}, 401,
        {"WWW-Authenticate": 'Bearer realm="statuspage"'})
    if secret is None or not await token_known(request, secret):
        return unauthorized
    raw = await request.body() if read_body else b""
    address = client_address(request)

    def run() -> tuple[int, Any] | None:
        try:
            with svc.db.session() as session:
                found: tuple[ApiToken, Operator] | None = token_operator(session, secret)
                if found is None:
                    return None
                token, operator = found
                who = Actor(operator.email, "token", address, token_id=token.id)
                return work(session, who, _payload(raw) if read_body else {})
        except ApiError as exc:
            return exc.status, exc.payload
        except Refused as exc:
            if "incident" in exc.errors:
                return 404, {"error": "not_found", "message": str(exc)}
            return 422, {"error": "invalid", "message": str(exc), "errors": exc.errors}

    result = await asyncio.to_thread(run)
    if result is None:
        return unauthorized
    status, payload = result
    return json_response(payload, status)


def _page_url(request: Request) -> str:
    return services(request).settings.config.page.url


def _fetch(session: Session, incident_id: str) -> Incident:
    session.flush()
    incident = store.get_incident(session, incident_id)
    if incident is None or incident.is_draft:
        raise Refused("Insiden tidak ditemukan.", "incident")
    return incident


async def create_incident(request: Request) -> Response:
    """``POST /api/v1/incidents`` {name, status, impact, body, components, notify} -> 201."""
    page_url = _page_url(request)

    def work(session: Session, who: Actor, data: dict[str, Any]) -> tuple[int, Any]:
        errors: dict[str, str] = {}
        name = _field(data, errors, "name", str)
        status = _field(data, errors, "status", str, "investigating")
        impact = _field(data, errors, "impact", str, data.get("impact_override") or "minor")
        body = _field(data, errors, "body", str)
        notify = _field(data, errors, "notify", bool, data.get("deliver_notifications", False))
        components = _components(data, errors, required=True)
        if errors:
            raise Refused(errors)
        incident = store.create_incident(session, name=name, status=status, impact=impact,
                                         body=body, components=components or {},
                                         notify=bool(notify), author=who.name, actor=who)
        return 201, incident_json(_fetch(session, incident.id), page_url)

    return await _run(request, work)


async def get_incident(request: Request) -> Response:
    """``GET /api/v1/incidents/{id}``: the incident as the API writes it."""
    iid, page_url = request.path_params["incident_id"], _page_url(request)

    def work(session: Session, who: Actor, data: dict[str, Any]) -> tuple[int, Any]:
        incident = store.get_incident(session, iid)
        if incident is None or incident.is_draft:
            return 404, {"error": "not_found", "message": "Incident not found."}
        return 200, incident_json(incident, page_url)

    return await _run(request, work, read_body=False)


async def post_update(request: Request) -> Response:
    """``POST /api/v1/incidents/{id}/updates`` {status, body, components, notify, reopen}."""
    iid, page_url = request.path_params["incident_id"], _page_url(request)

    def work(session: Session, who: Actor, data: dict[str, Any]) -> tuple[int, Any]:
        errors: dict[str, str] = {}
        status = _field(data, errors, "status", str)
        body = _field(data, errors, "body", str)
        notify = _field(data, errors, "notify", bool, data.get("deliver_notifications", False))
        reopen = _field(data, errors, "reopen", bool, False)
        components = _components(data, errors)
        if errors:
            raise Refused(errors)
        store.post_update(session, iid, status=status, body=body, components=components,
                          notify=bool(notify), author=who.name, reopen=bool(reopen), actor=who)
        return 201, incident_json(_fetch(session, iid), page_url)

    return await _run(request, work)


async def resolve(request: Request) -> Response:
    """``POST /api/v1/incidents/{id}/resolve`` {body?}: components return to measured status."""
    iid, page_url = request.path_params["incident_id"], _page_url(request)

    def work(session: Session, who: Actor, data: dict[str, Any]) -> tuple[int, Any]:
        errors: dict[str, str] = {}
        body = _field(data, errors, "body", str, DEFAULT_RESOLVE_BODY)
        if errors:
            raise Refused(errors)
        store.resolve_incident(session, iid, body=body, author=who.name, actor=who)
        return 200, incident_json(_fetch(session, iid), page_url)

    return await _run(request, work)


async def create_maintenance(request: Request) -> Response:
    """``POST /api/v1/maintenances`` {name, body, scheduled_for, scheduled_until, components}."""
    page_url = _page_url(request)

    def work(session: Session, who: Actor, data: dict[str, Any]) -> tuple[int, Any]:
        errors: dict[str, str] = {}
        name = _field(data, errors, "name", str)
        body = _field(data, errors, "body", str)
        start = _time(data, errors, "scheduled_for")
        end = _time(data, errors, "scheduled_until")
        auto = _field(data, errors, "auto_transition", bool, True)
        notify = _field(data, errors, "notify", bool, False)
        components = _components(data, errors, required=True, allow_list=True)
        if errors or start is None or end is None:
            raise Refused(errors)
        maintenance = maintenance_store.create_maintenance(
            session, name=name, body=body, scheduled_for=start, scheduled_until=end,
            components=list(components or {}), auto_transition=bool(auto), author=who.name,
            notify=bool(notify), actor=who)
        return 201, incident_json(_fetch(session, maintenance.id), page_url)

    return await _run(request, work)


def routes() -> list[BaseRoute]:
    """The automation API routes."""
    return [
        Route("/api/v1/incidents", create_incident, methods=["POST"]),
        Route("/api/v1/incidents/{incident_id}", get_incident, methods=["GET"]),
        Route("/api/v1/incidents/{incident_id}/updates", post_update, methods=["POST"]),
        Route("/api/v1/incidents/{incident_id}/resolve", resolve, methods=["POST"]),
        Route("/api/v1/maintenances", create_maintenance, methods=["POST"]),
    ]
