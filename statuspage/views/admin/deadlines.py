"""Console pages for deadlines: list, create, edit, publish the drafted notice, record the
agency's decision. Times are typed in the page's time zone (WIB) and stored in UTC; every
form is CSRF-protected and needs a login (``console()``); refusals keep what was typed.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from statuspage.deadline_delivery import notice_hook
from statuspage.models import utcnow
from statuspage.store import deadline_records as records
from statuspage.store.components import list_components
from statuspage.store.notices import get_notice, note_decision, publish_notice
from statuspage.views.admin.common import (
    actor,
    console,
    in_session,
    parse_form,
    redirect,
    render,
    services,
)
from statuspage.views.admin.maintenance import parse_local_time

__all__ = ["routes"]

_FIELDS = ("id", "agency", "name_id", "name_en", "closes_at", "opened_at", "legal_min_days",
           "window_days", "patience_s", "demand_profile", "contact")


def _number(text: str) -> object:
    try:
        value = float(text)
    except ValueError:
        return text  # the store names the field and the expected form
    return int(value) if value.is_integer() else value


def _data(form: FormData, zone: ZoneInfo, creating: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values to show again, data for the store) from the posted form."""
    shown: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in _FIELDS}
    shown["components"] = [str(c) for c in form.getlist("component")]
    data: dict[str, Any] = {k: shown[k] for k in ("agency", "name_id", "name_en", "contact")}
    data["components"] = shown["components"]
    if creating:
        data["id"] = shown["id"]
    for key in ("closes_at", "opened_at"):
        text = shown[key]
        if text:
            data[key] = parse_local_time(text, zone) or text
        elif key == "opened_at":
            data[key] = None
    for key in ("window_days", "patience_s"):
        if shown[key]:
            data[key] = _number(shown[key])
    data["legal_min_days"] = _number(shown["legal_min_days"]) if shown["legal_min_days"] else None
    profile = shown["demand_profile"]
    data["demand_profile"] = None if not profile else [
        _number(part.strip()) for part in profile.replace(";", ",").split(",")][:48]
    return shown, data


def _shown(row: Any, zone: ZoneInfo) -> dict[str, Any]:
    def local(value: Any) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if value else ""

    return {"id": row.id, "agency": row.agency, "name_id": row.name_id, "name_en": row.name_en,
            "closes_at": local(row.closes_at), "opened_at": local(row.opened_at),
            "legal_min_days": row.legal_min_days or "", "window_days": row.window_days,
            "patience_s": row.patience_s, "contact": row.contact,
            "demand_profile": ", ".join(f"{v:g}" for v in row.demand_profile or []),
            "components": list(row.components)}


def _list_context(session: Session, values: dict[str, Any], errors: dict[str, str]
                  ) -> dict[str, Any]:
    return {"deadlines": records.list_deadlines(session), "components": list_components(session),
            "values": values, "errors": errors}


@console()
async def deadline_list(request: Request) -> Response:
    """Every deadline, and the form to add one."""
    values = {"window_days": 7, "patience_s": 30, "components": []}
    ctx = await in_session(request, lambda s: _list_context(s, values, {}))
    return render(request, "admin/deadlines.html", ctx)


@console()
async def create(request: Request) -> Response:
    """Create a deadline (422 with field messages when refused)."""
    zone = ZoneInfo(services(request).settings.config.page.time_zone)
    shown, data = _data(await parse_form(request), zone, creating=True)
    who = actor(request)

    def work(session: Session) -> dict[str, Any]:
        return {"created": records.create_deadline(session, who, data).id}

    result = await in_session(request, work,
                              lambda s, e: _list_context(s, shown, e.errors))
    if "created" in result:
        return redirect(f"/admin/deadlines/{result['created']}", notice="saved")
    return render(request, "admin/deadlines.html", result, status_code=422)


def _detail(session: Session, deadline_id: str, zone: ZoneInfo, values: dict[str, Any] | None,
            errors: dict[str, str]) -> dict[str, Any]:
    row = records.get_deadline(session, deadline_id)
    if row is None:
        return {}
    return {"deadline": row, "values": values or _shown(row, zone), "errors": errors,
            "components": list_components(session),
            "deadline_notice": get_notice(session, deadline_id)}


