"""Incident templates: list, add, edit, delete (any operator: preparing texts is ops work)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from statuspage.models.operators import IncidentTemplate
from statuspage.store import templates as store
from statuspage.store.refusal import Refused
from statuspage.views.admin.common import actor, console, in_session, parse_form, redirect, render
from statuspage.views.admin.incidents import form_components, form_context

__all__ = ["routes"]

BLANK: dict[str, Any] = {"name": "", "status": "investigating", "impact": "minor", "body": "",
                         "components": {}}


def _context(session: Session, values: dict[str, Any], errors: dict[str, str],
             template_id: str | None) -> dict[str, Any]:
    return {**form_context(session), "templates": store.list_templates(session), "values": values,
            "errors": errors, "template_id": template_id}


def _values_of(row: IncidentTemplate) -> dict[str, Any]:
    return {"name": row.name, "status": row.status, "impact": row.impact, "body": row.body,
            "components": dict(row.components or {})}


@console()
async def templates(request: Request) -> Response:
    """Every template, and the form to add one."""
    return render(request, "admin/templates.html",
                  await in_session(request, lambda s: _context(s, dict(BLANK), {}, None)))


@console()
async def edit_form(request: Request) -> Response:
    """One template in the form, to change it."""
    tid = request.path_params["template_id"]

    def load(session: Session) -> dict[str, Any]:
        row = session.get(IncidentTemplate, tid)
        if row is None:
            raise HTTPException(404)
        return _context(session, _values_of(row), {}, tid)

    return render(request, "admin/templates.html", await in_session(request, load))


@console()
async def save(request: Request) -> Response:
    """Create (``/admin/templates``) or replace (``/admin/templates/{id}``) a template."""
    tid = request.path_params.get("template_id")
    form = await parse_form(request)
    values: dict[str, Any] = {key: str(form.get(key) or "")
                              for key in ("name", "status", "impact", "body")}
    values["components"] = form_components(form)
    who = actor(request)

    def work(session: Session) -> Response:
        store.save_template(session, name=values["name"], status=values["status"],
                          impact=values["impact"], body=values["body"],
                          components=values["components"], template_id=tid, actor=who)
        return redirect("/admin/templates", notice="saved")

    def refused(session: Session, exc: Refused) -> Response:
        return render(request, "admin/templates.html", _context(session, values, exc.errors, tid),
                      status_code=422)

    return await in_session(request, work, refused)


@console()
async def delete(request: Request) -> Response:
    """Remove a template."""
    tid = request.path_params["template_id"]
    who = actor(request)
    await in_session(request, lambda s: store.delete_template(s, tid, actor=who))
    return redirect("/admin/templates", notice="saved")


def routes() -> list[BaseRoute]:
    """Template routes."""
    return [
        Route("/admin/templates", templates, methods=["GET"]),
        Route("/admin/templates", save, methods=["POST"]),
        Route("/admin/templates/{template_id}", edit_form, methods=["GET"]),
        Route("/admin/templates/{template_id}", save, methods=["POST"]),
        Route("/admin/templates/{template_id}/delete", delete, methods=["POST"]),
    ]
