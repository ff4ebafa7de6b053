"""The console's preview: the whole incident as the public will see it, in the public style.

It used to show only the Markdown of the new text. Now the title, the status, every affected
component with the status it will show, and the timeline (the new update first) are rendered
with the public page's own macros (``templates/_partials.html``) and stylesheet, in the page's
default language. A resolved incident returns its components to operational, as publishing
would, so the preview shows no outage badges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.requests import Request

from statuspage.i18n import DEFAULT_LANGUAGE
from statuspage.models import Incident, utcnow
from statuspage.status import FINAL_STATUSES
from statuspage.store.components import list_components
from statuspage.store.public_views import IncidentView, UpdateView
from statuspage.views.admin.common import services

__all__ = ["incident_preview"]



def incident_preview(request: Request, session: Session, values: Mapping[str, Any],
                     existing: Incident | None = None) -> Markup:
    """HTML of the public incident card for ``values`` (name, status, impact, body,
    components) added to ``existing`` (for an update), ready to embed in the console."""
    now = utcnow()
    names = {c.id: c.name for c in list_components(session)}
    status = str(values.get("status") or (existing.status if existing else "investigating"))
    declared: dict[str, str] = dict(values.get("components") or {})
    if existing is not None:
        declared = {**{c.component_id: c.status for c in existing.components}, **declared}
    if status in FINAL_STATUSES:  # publishing returns every component to its measured status
        declared = dict.fromkeys(declared, "operational")
    components = tuple((cid, names.get(cid, cid), st) for cid, st in declared.items()
                       if cid in names)
    new = UpdateView("preview", "preview", status, str(values.get("body") or ""), now, now, now,
                     (), bool(values.get("notify")))
    older: Sequence[UpdateView] = ()
    if existing is not None:
        older = tuple(UpdateView(u.id, existing.id, u.status, u.body, u.created_at,
                                 u.updated_at, u.display_at, (), u.notify)
                      for u in sorted(existing.updates, key=lambda u: u.display_at,
                                      reverse=True))
    view = IncidentView(
        id=existing.id if existing else "preview", kind="incident",
        name=str(values.get("name") or (existing.name if existing else "")),
        status=status, impact=str(values.get("impact") or (existing.impact if existing
                                                          else "none")),
        created_at=existing.created_at if existing else now, updated_at=now,
        started_at=existing.started_at if existing else now, monitoring_at=None,
        resolved_at=now if status in FINAL_STATUSES else None, scheduled_for=None,
        scheduled_until=None, updates=(new, *older), components=components)
    svc = services(request)
    html = svc.render_html("_incident_preview.html", {"incident": view, "now": now},
                           DEFAULT_LANGUAGE)
    return Markup(html)  # noqa: S704 - rendered by an autoescaping template
