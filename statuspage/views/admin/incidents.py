"""Console pages for incidents: dashboard, new incident (templates, preview), updates, resolve,
postmortem, edit with history, and publishing the probes' drafts.

Every form posts back to itself with ``action=preview`` or the real action; without JavaScript
the preview is a round trip that changes nothing and keeps what the operator typed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from statuspage.markdown import render_markdown
from statuspage.models import IncidentUpdate
from statuspage.models.operators import IncidentTemplate
from statuspage.status import (
    CLOSING_STATUSES,
    COMPONENT_STATUSES,
    IMPACTS,
    MAINTENANCE_STATUSES,
)
from statuspage.store import incidents as store
from statuspage.store.components import list_components
from statuspage.store.maintenance import list_maintenances
from statuspage.store.notified import subscribers_notified
from statuspage.store.refusal import Refused
from statuspage.store.subscriptions import disabled_alerts
from statuspage.store.templates import list_templates, save_template
from statuspage.views.admin.common import (
    actor,
    console,
    in_session,
    parse_form,
    redirect,
    render,
)
from statuspage.views.admin.preview import incident_preview
from statuspage.views.admin.recovery import recoveries

__all__ = ["FORM_STATUSES", "form_components", "form_context", "routes"]

#: Component statuses in the order an operator reads them: mildest first, maintenance last.
FORM_STATUSES: tuple[str, ...] = (
    *(s for s in COMPONENT_STATUSES if s != "under_maintenance"), "under_maintenance")

def form_components(form: FormData) -> dict[str, str]:
    """``component.<id>`` selects with a non-empty status, as ``{id: status}``."""
    return {key.split(".", 1)[1]: str(value) for key, value in form.multi_items()
            if key.startswith("component.") and isinstance(value, str) and value}


def _values(form: FormData, *names: str) -> dict[str, Any]:
    out: dict[str, Any] = {n: str(form.get(n) or "") for n in names}
    out["notify"] = form.get("notify") == "on"
    out["components"] = form_components(form)
    return out


def form_context(session: Session) -> dict[str, Any]:
    """Choices every incident form needs: components, statuses, impacts."""
    components = list_components(session)
    return {"components": components, "component_statuses": FORM_STATUSES,
            "component_names": {c.id: c.name for c in components},
            "update_statuses": store.INCIDENT_UPDATE_STATUSES, "impacts": IMPACTS,
            "maintenance_statuses": MAINTENANCE_STATUSES}


@console()
async def dashboard(request: Request) -> Response:
    """Drafts from the probes first, then open incidents, maintenance, recent resolved."""
    def load(session: Session) -> dict[str, Any]:
        incidents = store.list_incidents(session, limit=30)
        return {**form_context(session), "drafts": store.list_drafts(session),
                "open": [i for i in incidents if i.resolved_at is None],
                "closed": [i for i in incidents if i.resolved_at is not None][:10],
                "maintenances": [m for m in list_maintenances(session, limit=10)
                                 if m.resolved_at is None],
                "webhook_alerts": disabled_alerts(session),
                "recoveries": recoveries(request, session)}

    return render(request, "admin/dashboard.html", await in_session(request, load))


def _template_values(tpl: IncidentTemplate | None) -> dict[str, Any]:
    if tpl is None:
        return {"name": "", "status": "investigating", "impact": "minor", "body": "",
                "components": {}, "notify": True}
    return {"name": tpl.name, "status": tpl.status, "impact": tpl.impact, "body": tpl.body,
            "components": dict(tpl.components or {}), "notify": True}


@console()
async def new_incident(request: Request) -> Response:
    """The posting form, optionally pre-filled from a template (``?template=ID``)."""
    chosen = request.query_params.get("template", "")

    def load(session: Session) -> dict[str, Any]:
        templates = list_templates(session)
        tpl = next((t for t in templates if t.id == chosen), None)
        return {**form_context(session), "templates": templates,
                "values": _template_values(tpl), "errors": {}, "preview": None}

    return render(request, "admin/incident_new.html", await in_session(request, load))


@console()
async def create_incident(request: Request) -> Response:
    """Preview, or create the incident; errors re-render the form with the input kept."""
    form = await parse_form(request)
    values = _values(form, "name", "status", "impact", "body")
    who = actor(request)
    preview = form.get("action") == "preview"
    if form.get("action") == "save_template":
        return await _save_as_template(request, values)

    def work(session: Session) -> dict[str, Any]:
        ctx = {**form_context(session), "templates": list_templates(session),
               "values": values, "errors": {}, "preview": None}
        if preview:
            ctx["preview"] = incident_preview(request, session, values)
            return ctx
        incident = store.create_incident(
            session, name=values["name"], status=values["status"], impact=values["impact"],
            body=values["body"], components=values["components"], notify=values["notify"],
            author=who.name, actor=who)
        return {"created": incident.id}

    def failed(session: Session, exc: Refused) -> dict[str, Any]:
        return {**form_context(session), "templates": list_templates(session),
                "values": values, "errors": exc.errors, "preview": None}

    result = await in_session(request, work, failed)
    if "created" in result:
        return redirect(f"/admin/incidents/{result['created']}", notice="created")
    return render(request, "admin/incident_new.html", result,
                  status_code=200 if preview else 422)


async def _save_as_template(request: Request, values: dict[str, Any]) -> Response:
    """Keep what is in the form as a template (nothing is published)."""
    who = actor(request)

    def work(session: Session) -> Response:
        tid = save_template(session, name=values["name"], status=values["status"],
                            impact=values["impact"], body=values["body"],
                            components=values["components"], actor=who).id
        return redirect(f"/admin/incidents/new?template={tid}", notice="saved")

    def refused(session: Session, exc: Refused) -> Response:
        return render(request, "admin/incident_new.html", {
            **form_context(session), "templates": list_templates(session), "values": values,
            "errors": exc.errors, "preview": None}, status_code=422)

    return await in_session(request, work, refused)


@console()
async def incident_list(request: Request) -> Response:
    """Every incident, open first then newest (for postmortems and corrections later on)."""
    return render(request, "admin/incidents.html", {"incidents": await in_session(
        request, lambda s: store.list_incidents(s, limit=200))})


def _detail_context(session: Session, incident_id: str) -> dict[str, Any]:
    incident = store.get_incident(session, incident_id)
    if incident is None or incident.is_draft:
        raise HTTPException(404)
    return {**form_context(session), "incident": incident, "errors": {}, "preview": None,
            "values": {"status": incident.status, "body": "", "notify": True, "components": {
                ic.component_id: ic.status for ic in incident.components}},
            "postmortem": {"body": incident.postmortem_body or ""}, "postmortem_preview": None,
            "render": render_markdown, "notified": subscribers_notified(session, incident_id)}


@console()
async def incident_detail(request: Request) -> Response:
    """An incident or maintenance: its timeline and the forms to act on it."""
    iid = request.path_params["incident_id"]
    return render(request, "admin/incident.html",
                  await in_session(request, lambda s: _detail_context(s, iid)))


@console()
async def post_update(request: Request) -> Response:
    """Post an update (or preview it); ``reopen`` is needed for a resolved incident."""
    iid = request.path_params["incident_id"]
    form = await parse_form(request)
    values = _values(form, "status", "body")
    reopen = form.get("reopen") == "on"
    preview = form.get("action") == "preview"
    who = actor(request)

    def work(session: Session) -> dict[str, Any]:
        ctx = _detail_context(session, iid)
        ctx["values"] = {**values, "reopen": reopen}
        if preview:
            ctx["preview"] = incident_preview(request, session, values,
                                              store.get_incident(session, iid))
            return ctx
        store.post_update(session, iid, status=values["status"], body=values["body"],
                          components=values["components"], notify=values["notify"],
                          author=who.name, reopen=reopen, actor=who)
        return {"done": "resolved" if values["status"] in CLOSING_STATUSES
                else "updated"}

    def failed(session: Session, exc: Refused) -> dict[str, Any]:
        ctx = _detail_context(session, iid)
        ctx.update(values={**values, "reopen": reopen}, errors=exc.errors)
        return ctx

    result = await in_session(request, work, failed)
    if "done" in result:
        return redirect(f"/admin/incidents/{iid}", notice=result["done"])
    return render(request, "admin/incident.html", result, status_code=200 if preview else 422)


@console()
async def resolve(request: Request) -> Response:
    """Resolve in one step (components return to their measured status)."""
    iid = request.path_params["incident_id"]
    form = await parse_form(request)
    body = str(form.get("body") or "")
    who = actor(request)

    def work(session: Session) -> dict[str, Any]:
        store.resolve_incident(session, iid, body=body, author=who.name,
                               notify=form.get("notify") == "on", actor=who)
        return {"done": "resolved"}

    def failed(session: Session, exc: Refused) -> dict[str, Any]:
        ctx = _detail_context(session, iid)
        ctx.update(errors={"resolve": str(exc)}, resolve_body=body)
        return ctx

    result = await in_session(request, work, failed)
    if "done" in result:
        return redirect(f"/admin/incidents/{iid}", notice="resolved")
    return render(request, "admin/incident.html", result, status_code=422)


@console()
async def postmortem(request: Request) -> Response:
    """Preview, save or publish the postmortem of a resolved incident."""
    iid = request.path_params["incident_id"]
    form = await parse_form(request)
    body = str(form.get("body") or "")
    action = form.get("action")
    who = actor(request)

    def work(session: Session) -> dict[str, Any]:
        ctx = _detail_context(session, iid)
        ctx["postmortem"] = {"body": body}
        if action == "preview":
            ctx["postmortem_preview"] = render_markdown(body)
            return ctx
        store.write_postmortem(session, iid, body=body, author=who.name,
                               publish=action == "publish", actor=who)
        return {"done": "postmortem"}

    def failed(session: Session, exc: Refused) -> dict[str, Any]:
        ctx = _detail_context(session, iid)
        ctx.update(postmortem={"body": body}, errors={"postmortem": str(exc)})
        return ctx

    result = await in_session(request, work, failed)
    if "done" in result:
        return redirect(f"/admin/incidents/{iid}", notice="postmortem")
    return render(request, "admin/incident.html", result,
                  status_code=200 if action == "preview" else 422)


def _edit_context(session: Session, update_id: str, body: str | None) -> dict[str, Any]:
    update = session.get(IncidentUpdate, update_id)
    if update is None:
        raise HTTPException(404)
    return {"update": update, "history": store.update_history(session, update_id),
            "body": update.body if body is None else body, "errors": {}, "preview": None,
            "render": render_markdown}


@console()
async def edit_form(request: Request) -> Response:
    """Correct the text of an update; shows earlier versions."""
    uid = request.path_params["update_id"]
    return render(request, "admin/update_edit.html",
                  await in_session(request, lambda s: _edit_context(s, uid, None)))


@console()
async def edit_update(request: Request) -> Response:
    """Save the corrected text (the previous one goes to the history)."""
    uid = request.path_params["update_id"]
    form = await parse_form(request)
    body = str(form.get("body") or "")
    preview = form.get("action") == "preview"
    who = actor(request)

    def work(session: Session) -> dict[str, Any]:
        ctx = _edit_context(session, uid, body)
        if preview:
            ctx["preview"] = render_markdown(body)
            return ctx
        update = store.edit_update(session, uid, body=body, editor=who.name, actor=who)
        return {"done": update.incident_id}

    def failed(session: Session, exc: Refused) -> dict[str, Any]:
        return {**_edit_context(session, uid, body), "errors": exc.errors}

    result = await in_session(request, work, failed)
    if "done" in result:
        return redirect(f"/admin/incidents/{result['done']}", notice="edited")
    return render(request, "admin/update_edit.html", result, status_code=200 if preview else 422)


@console()
async def publish_draft(request: Request) -> Response:
    """Publish a probe-made draft in one click (with the text as edited on the dashboard)."""
    did = request.path_params["incident_id"]
    form = await parse_form(request)
    who = actor(request)
    body = str(form.get("body") or "") or None
    name = str(form.get("name") or "") or None

    def work(session: Session) -> str | None:
        store.publish_draft(session, did, author=who.name, name=name, body=body,
                            notify=form.get("notify") == "on", actor=who)
        return None

    error = await in_session(request, work, lambda _s, exc: str(exc))
    if error:
        return render(request, "admin/message.html", {"title": "Draf tidak diterbitkan",
                                                      "message": error, "back": "/admin"},
                      status_code=422)
    return redirect(f"/admin/incidents/{did}", notice="published")


@console()
async def discard_draft(request: Request) -> Response:
    """Dismiss a false alarm; the draft stays in the database for the record."""
    did = request.path_params["incident_id"]
    who = actor(request)

    def work(session: Session) -> None:
        store.discard_draft(session, did, author=who.name, actor=who)

    def failed(_session: Session, exc: Refused) -> None:
        raise HTTPException(404) from exc

    await in_session(request, work, failed)
    return redirect("/admin", notice="discarded")


def routes() -> list[BaseRoute]:
    """Incident routes of the console."""
    return [
        Route("/admin", dashboard, methods=["GET"]),
        Route("/admin/incidents", incident_list, methods=["GET"]),
        Route("/admin/incidents/new", new_incident, methods=["GET"]),
        Route("/admin/incidents/new", create_incident, methods=["POST"]),
        Route("/admin/incidents/{incident_id}", incident_detail, methods=["GET"]),
        Route("/admin/incidents/{incident_id}/updates", post_update, methods=["POST"]),
        Route("/admin/incidents/{incident_id}/resolve", resolve, methods=["POST"]),
        Route("/admin/incidents/{incident_id}/postmortem", postmortem, methods=["POST"]),
        Route("/admin/updates/{update_id}/edit", edit_form, methods=["GET"]),
        Route("/admin/updates/{update_id}/edit", edit_update, methods=["POST"]),
        Route("/admin/drafts/{incident_id}/publish", publish_draft, methods=["POST"]),
        Route("/admin/drafts/{incident_id}/discard", discard_draft, methods=["POST"]),
    ]