@console()
async def detail(request: Request) -> Response:
    """One deadline: edit form, its notice (draft figures, publish), the agency's decision."""
    deadline_id = request.path_params["deadline_id"][:64]
    zone = ZoneInfo(services(request).settings.config.page.time_zone)
    ctx = await in_session(request, lambda s: _detail(s, deadline_id, zone, None, {}))
    if not ctx:
        return render(request, "admin/message.html", {"message": "Tenggat tidak ditemukan."},
                      status_code=404)
    return render(request, "admin/deadline.html", ctx)


@console()
async def edit(request: Request) -> Response:
    """Save the edit form."""
    deadline_id = request.path_params["deadline_id"][:64]
    zone = ZoneInfo(services(request).settings.config.page.time_zone)
    shown, data = _data(await parse_form(request), zone, creating=False)
    who = actor(request)

    def work(session: Session) -> dict[str, Any]:
        records.edit_deadline(session, who, deadline_id, data)
        return {"saved": True}

    result = await in_session(request, work,
                              lambda s, e: _detail(s, deadline_id, zone, shown, e.errors))
    if result.get("saved"):
        return redirect(f"/admin/deadlines/{deadline_id}", notice="saved")
    if not result:
        return render(request, "admin/message.html", {"message": "Tenggat tidak ditemukan."},
                      status_code=404)
    return render(request, "admin/deadline.html", result, status_code=422)


@console()
async def publish(request: Request) -> Response:
    """Publish the drafted notice with the operators' statement."""
    deadline_id = request.path_params["deadline_id"][:64]
    svc = services(request)
    zone = ZoneInfo(svc.settings.config.page.time_zone)
    form = await parse_form(request)
    who = actor(request)

    def work(session: Session) -> dict[str, Any]:
        publish_notice(session, who, deadline_id, str(form.get("statement_id") or ""),
                       str(form.get("statement_en") or ""), utcnow(), svc.settings.config,
                       hook=notice_hook(svc.settings.config))
        return {"saved": True}

    result = await in_session(request, work,
                              lambda s, e: _detail(s, deadline_id, zone, None, e.errors))
    if result.get("saved"):
        return redirect(f"/admin/deadlines/{deadline_id}", notice="published")
    return render(request, "admin/deadline.html", result, status_code=422)


@console()
async def decision(request: Request) -> Response:
    """Record the agency's decision; the deadline follows it."""
    deadline_id = request.path_params["deadline_id"][:64]
    zone = ZoneInfo(services(request).settings.config.page.time_zone)
    form = await parse_form(request)
    text = str(form.get("extended_to") or "")
    when = parse_local_time(text, zone) if text else None
    who = actor(request)

    config = services(request).settings.config

    def work(session: Session) -> dict[str, Any]:
        records.record_decision(session, who, deadline_id, when or text,
                                str(form.get("decision") or ""))
        note_decision(session, config, deadline_id, utcnow(), notice_hook(config))
        return {"saved": True}

    result = await in_session(request, work,
                              lambda s, e: _detail(s, deadline_id, zone, None, e.errors))
    if result.get("saved"):
        return redirect(f"/admin/deadlines/{deadline_id}", notice="saved")
    return render(request, "admin/deadline.html", result, status_code=422)


def routes() -> list[BaseRoute]:
    """Deadline routes of the console."""
    return [
        Route("/admin/deadlines", deadline_list, methods=["GET"]),
        Route("/admin/deadlines", create, methods=["POST"]),
        Route("/admin/deadlines/{deadline_id}", detail, methods=["GET"]),
        Route("/admin/deadlines/{deadline_id}", edit, methods=["POST"]),
        Route("/admin/deadlines/{deadline_id}/publish", publish, methods=["POST"]),
        Route("/admin/deadlines/{deadline_id}/decision", decision, methods=["POST"]),
    ]
