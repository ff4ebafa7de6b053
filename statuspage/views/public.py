"""The public pages: home, one incident, history, one component.

Each handler is a ``CachedView``: it parses nothing itself, the cache keys the request, and the
renderer below (run in a thread on a miss) calls one store verb and one template. Two small pure
helpers shape data for the templates: ``day_ranges`` (the uptime list readable on a phone) and
``sparkline`` (the 24-hour latency line as SVG points).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from probes import MAX_MILLIS
from statuspage.cache import STALE_MARKER, Rendered
from statuspage.cached_view import CachedView, RenderRequest
from statuspage.inputs import finite
from statuspage.models import utcnow
from statuspage.services import Services
from statuspage.store.public import (
    DayUptime,
    IncidentRef,
    component_incidents,
    history_page,
    incident_detail,
    page_data,
    sample_data,
)

__all__ = ["DayRange", "Sparkline", "day_ranges", "render_page", "routes", "sparkline"]

HTML = "text/html; charset=utf-8"
#: The page icon: static bytes, cached by browsers for a day (one request per visitor at most).
FAVICON_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
               b'<circle cx="8" cy="8" r="7" fill="#1a7f37"/>'
               b'<path d="M4.5 8.2l2.3 2.3 4.7-4.8" fill="none" stroke="#fff" stroke-width="2"/>'
               b"</svg>")
_ID = re.compile(r"^[a-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class DayRange:
    """Consecutive days drawn alike, listed as one line ("1–20 Agu: Normal · 100%")."""

    start: date
    end: date
    level: str
    measured_s: float
    served_s: float
    incidents: tuple[IncidentRef, ...]

    @property
    def uptime(self) -> float | None:
        """Uptime over the range's days with data."""
        return self.served_s / self.measured_s if self.measured_s else None

    @property
    def troubled(self) -> bool:
        """Whether the range is a day with trouble (measured or reported)."""
        return bool(self.incidents) or self.level not in ("operational", "no_data")


def day_ranges(days: Sequence[DayUptime]) -> list[DayRange]:
    """Newest first; days with incidents stand alone, calm days of one level are merged.

    Merging keeps the home page small (90 lines per component would not fit the 60 KB budget)
    while every day's level, uptime and incidents stay readable as text; the component page
    lists every day in a table.
    """
    ranges: list[DayRange] = []
    for day in reversed(days):
        level = day.level
        last = ranges[-1] if ranges else None
        if (last is not None and not day.incidents and not last.incidents
                and last.level == level):
            ranges[-1] = DayRange(day.day, last.end, level, last.measured_s + day.measured_s,
                                  last.served_s + day.served_s, ())
        else:
            ranges.append(DayRange(day.day, day.day, level, day.measured_s, day.served_s,
                                   day.incidents))
    return ranges


@dataclass(frozen=True)
class Sparkline:
    """SVG polyline segments (gaps where an hour had no data) and the figures they show."""

    width: int
    height: int
    segments: tuple[str, ...]
    average: int
    latest: int


def sparkline(values: Sequence[float | None], width: int = 240, height: int = 32
              ) -> Sparkline | None:
    """Points for an inline SVG line of hourly averages; None when there is no data at all.

    A value that is not a finite, plausible latency (stored before input was bounded) is drawn
    as a gap, so one poisoned hour cannot stop the page from rendering.
    """
    values = [finite(v, MAX_MILLIS) for v in values]
    known = [v for v in values if v is not None]
    if not known:
        return None
    top = max(known) or 1.0
    step = width / max(1, len(values) - 1)
    segments: list[str] = []
    current: list[str] = []
    for i, value in enumerate(values):
        if value is None:
            if current:
                segments.append(" ".join(current))
            current = []
            continue
        y = height - 2 - (value / top) * (height - 4)
        current.append(f"{i * step:.0f},{y:.1f}")
    if current:
        segments.append(" ".join(current))
    # a single point draws nothing: repeat it so the hour shows as a dot-sized line
    segments = [s if " " in s else f"{s} {s}" for s in segments]
    return Sparkline(width, height, tuple(segments), round(sum(known) / len(known)),
                     round(known[-1]))


