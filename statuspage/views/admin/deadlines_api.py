"""Deadlines in the automation API (``Authorization: Bearer TOKEN``, as ``api.py``).

``POST /api/v1/deadlines`` creates, ``PATCH /api/v1/deadlines/{id}`` edits,
``POST /api/v1/deadlines/{id}/decision`` records the agency's decision,
``POST /api/v1/deadlines/{id}/notice/publish`` publishes a drafted notice. Bad input gets 422
``{"errors": {field: message}}`` and changes nothing.
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

from statuspage.models import Deadline, utcnow
from statuspage.store.audit import Actor
from statuspage.store.deadline_records import DeadlineError, create_deadline, edit_deadline
from statuspage.store.deadline_records import record_decision as store_decision
from statuspage.store.notices import note_decision, publish_notice
from statuspage.store.operators import token_operator
from statuspage.views.admin.api import (
    ApiError,
    _bearer,
    _payload,
    json_response,
    token_known,
)
from statuspage.views.admin.common import client_address, services

__all__ = ["deadline_json", "routes"]

Work = Callable[[Session, Actor, dict[str, Any]], tuple[int, Any]]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def deadline_json(d: Deadline) -> dict[str, Any]:
    """A deadline as the API writes it."""
    return {"id": d.id, "agency": d.agency, "name_id": d.name_id, "name_en": d.name_en,
            "closes_at": _iso(d.closes_at), "opened_at": _iso(d.opened_at),
            "legal_min_days": d.legal_min_days, "components": list(d.components),
            "window_days": d.window_days, "patience_s": d.patience_s,
            "demand_profile": d.demand_profile, "contact": d.contact,
            "extended_to": _iso(d.extended_to), "decision": d.decision,
            "level": d.level, "origin": d.origin}


async def _run(request: Request, work: Work) -> Response:
    svc = services(request)
    secret = _bearer(request)
    unauthorized = json_response(
        {"error": "unauthorized", "message": "Missing or invalid API token."}, 401,
        {"WWW-Authenticate": 'Bearer realm="statuspage"'})
    if secret is None or not await token_known(request, secret):
        return unauthorized
    raw = await request.body()
    address = client_address(request)

    def run() -> tuple[int, Any] | None:
        try:
            with svc.db.session() as session:
                found = token_operator(session, secret)
                if found is None:
                    return None
                token, operator = found
                who = Actor(operator.email, "token", address, token_id=token.id)
                return work(session, who, _payload(raw))
        except ApiError as exc:
            return exc.status, exc.payload
        except DeadlineError as exc:
            if "deadline" in exc.errors:
                return 404, {"error": "not_found", "message": exc.errors["deadline"]}
            return 422, {"error": "invalid", "message": str(exc), "errors": exc.errors}

    result = await asyncio.to_thread(run)
    if result is None:
        return unauthorized
    return json_response(result[1], result[0])


async def create(request: Request) -> Response:
    """``POST /api/v1/deadlines`` -> 201 with the deadline."""

    def work(session: Session, who: Actor, data: dict[str, Any]) -> tuple[int, Any]:
        return 201, deadline_json(create_deadline(session, who, data, origin="api"))

    return await _run(request, work)


async def edit(request: Request) -> Response:
    """``PATCH /api/v1/deadlines/{id}``: only the fields given change."""
    deadline_id = request.path_params["deadline_id"]

    def work(session: Session, who: Actor, data: dict[str, Any]) -> tuple[int, Any]:
        return 200, deadline_json(edit_deadline(session, who, deadline_id, data, origin="api"))

    return await _run(request, work)


async def decision(request: Request) -> Response:
    """``POST /api/v1/deadlines/{id}/decision`` {extended_to, decision}."""
    deadline_id = request.path_params["deadline_id"]
    config = services(request).settings.config

    def work(session: Session, who: Actor, data: dict[str, Any]) -> tuple[int, Any]:
        from statuspage.deadline_delivery import notice_hook

        row = store_decision(session, who, deadline_id, data.get("extended_to"),
                             data.get("decision"))
        note_decision(session, config, deadline_id, utcnow(), notice_hook(config))
        return 200, deadline_json(row)

    return await _run(request, work)


async def publish(request: Request) -> Response:
    """``POST /api/v1/deadlines/{id}/notice/publish`` {statement_id, statement_en}."""
    deadline_id = request.path_params["deadline_id"]
    svc = services(request)

    def work(session: Session, who: Actor, data: dict[str, Any]) -> tuple[int, Any]:
        from statuspage.deadline_delivery import notice_hook

        update = publish_notice(session, who, deadline_id, data.get("statement_id", ""),
                                data.get("statement_en", ""), utcnow(), svc.settings.config,
                                hook=notice_hook(svc.settings.config))
        return 200, {"deadline": deadline_id, "state": "published", "level": update.level,
                     "figures": update.figures}

    return await _run(request, work)


def routes() -> list[BaseRoute]:
    """Deadline routes of the automation API."""
    return [
        Route("/api/v1/deadlines", create, methods=["POST"]),
        Route("/api/v1/deadlines/{deadline_id}", edit, methods=["PATCH"]),
        Route("/api/v1/deadlines/{deadline_id}/decision", decision, methods=["POST"]),
        Route("/api/v1/deadlines/{deadline_id}/notice/publish", publish, methods=["POST"]),
    ]
