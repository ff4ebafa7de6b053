"""Deadline-impact notices: how much service an agency's applicants lost before a deadline.

``/deadlines/{id}`` (HTML) and ``/api/v1/deadlines/{id}/impact.json`` (JSON) answer the question
BKN had on 5 September 2024 with evidence instead of social-media posts: lost time weighted by
severity, every outage episode, the incidents published in the window, and the extension that
would give applicants back what they lost. Both are served from the page cache like every
other public read.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.routing import BaseRoute, Route

from statuspage.cache import CachedView, Rendered, RenderRequest
from statuspage.config import DeadlineConfig
from statuspage.impact import DEFAULT_WEIGHTS, DeadlineImpact
from statuspage.models import utcnow
from statuspage.store.deadlines import impact_for_deadline, incidents_in_window
from statuspage.views.api import iso, json_rendered
from statuspage.views.public import render_page

__all__ = ["impact_json", "routes"]

def _deadline(services: Any, request: RenderRequest) -> DeadlineConfig | None:
    wanted = request.path_params.get("deadline_id", "")
    return next((d for d in services.settings.config.deadlines if d.id == wanted), None)


def impact_json(deadline: DeadlineConfig, impact: DeadlineImpact, page_url: str,
                incidents: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON report (pure): seconds for durations, ISO 8601 UTC for times."""

    def seconds(value: timedelta) -> float:
        return round(value.total_seconds(), 1)

    return {
        "deadline": {"id": deadline.id, "name": deadline.name, "agency": deadline.agency,
                     "at": iso(deadline.at), "components": list(deadline.components),
                     "window_days": deadline.window_days},
        "window_start": iso(impact.window_start),
        "window_end": iso(impact.window_end),
        "observed_from": iso(impact.observed_from),
        "coverage": round(impact.coverage, 6),
        "lost_seconds": seconds(impact.lost),
        "availability": round(impact.availability, 6),
        "durations_seconds": {k: seconds(v) for k, v in sorted(impact.durations.items())},
        "per_component_lost_seconds": {k: seconds(v)
                                       for k, v in impact.per_component_lost.items()},
        "recommended_extension_days": impact.recommended_extension.days,
        "weights": dict(DEFAULT_WEIGHTS),
        "episodes": [{"start": iso(e.start), "end": iso(e.end), "status": e.status,
                      "components": list(e.components),
                      "duration_seconds": seconds(e.duration)} for e in impact.episodes],
        "incidents": incidents,
        "url": f"{page_url}/deadlines/{deadline.id}",
    }


def _read(services: Any, deadline: DeadlineConfig) -> tuple[DeadlineImpact, list[Any]]:
    with services.db.session() as session:
        impact = impact_for_deadline(session, deadline, utcnow())
        incidents = incidents_in_window(session, deadline)
    return impact, incidents


def render_impact_json(services: Any, request: RenderRequest) -> Rendered:
    """``/api/v1/deadlines/{id}/impact.json``."""
    deadline = _deadline(services, request)
    if deadline is None:
        return json_rendered({"error": "not_found", "message": "no such deadline"}, 404)
    impact, incidents = _read(services, deadline)
    page_url = services.settings.config.page.url
    refs = [{"id": i.id, "name": i.name, "status": i.status, "impact": i.impact,
             "started_at": iso(i.started_at), "resolved_at": iso(i.resolved_at),
             "url": f"{page_url}/incidents/{i.id}"} for i in incidents]
    return json_rendered(impact_json(deadline, impact, page_url, refs))


def render_impact_page(services: Any, request: RenderRequest) -> Rendered:
    """``/deadlines/{id}``: the notice for a person (an agency officer, a journalist)."""
    deadline = _deadline(services, request)
    if deadline is None:
        return render_page(services, request, "not_found.html", {}, 404)
    impact, incidents = _read(services, deadline)
    names = {c.id: c.name for c in services.settings.config.components}
    return render_page(services, request, "deadline.html", {
        "deadline": deadline, "impact": impact, "incidents": incidents,
        "component_names": names, "weights": DEFAULT_WEIGHTS,
    })


def routes() -> list[BaseRoute]:
    """The deadline-impact routes."""
    methods = ["GET", "HEAD"]
    return [
        Route("/deadlines/{deadline_id}", CachedView(render_impact_page), methods=methods),
        Route("/api/v1/deadlines/{deadline_id}/impact.json",
              CachedView(render_impact_json, localized=False), methods=methods),
    ]
