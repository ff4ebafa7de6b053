"""Frozen values the public read verbs return, and the pure rules that shape them.

No database here: ``statuspage.store.public`` fills these from the rollups and incidents;
templates, the v2 JSON and the feeds read them after the session has closed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from statuspage.config import UptimeConfig
from statuspage.status import FINAL_STATUSES, day_level, worst
from statuspage.store.attempts import LastAttempts

__all__ = [
    "ComponentView",
    "DayUptime",
    "GroupView",
    "HistoryPage",
    "IncidentRef",
    "IncidentView",
    "PageData",
    "UpdateView",
    "group_id",
    "measurement_notes",
    "page_id",
]



def _stable_id(text: str) -> str:
    """A 12-character lowercase id derived from ``text`` (same on every host and restart)."""
    digest = int.from_bytes(hashlib.sha256(text.encode()).digest()[:10], "big")
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    chars = []
    for _ in range(12):
        digest, rest = divmod(digest, 36)
        chars.append(alphabet[rest])
    return "".join(chars)


def group_id(name: str) -> str:
    """The stable id of a config group, used as a Statuspage group component id."""
    return _stable_id(f"group:{name}")


def page_id(url: str) -> str:
    """The stable id of the page (Statuspage's ``page.id``)."""
    return _stable_id(f"page:{url}")


@dataclass(frozen=True)
class IncidentRef:
    """An incident mentioned in an uptime cell."""

    id: str
    name: str
    impact: str


@dataclass(frozen=True)
class DayUptime:
    """One day of a component's uptime bar (a day in the page's time zone).

    ``measured_s`` is how long the probes covered that day; ``served_s`` that time less the
    weighted outage time of the evaluated status (see ``statuspage.uptime``).
    """

    day: date
    measured_s: float
    served_s: float
    incidents: tuple[IncidentRef, ...] = ()
    #: The config's colour thresholds (``[uptime]``).
    thresholds: UptimeConfig = field(default=UptimeConfig(), compare=False, repr=False)

    @property
    def uptime(self) -> float | None:
        """Share of the measured time the service was up; None when nothing was measured."""
        return self.served_s / self.measured_s if self.measured_s else None

    @property
    def level(self) -> str:
        """``no_data`` or the component status the day's cell is drawn with."""
        return day_level(self.uptime, [i.impact for i in self.incidents], self.thresholds)


@dataclass(frozen=True)
class ComponentView:
    """A component as the page shows it."""

    id: str
    name: str
    description: str
    group: str | None
    position: int
    status: str
    created_at: datetime
    updated_at: datetime
    days: tuple[DayUptime, ...] = ()
    latency_ms: tuple[float | None, ...] = ()
    #: The last successful and failed probe runs (None: not read, e.g. for the API).
    attempts: LastAttempts | None = None
    #: Set when the probes changed the status and no published incident explains it yet:
    #: the page says it was detected automatically at this time.
    detected_at: datetime | None = None
    #: Set when the probes have measured the component operational since this time, long
    #: enough to call it recovered, while a published incident still declares an outage.
    recovered_at: datetime | None = None

    @property
    def group_id(self) -> str | None:
        """The id of its group component, if any."""
        return group_id(self.group) if self.group else None

    @property
    def uptime(self) -> float | None:
        """Uptime over the days with data (None when no day has data)."""
        measured = sum(d.measured_s for d in self.days)
        return sum(d.served_s for d in self.days) / measured if measured else None


def measurement_notes(measured: str, measured_since: datetime, declared: Iterable[str],
                      unconfirmed: Iterable[str], in_maintenance: bool, now: datetime,
                      recovered_after: timedelta) -> tuple[datetime | None, datetime | None]:
    """``(detected_at, recovered_at)`` for one component (see :class:`ComponentView`).

    ``declared``: the statuses open published incidents declare for it; ``unconfirmed``: those
    of incidents the team has not yet moved to monitoring (the recovery note is for them).

    >>> t = datetime(2026, 12, 2, 11, 5)
    >>> measurement_notes("major_outage", t, [], [], False, t, timedelta(minutes=10))[0] == t
    True
    >>> later = t + timedelta(minutes=10)
    >>> measurement_notes("operational", t, ["major_outage"], ["major_outage"], False, later,
    ...                   timedelta(minutes=10))[1] == t
    True
    """
    if in_maintenance:
        return None, None
    if measured != "operational" and not any(s != "operational" for s in declared):
        return measured_since, None
    if (measured == "operational" and any(s != "operational" for s in unconfirmed)
            and now - measured_since >= recovered_after):
        return None, measured_since
    return None, None


@dataclass(frozen=True)
class GroupView:
    """A config group (a Statuspage group component) and its components."""

    id: str
    name: str
    position: int
    components: tuple[ComponentView, ...]

    @property
    def status(self) -> str:
        """The worst status of its components."""
        return worst(c.status for c in self.components)

    @property
    def created_at(self) -> datetime:
        """The oldest component's creation time."""
        return min(c.created_at for c in self.components)

    @property
    def updated_at(self) -> datetime:
        """The latest change of any of its components."""
        return max(c.updated_at for c in self.components)


@dataclass(frozen=True)
class UpdateView:
    """One published update of an incident."""

    id: str
    incident_id: str
    status: str
    body: str
    created_at: datetime
    updated_at: datetime
    display_at: datetime
    affected_components: tuple[dict[str, str], ...]
    notify: bool


@dataclass(frozen=True)
class IncidentView:
    """A published incident or scheduled maintenance with its updates (newest first)."""

    id: str
    kind: str
    name: str
    status: str
    impact: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime
    monitoring_at: datetime | None
    resolved_at: datetime | None
    scheduled_for: datetime | None
    scheduled_until: datetime | None
    updates: tuple[UpdateView, ...]
    components: tuple[tuple[str, str, str], ...]  # (component id, name, declared status)
    postmortem_body: str | None = None
    postmortem_published_at: datetime | None = None

    @property
    def is_maintenance(self) -> bool:
        """Whether this is a scheduled maintenance."""
        return self.kind == "maintenance"

    @property
    def is_open(self) -> bool:
        """Not resolved / completed yet."""
        return self.status not in FINAL_STATUSES

    @property
    def begins_at(self) -> datetime:
        """When it started (or is scheduled to start)."""
        return self.scheduled_for if self.is_maintenance and self.scheduled_for else \
            self.started_at

    def duration(self, now: datetime) -> timedelta:
        """How long it lasted (or has lasted so far)."""
        end = self.resolved_at or (self.scheduled_until if self.is_maintenance and not
                                   self.is_open else None) or now
        return max(timedelta(0), end - self.begins_at)


@dataclass(frozen=True)
class PageData:
    """Everything the home page, summary.json and status.json show."""

    generated_at: datetime
    updated_at: datetime
    indicator: str
    description: str
    components: tuple[ComponentView, ...]
    sections: tuple[ComponentView | GroupView, ...]
    active_incidents: tuple[IncidentView, ...]
    active_maintenances: tuple[IncidentView, ...]
    upcoming_maintenances: tuple[IncidentView, ...]
    sample_data: bool

    @property
    def groups(self) -> tuple[GroupView, ...]:
        """The group sections."""
        return tuple(s for s in self.sections if isinstance(s, GroupView))

    def component(self, component_id: str) -> ComponentView | None:
        """The component with this id, or None."""
        return next((c for c in self.components if c.id == component_id), None)


@dataclass(frozen=True)
class HistoryPage:
    """One page of history: incidents grouped by month (newest first)."""

    page: int
    pages: int
    months: tuple[tuple[date, tuple[IncidentView, ...]], ...]