def render_page(services: Services, request: RenderRequest, template: str,
                context: dict[str, Any], status: int = 200) -> Rendered:
    """Render a public HTML page plus its variant with the "may be stale" notice."""
    from statuspage.views.deadlines import deadline_links

    with services.db.read() as session:
        links = deadline_links(session)
    values = {"now": utcnow(), "day_ranges": day_ranges, "sparkline": sparkline,
              "sample_data": False, **links, **context}
    body = services.render_html(template, values, request.lang, request.path,
                                request.params).encode()
    notice = services.render_html("_stale_notice.html", {}, request.lang).encode()
    return Rendered(status, body, HTML, body.replace(STALE_MARKER, notice, 1))


def _not_found(services: Services, request: RenderRequest, sample: bool) -> Rendered:
    return render_page(services, request, "not_found.html", {"sample_data": sample}, 404)


def render_home(services: Services, request: RenderRequest) -> Rendered:
    """``/``: overall status, components with uptime and latency, incidents, maintenance."""
    now = utcnow()
    with services.db.read() as session:
        data = page_data(session, services.settings.config, now)
    return render_page(services, request, "index.html",
                       {"data": data, "now": now, "sample_data": data.sample_data})


def render_incident(services: Services, request: RenderRequest) -> Rendered:
    """``/incidents/{id}``: one published incident, every update newest first."""
    incident_id = request.path_params.get("incident_id", "")
    with services.db.read() as session:
        sample = sample_data(session)
        incident = incident_detail(session, incident_id) if _ID.match(incident_id) else None
    if incident is None:
        return _not_found(services, request, sample)
    return render_page(services, request, "incident.html",
                       {"incident": incident, "sample_data": sample})


def _page_number(value: str | None) -> int:
    try:
        return max(1, int(value or "1"))
    except ValueError:
        return 1


def page_param(value: str) -> str | None:
    """Normalise ``?page=``: a page number above 1, else None (the first page)."""
    number = _page_number(value[:9])
    return str(number) if number > 1 else None


def render_history(services: Services, request: RenderRequest) -> Rendered:
    """``/history?page=N``: past incidents by month."""
    page = _page_number(request.params.get("page"))
    with services.db.read() as session:
        sample = sample_data(session)
        history = history_page(session, services.settings.config, page)
    if history is None:
        return _not_found(services, request, sample)
    return render_page(services, request, "history.html",
                       {"history": history, "sample_data": sample})


def render_component(services: Services, request: RenderRequest) -> Rendered:
    """``/components/{id}``: one component's status, 90 days day by day, its incidents."""
    component_id = request.path_params.get("component_id", "")
    now = utcnow()
    with services.db.read() as session:
        data = page_data(session, services.settings.config, now)
        component = data.component(component_id)
        incidents = component_incidents(session, component_id) if component else ()
    if component is None:
        return _not_found(services, request, data.sample_data)
    return render_page(services, request, "component.html",
                       {"component": component, "incidents": incidents, "now": now,
                        "sample_data": data.sample_data})


async def favicon(request: Request) -> Response:
    """``/favicon.svg``: static bytes, no database, cached for a day."""
    return Response(FAVICON_SVG, media_type="image/svg+xml",
                    headers={"cache-control": "public, max-age=86400"})


def routes() -> list[BaseRoute]:
    """The public page routes (GET and HEAD, served from the page cache)."""
    methods = ["GET", "HEAD"]
    return [
        Route("/favicon.svg", favicon, methods=methods),
        Route("/", CachedView(render_home), methods=methods),
        Route("/history", CachedView(render_history, params={"page": page_param}), methods=methods),
        Route("/incidents/{incident_id}", CachedView(render_incident), methods=methods),
        Route("/components/{component_id}", CachedView(render_component), methods=methods),
    ]
