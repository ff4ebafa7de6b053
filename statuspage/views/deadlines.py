"""Deadline-impact notices, public side: the list, the notice page, its JSON and evidence.

``/deadlines`` lists deadlines with a countdown and the health of the components each needs;
``/deadlines/{id}`` is the notice for a person (an agency officer, a journalist);
``/api/v1/deadlines/{id}/impact.json`` keeps its first keys (``lost_seconds`` is now the lost
service time of statuspage.evidence) and adds every figure; ``evidence.json``/``.csv`` carry the
interval table and the raw results behind it. All are served from the page cache.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session
from starlette.routing import BaseRoute, Route

from statuspage.cache import Rendered
from statuspage.cached_view import CachedView, RenderRequest
from statuspage.evidence import Evidence
from statuspage.impact import DEFAULT_WEIGHTS, DeadlineImpact
from statuspage.models import Deadline, ProbeResultRow, utcnow
from statuspage.notice_chart import journey_chart
from statuspage.notice_text import (
    DEFINITIONS,
    FORMULA,
    evidence_json,
    formula_text,
    is_reconstruction,
)
from statuspage.services import Services
from statuspage.store.deadline_records import get_deadline, list_deadlines
from statuspage.store.deadlines import (
    current_statuses,
    evidence_for,
    impact_for_deadline,
    incidents_in_window,
    raw_rows,
)
from statuspage.store.notices import active_notices, get_notice
from statuspage.views.api import iso, json_rendered
from statuspage.views.public import render_page

__all__ = ["deadline_links", "impact_json", "routes"]

CSV = "text/csv; charset=utf-8"


def deadline_links(session: Session) -> dict[str, Any]:
    """What every public page shows of deadlines: footer links and active-notice banners."""
    rows = list_deadlines(session, limit=20)
    names = {d.id: d for d in rows}
    return {"deadline_links": rows,
            "active_notices": [(n, names[n.deadline_id]) for n in active_notices(session)
                               if n.deadline_id in names]}


def _deadline_id(request: RenderRequest) -> str:
    return request.path_params.get("deadline_id", "")[:64]


def impact_json(deadline: Deadline, evidence: Evidence, declared: DeadlineImpact,
                page_url: str, incidents: list[dict[str, Any]],
                notice: dict[str, Any] | None) -> dict[str, Any]:
    """The JSON report (pure): the keys of the first version, then every figure."""

    def seconds(value: timedelta) -> float:
        return round(value.total_seconds(), 1)

    figures = evidence_json(evidence)
    return {
        "deadline": {"id": deadline.id, "name": deadline.name_id, "name_en": deadline.name_en,
                     "agency": deadline.agency, "at": iso(deadline.effective_close),
                     "original_at": iso(deadline.closes_at), "opened_at": iso(deadline.opened_at),
                     "legal_min_days": deadline.legal_min_days,
                     "components": list(deadline.components),
                     "window_days": deadline.window_days, "contact": deadline.contact or None,
                     "extended_to": iso(deadline.extended_to), "decision": deadline.decision},
        "window_start": figures["window_start"],
        "window_end": figures["evaluated_until"],
        "observed_from": iso(declared.observed_from),
        "coverage": figures["coverage"],
        "lost_seconds": figures["lost_seconds"],
        "availability": figures["availability"],
        "recommended_extension_days": figures["recommended_extension_days"],
        "level": figures["level"],
        "provisional": figures["provisional"],
        "evidence": figures,
        "formula": FORMULA,
        # the declared-status weighted loss of the first version, kept under its old keys
        "durations_seconds": {k: seconds(v) for k, v in sorted(declared.durations.items())},
        "per_component_lost_seconds": {k: seconds(v)
                                       for k, v in declared.per_component_lost.items()},
        "weights": dict(DEFAULT_WEIGHTS),
        "episodes": [{"start": iso(e.start), "end": iso(e.end), "status": e.status,
                      "components": list(e.components),
                      "duration_seconds": seconds(e.duration)} for e in declared.episodes],
        "incidents": incidents,
        "notice": notice,
        "url": f"{page_url}/deadlines/{deadline.id}",
    }


def notice_json(session: Session, deadline_id: str) -> dict[str, Any] | None:
    """The public notice (never a draft) with its history, or None."""
    notice = get_notice(session, deadline_id)
    if notice is None or notice.state == "draft":
        return None
    return {"id": notice.id, "state": notice.state, "level": notice.level,
            "published_at": iso(notice.published_at), "final_at": iso(notice.final_at),
            "statement": {"id": notice.statement_id, "en": notice.statement_en},
            "updates": [{"kind": u.kind, "level": u.level, "created_at": iso(u.created_at),
                         "body": {"id": u.body_id, "en": u.body_en}, "figures": u.figures}
                        for u in notice.updates if u.kind != "drafted"]}


def read_report(services: Services, deadline_id: str) -> dict[str, Any] | None:
    """Everything a notice shows, read in one transaction (None for an unknown deadline)."""
    config = services.settings.config
    now = utcnow()
    with services.db.session() as session:
        deadline = get_deadline(session, deadline_id)
        if deadline is None:
            return None
        evidence = evidence_for(session, deadline, now, config.notices)
        declared = impact_for_deadline(session, deadline, now)
        incidents = incidents_in_window(session, deadline)
        notice = notice_json(session, deadline_id)
        current = current_statuses(session, tuple(deadline.components))
    return {"deadline": deadline, "evidence": evidence, "declared": declared,
            "incidents": incidents, "notice": notice, "current": current, "now": now}


def render_impact_json(services: Services, request: RenderRequest) -> Rendered:
    """``/api/v1/deadlines/{id}/impact.json``."""
    report = read_report(services, _deadline_id(request))
    if report is None:
        return json_rendered({"error": "not_found", "message": "no such deadline"}, 404)
    page_url = services.settings.config.page.url
    refs = [{"id": i.id, "name": i.name, "status": i.status, "impact": i.impact,
             "started_at": iso(i.started_at), "resolved_at": iso(i.resolved_at),
             "url": f"{page_url}/incidents/{i.id}"} for i in report["incidents"]]
    return json_rendered(impact_json(report["deadline"], report["evidence"], report["declared"],
                                     page_url, refs, report["notice"]))


def render_impact_page(services: Services, request: RenderRequest) -> Rendered:
    """``/deadlines/{id}``: the notice for a person."""
    report = read_report(services, _deadline_id(request))
    if report is None:
        return render_page(services, request, "not_found.html", {}, 404)
    names = {c.id: c.name for c in services.settings.config.components}
    evidence: Evidence = report["evidence"]
    figures = evidence_json(evidence)
    notice = report["notice"]
    if notice is not None:  # the page shows times in WIB, the JSON keeps them in UTC ISO
        notice = {**notice, "updates": [
            {**u, "created_dt": datetime.fromisoformat(u["created_at"].replace("Z", "+00:00"))}
            for u in notice["updates"]]}
    zone = ZoneInfo(report["deadline"].time_zone)
    chart = journey_chart(
        evidence.intervals, evidence.window.start, max(evidence.until, evidence.window.start),
        incidents=[(i.started_at, i.name) for i in report["incidents"]],
        day_starts=[datetime.combine(d.day, time(0), tzinfo=zone) for d in evidence.per_day])
    return render_page(services, request, "deadline.html", {
        **report, "notice": notice, "impact": report["declared"], "figures": figures,
        "chart": chart,
        "component_names": names, "weights": DEFAULT_WEIGHTS,
        "definitions": DEFINITIONS.get(request.lang, DEFINITIONS["en"]),
        "formula": FORMULA, "formula_inputs": formula_text(figures, request.lang),
        "reconstruction": is_reconstruction(report["evidence"].sources),
    })


def render_list(services: Services, request: RenderRequest) -> Rendered:
    """``/deadlines``: upcoming and recent deadlines, countdown and component health."""
    now = utcnow()
    with services.db.session() as session:
        rows = list_deadlines(session, limit=100)
        health = {d.id: current_statuses(session, tuple(d.components)) for d in rows}
    upcoming = sorted((d for d in rows if d.effective_close >= now),
                      key=lambda d: d.effective_close)
    recent = [d for d in rows if d.effective_close < now][:20]
    names = {c.id: c.name for c in services.settings.config.components}
    return render_page(services, request, "deadlines.html", {
        "upcoming": upcoming, "recent": recent, "health": health, "now": now,
        "component_names": names})


def render_evidence_json(services: Services, request: RenderRequest) -> Rendered:
    """``/deadlines/{id}/evidence.json``: the interval table and the raw results behind it."""
    deadline_id = _deadline_id(request)
    report = read_report(services, deadline_id)
    if report is None:
        return json_rendered({"error": "not_found", "message": "no such deadline"}, 404)
    evidence: Evidence = report["evidence"]
    with services.db.session() as session:
        raw = raw_rows(session, evidence.window.components, evidence.window.start,
                       evidence.until)
    return json_rendered({
        "deadline": deadline_id, "figures": evidence_json(evidence),
        "intervals": [_interval_row(i) for i in evidence.intervals],
        "results": [_raw(r) for r in raw],
    })


def _interval_row(i: Any) -> dict[str, Any]:
    return {"start": iso(i.start), "end": iso(i.end),
            "rates": {k: None if v is None else round(v, 6) for k, v in i.rates.items()},
            "journey": None if i.journey is None else round(i.journey, 6),
            "demand_weight": round(i.weight, 6), "lost_seconds": round(i.lost.total_seconds(), 1),
            "downtime": i.disrupted, "maintenance": i.in_maintenance}


def _raw(r: ProbeResultRow) -> dict[str, Any]:
    return {"probe": r.probe, "component": r.component_id, "location": r.location,
            "started_at": iso(r.started_at), "outcome": r.outcome,
            "error_class": r.error_class, "total_ms": r.total_ms, "phases": r.phases,
            "source": r.source}


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def render_evidence_csv(services: Services, request: RenderRequest) -> Rendered:
    """``/deadlines/{id}/evidence.csv``: intervals first, then raw results (one table each)."""
    deadline_id = _deadline_id(request)
    report = read_report(services, deadline_id)
    if report is None:
        return Rendered(404, b"no such deadline\n", "text/plain; charset=utf-8", None, ())
    evidence: Evidence = report["evidence"]
    with services.db.session() as session:
        raw = raw_rows(session, evidence.window.components, evidence.window.start,
                       evidence.until)
    out = io.StringIO()
    writer = csv.writer(out)
    comps = list(evidence.window.components)
    writer.writerow(["record", "start_utc", "end_utc", *[f"rate_{c}" for c in comps],
                     "journey", "demand_weight", "lost_seconds", "downtime", "maintenance"])
    for i in evidence.intervals:
        row = _interval_row(i)
        writer.writerow(["interval", row["start"], row["end"],
                         *["" if row["rates"][c] is None else row["rates"][c] for c in comps],
                         "" if row["journey"] is None else row["journey"],
                         row["demand_weight"], row["lost_seconds"], int(row["downtime"]),
                         int(row["maintenance"])])
    writer.writerow([])
    writer.writerow(["record", "started_at_utc", "probe", "component", "location", "outcome",
                     "error_class", "total_ms", "source"])
    for r in raw:
        writer.writerow(["result", iso(r.started_at), _cell(r.probe), r.component_id,
                         _cell(r.location), r.outcome, _cell(r.error_class), r.total_ms,
                         _cell(r.source)])
    headers = ((b"content-disposition",
                f'attachment; filename="{deadline_id}-evidence.csv"'.encode()),)
    return Rendered(200, out.getvalue().encode(), CSV, None, headers)


def routes() -> list[BaseRoute]:
    """The public deadline routes."""
    methods = ["GET", "HEAD"]
    return [
        Route("/deadlines", CachedView(render_list), methods=methods),
        Route("/deadlines/{deadline_id}", CachedView(render_impact_page), methods=methods),
        Route("/deadlines/{deadline_id}/evidence.json",
              CachedView(render_evidence_json, localized=False), methods=methods),
        Route("/deadlines/{deadline_id}/evidence.csv",
              CachedView(render_evidence_csv, localized=False), methods=methods),
        Route("/api/v1/deadlines/{deadline_id}/impact.json",
              CachedView(render_impact_json, localized=False), methods=methods),
    ]
