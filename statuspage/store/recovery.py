"""Incidents the probes say are over: the console's recovery prompt.

After an outage the declared status of an open incident stands until an operator changes it,
even when every probe has measured the service as operational for a while; applicants then
see "major outage" on a service that works. ``measured_recoveries`` finds those incidents (not
yet in monitoring, every component measured operational for ``after``); ``confirm_recovery``
is the one-button answer: an update to monitoring (or resolved) that returns each component
to its measured status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from statuspage.models import Component, Incident, IncidentUpdate, utcnow
from statuspage.status import UNCONFIRMED_STATUSES
from statuspage.store.audit import Actor, record_audit
from statuspage.store.incidents import post_update

__all__ = ["MeasuredRecovery", "confirm_recovery", "measured_recoveries"]



@dataclass(frozen=True)
class MeasuredRecovery:
    """An open incident whose components the probes have measured operational since ``since``."""

    incident_id: str
    name: str
    status: str
    since: datetime
    components: tuple[str, ...]


def measured_recoveries(session: Session, after: timedelta,
                        now: datetime | None = None) -> list[MeasuredRecovery]:
    """Open incidents (investigating/identified) declaring an outage on components that have
    all been measured operational for at least ``after``, oldest recovery first."""
    now = now or utcnow()
    incidents = session.scalars(
        sa.select(Incident).options(selectinload(Incident.components))
        .where(Incident.kind == "incident", Incident.is_draft.is_(False),
               Incident.resolved_at.is_(None), Incident.status.in_(UNCONFIRMED_STATUSES))
        .order_by(Incident.started_at).limit(100)).all()
    found: list[MeasuredRecovery] = []
    for incident in incidents:
        declared = [c.component_id for c in incident.components if c.status != "operational"]
        if not declared:
            continue
        rows = session.scalars(sa.select(Component).where(Component.id.in_(declared))).all()
        if len(rows) != len(declared) or any(r.measured_status != "operational" for r in rows):
            continue
        since = max(r.measured_since for r in rows)
        # measured since before the incident began means no outage was measured at all:
        # the probes cannot tell that the declared problem is over
        if since < incident.started_at or now - since < after:
            continue
        found.append(MeasuredRecovery(incident.id, incident.name, incident.status, since,
                                      tuple(sorted(declared))))
    return sorted(found, key=lambda r: r.since)


def confirm_recovery(session: Session, incident_id: str, *, resolve: bool, author: str | None,
                     time_zone: str, zone_label: str, notify: bool = False,
                     actor: Actor | None = None, now: datetime | None = None
                     ) -> IncidentUpdate:
    """Move the incident to monitoring (or resolve it) and restore the measured statuses."""
    now = now or utcnow()
    incident = session.get(Incident, incident_id)
    components = {c.component_id: "operational" for c in incident.components} if incident else {}
    at = now.astimezone(ZoneInfo(time_zone)).strftime("%H.%M")
    if resolve:
        body = (f"Layanan sudah pulih dan berjalan normal menurut pemantauan otomatis "
                f"(diperiksa pukul {at} {zone_label}). Mohon maaf atas gangguan yang terjadi.")
    else:
        body = (f"Pemantauan otomatis menunjukkan layanan sudah pulih (diperiksa pukul {at} "
                f"{zone_label}). Kami terus memantau sebelum menyatakan gangguan selesai.")
    update = post_update(session, incident_id, status="resolved" if resolve else "monitoring",
                         body=body, components=components, notify=notify, author=author,
                         now=now)
    if actor is not None:
        record_audit(session, actor, "incident.measured_recovery", target=incident_id,
                     detail={"resolve": resolve})
    return update
