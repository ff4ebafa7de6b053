"""Draft incidents from probe evidence, for an operator to publish with one click.

When a component enters ``partial_outage`` or ``major_outage`` a draft is opened (or an open,
unrecovered probe draft is extended: one draft per outage episode, however many components it
touches). When every component of the draft has left outage, the draft gets ``recovered_at``
and a suggested resolution. A draft an operator has published is never resolved here: it only
receives an evidence note. Components inside an active maintenance window get no draft (planned
work is not an incident).

Evidence JSON (read by the operator console):
``{"probes", "since", "error_classes", "latency_p95_ms", "suggested_status", "components",
"summary", "public_body", "template_id", "suggested_resolution", "recovered_at"}``:
``summary`` is the evidence in a sentence, for operators; ``public_body`` (and the draft's
title) is written for the public from the operators' templates (``store.draft_text``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from statuspage.evaluation import OUTAGES, ComponentEvaluation
from statuspage.models import Component, Incident, IncidentComponent
from statuspage.status import ACTIVE_MAINTENANCE, STATUS_IMPACT, worst
from statuspage.store.draft_text import public_text
from statuspage.store.incidents import publish_draft

__all__ = [
    "AUTHOR",
    "note_evaluation",
    "open_probe_incidents",
    "publish_if_configured",
]

log = logging.getLogger(__name__)

AUTHOR = "probes"
_STATUS_ID = {"degraded_performance": "kinerja menurun", "partial_outage": "gangguan sebagian",
              "major_outage": "gangguan total", "operational": "normal"}


def open_probe_incidents(session: Session) -> list[Incident]:
    """Open incidents created from probe evidence whose episode has not recovered yet."""
    rows = session.scalars(
        sa.select(Incident).options(selectinload(Incident.components))
        .where(Incident.kind == "incident", Incident.created_by == AUTHOR,
               Incident.resolved_at.is_(None))
        .order_by(Incident.created_at)
    ).all()
    return [r for r in rows if not (r.evidence or {}).get("recovered_at")]


def _in_maintenance(session: Session, component_id: str) -> bool:
    found = session.scalar(
        sa.select(Incident.id).join(IncidentComponent)
        .where(Incident.kind == "maintenance", Incident.status.in_(ACTIVE_MAINTENANCE),
               Incident.is_draft.is_(False), IncidentComponent.component_id == component_id)
        .limit(1)
    )
    return found is not None


def note_evaluation(session: Session, evaluation: ComponentEvaluation, previous: str,
                    now: datetime, time_zone: str = "Asia/Jakarta",
                    zone_label: str = "WIB") -> Incident | None:
    """Update drafts after ``evaluation`` changed a component from ``previous``.

    Returns a newly created draft (so the caller can auto-publish it), else None.
    """
    status = evaluation.status
    if status is None or status == previous:
        return None
    fmt = _Formatter(time_zone, zone_label)
    component = session.get(Component, evaluation.component_id)
    name = component.name if component else evaluation.component_id
    open_incidents = open_probe_incidents(session)
    mine = next((i for i in open_incidents
                 if evaluation.component_id in (i.evidence or {}).get("components", {})), None)
    if status in OUTAGES:
        if mine is None and _in_maintenance(session, evaluation.component_id):
            log.info("%s in maintenance: no draft incident", evaluation.component_id)
            return None
        target = mine or next((i for i in open_incidents if i.is_draft), None)
        created = target is None
        if target is None:
            target = Incident(kind="incident", is_draft=True, status="investigating",
                              impact=STATUS_IMPACT[status], name=f"Gangguan pada {name}",
                              created_by=AUTHOR, started_at=evaluation.since or now,
                              evidence={"components": {}})
            session.add(target)
        _add_outage(session, target, evaluation, name, fmt)
        session.flush()
        if created:
            log.warning("draft incident %s opened for %s (%s)", target.id,
                        evaluation.component_id, status)
            return target
        return None
    if previous in OUTAGES and mine is not None:
        _add_recovery(session, mine, evaluation, name, now, fmt)
    return None


def _add_outage(session: Session, incident: Incident, evaluation: ComponentEvaluation,
                name: str, fmt: _Formatter) -> None:
    status = evaluation.status or "major_outage"
    evidence: dict[str, Any] = dict(incident.evidence or {})
    components = dict(evidence.get("components") or {})
    components[evaluation.component_id] = worst([status, components.get(
        evaluation.component_id, "operational")])
    suggested = worst(components.values())
    errors: dict[str, int] = dict(evidence.get("error_classes") or {})
    for cls, count in evaluation.error_classes.items():
        errors[cls] = max(errors.get(cls, 0), count)
    since = evaluation.since.isoformat() if evaluation.since else None
    if evidence.get("since") and since:
        since = min(str(evidence["since"]), since)
    evidence.update({
        "probes": sorted(set(evidence.get("probes") or []) | set(evaluation.bad_probes)),
        "since": since or evidence.get("since"),
        "error_classes": errors,
        "latency_p95_ms": evaluation.latency_p95_ms,
        "suggested_status": suggested,
        "components": components,
        "summary": _summary(evaluation, name, fmt),
        "suggested_resolution": None,
        "recovered_at": None,
    })
    if incident.is_draft:
        # a draft's affected components mirror its evidence; a published incident's declared
        # statuses belong to the operator and are left alone
        impacts = ("none", "minor", "major", "critical")
        incident.impact = max(STATUS_IMPACT[suggested], incident.impact or "none",
                              key=lambda i: impacts.index(i) if i in impacts else 0)
        rows = {c.component_id: c for c in incident.components}
        if evaluation.component_id in rows:
            rows[evaluation.component_id].status = components[evaluation.component_id]
        else:
            incident.components.append(IncidentComponent(
                component_id=evaluation.component_id,
                status=components[evaluation.component_id]))
        # the public reads the operators' template text; the evidence stays in the console
        names = dict(session.execute(sa.select(Component.id, Component.name)
                                     .where(Component.id.in_(list(components)))).all())
        names[evaluation.component_id] = name
        text = public_text(session, components, names,
                           fmt.at(datetime.fromisoformat(since) if since else None))
        incident.name = text.title
        evidence["public_body"] = text.body
        evidence["template_id"] = text.template_id
    else:
        evidence["note"] = (f"{fmt.at(datetime.fromisoformat(since) if since else None)}: "
                            f"pemantauan mencatat {_STATUS_ID[status]} pada {name}.")
    incident.evidence = evidence  # a new dict, so the JSON change is saved


def _add_recovery(session: Session, incident: Incident, evaluation: ComponentEvaluation,
                  name: str, now: datetime, fmt: _Formatter) -> None:
    evidence: dict[str, Any] = dict(incident.evidence or {})
    components = dict(evidence.get("components") or {})
    components[evaluation.component_id] = evaluation.status or "operational"
    evidence["components"] = components
    measured = dict(session.execute(
        sa.select(Component.id, Component.measured_status)
        .where(Component.id.in_(list(components)))).all())
    measured[evaluation.component_id] = evaluation.status or "operational"
    if all(measured.get(cid, "operational") not in OUTAGES for cid in components):
        evidence["recovered_at"] = now.isoformat()
        duration = ""
        if evidence.get("since"):
            minutes = max(1, round((now - datetime.fromisoformat(evidence["since"]))
                                   .total_seconds() / 60))
            duration = f" Gangguan tercatat berlangsung sekitar {minutes} menit."
        names = name if len(components) == 1 else "Semua layanan yang terdampak"
        evidence["suggested_resolution"] = (
            f"{names} kembali normal sejak {fmt.at(now)} menurut pemantauan otomatis.{duration} "
            "Kami akan terus memantau. Mohon maaf atas ketidaknyamanan yang terjadi.")
        if not incident.is_draft:
            evidence["note"] = (f"{fmt.at(now)}: pemantauan otomatis mencatat pemulihan; "
                                "insiden ini masih terbuka sampai operator menutupnya.")
        log.info("probe incident %s: components recovered", incident.id)
    incident.evidence = evidence


def _summary(evaluation: ComponentEvaluation, name: str, fmt: _Formatter) -> str:
    """A factual sentence in Bahasa Indonesia: what was measured, since when."""
    parts = [f"Pemantauan otomatis mencatat {_STATUS_ID.get(evaluation.status or '', 'gangguan')}"
             f" pada {name} sejak {fmt.at(evaluation.since)}."]
    if evaluation.success_rate is not None:
        ok = round(evaluation.success_rate * evaluation.count)
        parts.append(f"Probe {', '.join(evaluation.bad_probes) or '-'} berhasil {ok} dari "
                     f"{evaluation.count} kali ({evaluation.success_rate:.0%}) dalam jendela "
                     "pengukuran terakhir.")
    if evaluation.error_classes:
        errors = ", ".join(f"{cls} ({n})" for cls, n in evaluation.error_classes.items())
        parts.append(f"Jenis galat: {errors}.")
    if evaluation.latency_p95_ms is not None:
        parts.append(f"Latensi p95: {evaluation.latency_p95_ms:,.0f} ms.".replace(",", "."))
    if len(evaluation.locations) > 1:
        where = ", ".join(f"{loc}: {_STATUS_ID.get(s, s)}"
                          for loc, s in evaluation.locations.items())
        parts.append(f"Per lokasi: {where}.")
    return " ".join(parts)


class _Formatter:
    def __init__(self, time_zone: str, label: str) -> None:
        self.zone = ZoneInfo(time_zone)
        self.label = label

    def at(self, moment: datetime | None) -> str:
        if moment is None:
            return "-"
        return f"{moment.astimezone(self.zone):%d-%m-%Y %H:%M} {self.label}"


def publish_if_configured(session: Session, incident: Incident,
                          settings_auto_publish: bool) -> bool:
    """Publish a new draft at once when the config says so; returns whether it was published.

    Publishing is the console's verb (``statuspage.store.incidents.publish_draft``).
    """
    if not settings_auto_publish:
        return False
    publish_draft(session, incident.id, author=AUTHOR)
    return True
