"""Pure rules: the shown status of a component and the page's overall indicator.

The shown status is the worse of what the probes measured and what an operator declared in an
open incident; an active maintenance window shows ``under_maintenance`` and suppresses measured
outages (planned work must not page anyone as an outage).
"""

from __future__ import annotations

from collections.abc import Iterable

from statuspage.config import UptimeConfig

__all__ = [
    "ACTIVE_MAINTENANCE",
    "CLOSING_STATUSES",
    "COMPONENT_STATUSES",
    "FINAL_STATUSES",
    "IMPACT_STATUS",
    "INCIDENT_STATUSES",
    "IMPACTS",
    "MAINTENANCE_STATUSES",
    "OPEN_INCIDENT_STATUSES",
    "STATUS_IMPACT",
    "UNCONFIRMED_STATUSES",
    "component_severity",
    "day_level",
    "page_indicator",
    "shown_status",
    "worst",
]

COMPONENT_STATUSES: tuple[str, ...] = (
    "operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage",
)
INCIDENT_STATUSES: tuple[str, ...] = ("investigating", "identified", "monitoring", "resolved",
                                      "postmortem")
MAINTENANCE_STATUSES: tuple[str, ...] = ("scheduled", "in_progress", "verifying", "completed")
IMPACTS: tuple[str, ...] = ("none", "minor", "major", "critical")
#: Maintenance statuses during which the window is on (components show under_maintenance).
ACTIVE_MAINTENANCE: tuple[str, ...] = ("in_progress", "verifying")
#: Incident statuses of an unresolved incident (Statuspage's ``incidents/unresolved.json``).
OPEN_INCIDENT_STATUSES: tuple[str, ...] = ("investigating", "identified", "monitoring")
#: Open incident statuses before the team sees a fix working (not yet ``monitoring``).
UNCONFIRMED_STATUSES: tuple[str, ...] = ("investigating", "identified")
#: Statuses an update posts to close an incident or a maintenance (sets ``resolved_at``).
CLOSING_STATUSES: tuple[str, ...] = ("resolved", "completed")
#: Statuses of an incident or maintenance that is over.
FINAL_STATUSES: tuple[str, ...] = ("resolved", "postmortem", "completed")
#: The incident impact a component status implies (Statuspage's scale)...
STATUS_IMPACT: dict[str, str] = {
    "operational": "none", "under_maintenance": "none", "degraded_performance": "minor",
    "partial_outage": "major", "major_outage": "critical",
}
#: ...and the component status an incident impact implies (``none`` implies nothing).
IMPACT_STATUS: dict[str, str] = {
    impact: status for status, impact in STATUS_IMPACT.items() if impact != "none"}

_SEVERITY = {status: rank for rank, status in enumerate(COMPONENT_STATUSES)}

#: Page indicator and Statuspage's description for it.
INDICATOR_DESCRIPTIONS: dict[str, str] = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major Service Outage",
    "maintenance": "Service Under Maintenance",
}


def component_severity(status: str) -> int:
    """Rank of a component status, 0 = operational; unknown statuses count as operational."""
    return _SEVERITY.get(status, 0)


def worst(statuses: Iterable[str]) -> str:
    """The most severe of ``statuses`` (operational when empty)."""
    return max(statuses, key=component_severity, default="operational")


def shown_status(measured: str, declared: Iterable[str] = (), in_maintenance: bool = False) -> str:
    """What the page shows for one component.

    >>> shown_status("major_outage", in_maintenance=True)
    'under_maintenance'
    >>> shown_status("degraded_performance", ["partial_outage"])
    'partial_outage'
    """
    declared = list(declared)
    if in_maintenance:
        # declared statuses other than maintenance still win: an operator may call an outage
        declared_worst = worst(s for s in declared if s != "under_maintenance")
        if component_severity(declared_worst) > component_severity("under_maintenance"):
            return declared_worst
        return "under_maintenance"
    return worst([measured, *declared])


def page_indicator(component_statuses: Iterable[str],
                   open_incident_impacts: Iterable[str] = ()) -> tuple[str, str]:
    """Statuspage's page indicator (none/minor/major/critical) and its description.

    The indicator is the worse of the components' statuses and the impact of open incidents.
    When all components are operational or in maintenance and at least one is in maintenance,
    the indicator is "maintenance" (as Statuspage reports it).
    """
    statuses = list(component_statuses)
    rank = {impact: order for order, impact in enumerate(IMPACTS)}
    level = max((STATUS_IMPACT.get(s, "none") for s in statuses), key=rank.__getitem__,
                default="none")
    impact = max(open_incident_impacts, key=lambda i: rank.get(i, 0), default="none")
    if rank.get(impact, 0) > rank[level]:
        level = impact
    if level == "none" and "under_maintenance" in statuses:
        return "maintenance", INDICATOR_DESCRIPTIONS["maintenance"]
    return level, INDICATOR_DESCRIPTIONS[level]


def day_level(uptime: float | None, impacts: Iterable[str] = (),
              thresholds: UptimeConfig = UptimeConfig()) -> str:
    """The status a day is drawn with: measured uptime and the worst incident that day.

    ``thresholds`` (the config's ``[uptime]``; by default >= 99.5 % operational, >= 95 %
    degraded, >= 80 % partial, else major outage) colour the measured uptime.
    A day without probe data and without incidents is ``no_data``, never "100 %".

    >>> day_level(None)
    'no_data'
    >>> day_level(0.999, ["major"])
    'partial_outage'
    """
    declared = [IMPACT_STATUS[i] for i in impacts if i in IMPACT_STATUS]
    if uptime is None:
        return worst(declared) if declared else "no_data"
    if uptime >= thresholds.operational:
        measured = "operational"
    elif uptime >= thresholds.degraded_performance:
        measured = "degraded_performance"
    elif uptime >= thresholds.partial_outage:
        measured = "partial_outage"
    else:
        measured = "major_outage"
    return worst([measured, *declared])
