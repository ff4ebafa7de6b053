"""Console pages for scheduled maintenance: the list and the scheduling form.

Times are typed in the page's time zone (WIB by default, as operators and visitors read them)
and stored in UTC. Updates to a maintenance go through the incident page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from statuspage.inputs import InputError, parse_time
from statuspage.markdown import render_markdown
from statuspage.store import maintenance as maintenance_store
from statuspage.store.components import list_components
from statuspage.store.refusal import Refused
from statuspage.views.admin.common import (
    actor,
    console,
    in_session,
    parse_form,
    redirect,
    render,
    services,
)

__all__ = ["parse_local_time", "routes"]


def parse_local_time(value: str, zone: ZoneInfo) -> datetime | None:
    """``YYYY-MM-DDTHH:MM`` (an HTML datetime-local) in ``zone``, as aware UTC; None if bad."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    try:
        return parse_time(parsed.isoformat(), "time")  # the one rule for times (year bounds)
    except InputError:
        return None


def _context(session: Session, values: dict[str, Any], errors: dict[str, str],
             preview: Any = None) -> dict[str, Any]:
    components = list_components(session)
    return {"maintenances": maintenance_store.list_maintenances(session), "components": components,
            "component_names": {c.id: c.name for c in components}, "values": values,
            "errors": errors, "preview": preview}


@console()
async def maintenance_list(request: Request) -> Response:
    """Upcoming, running and recent maintenance, and the form to schedule one."""
    values = {"name": "", "body": "", "start": "", "end": "", "components": [],
              "auto_transition": True, "notify": True}
    return render(request, "admin/maintenance.html",
                  await in_session(request, lambda s: _context(s, values, {})))


@console()
async def schedule(request: Request) -> Response:
    """Schedule a window (or preview its message); bad input keeps what was typed."""
    form = await parse_form(request)
    zone = ZoneInfo(services(request).settings.config.page.time_zone)
    values: dict[str, Any] = {
        "name": str(form.get("name") or ""), "body": str(form.get("body") or ""),
        "start": str(form.get("start") or ""), "end": str(form.get("end") or ""),
        "components": [str(c) for c in form.getlist("component")],
        "auto_transition": form.get("auto_transition") == "on",
        "notify": form.get("notify") == "on",
    }
    who = actor(request)
    preview = form.get("action") == "preview"

    def work(session: Session) -> dict[str, Any]:
        if preview:
            return _context(session, values, {}, render_markdown(values["body"]))
        start = parse_local_time(values["start"], zone)
        end = parse_local_time(values["end"], zone)
        errors = {}
        if start is None:
            errors["scheduled_for"] = "Isi waktu mulai."
        if end is None:
            errors["scheduled_until"] = "Isi waktu selesai."
        if start is None or end is None:
            raise Refused(errors)
        maintenance = maintenance_store.create_maintenance(
            session, name=values["name"], body=values["body"], scheduled_for=start,
            scheduled_until=end, components=values["components"],
            auto_transition=values["auto_transition"], author=who.name,
            notify=values["notify"], actor=who)
        return {"created": maintenance.id}

    result = await in_session(request, work,
                               lambda s, exc: _context(s, values, exc.errors))
    if "created" in result:
        return redirect("/admin/maintenance", notice="scheduled")
    return render(request, "admin/maintenance.html", result, status_code=200 if preview else 422)


def routes() -> list[BaseRoute]:
    """Maintenance routes of the console."""
    return [
        Route("/admin/maintenance", maintenance_list, methods=["GET"]),
        Route("/admin/maintenance", schedule, methods=["POST"]),
    ]
