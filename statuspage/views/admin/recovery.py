"""The recovery prompt: one button to move a measured-recovered incident to monitoring."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from statuspage.store.recovery import confirm_recovery, measured_recoveries
from statuspage.views.admin.common import (
    actor,
    console,
    in_session,
    parse_form,
    redirect,
    services,
)

__all__ = ["recoveries", "routes"]


def recoveries(request: Request, session: Session) -> list[object]:
    """The dashboard's list (``[evaluation] recovery_prompt_s``, 10 minutes by default)."""
    seconds = services(request).settings.config.evaluation.recovery_prompt_s
    return list(measured_recoveries(session, timedelta(seconds=seconds)))


@console()
async def confirm(request: Request) -> Response:
    """``POST /admin/incidents/{id}/measured-recovery``: monitoring (or resolved) + statuses."""
    iid = request.path_params["incident_id"]
    form = await parse_form(request)
    resolve = form.get("resolve") == "on"
    who = actor(request)
    page = services(request).settings.config.page

    def work(session: Session) -> str:
        confirm_recovery(session, iid, resolve=resolve, author=who.name,
                         time_zone=page.time_zone, zone_label=page.time_zone_label,
                         notify=form.get("notify") == "on", actor=who)
        return "resolved" if resolve else "updated"

    notice = await in_session(request, work, lambda session, exc: "")
    if not notice:  # gone or already closed: the dashboard shows what is left to do
        return redirect("/admin")
    return redirect(f"/admin/incidents/{iid}", notice=notice)


def routes() -> list[BaseRoute]:
    """Recovery prompt routes."""
    return [Route("/admin/incidents/{incident_id}/measured-recovery", confirm, methods=["POST"])]
