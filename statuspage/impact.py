"""Pure deadline-impact computation: how much service applicants lost before a deadline.

An applicant needs every component a deadline depends on (buy a stamp AND stamp the letter), so
at each instant the service an applicant gets is the WORST status among those components. Lost
time is weighted like Atlassian Statuspage's uptime: a major outage counts fully and a partial
outage at 0.3 (some attempts still succeed, often after retries); degraded performance is
reported but not counted as lost, since transactions still complete. The weights are parameters
so an agency can recompute with its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from statuspage.status import worst

__all__ = [
    "DEFAULT_WEIGHTS",
    "DeadlineImpact",
    "Episode",
    "StatusChange",
    "deadline_impact",
    "status_timeline",
]

DEFAULT_WEIGHTS: Mapping[str, float] = {"major_outage": 1.0, "partial_outage": 0.3}
_BAD = ("degraded_performance", "partial_outage", "major_outage")


@dataclass(frozen=True)
class StatusChange:
    """A component's status from ``at`` on (until its next change)."""

    component_id: str
    status: str
    at: datetime


@dataclass(frozen=True)
class Episode:
    """A stretch of time with one (non-operational) combined status."""

    start: datetime
    end: datetime
    status: str
    components: tuple[str, ...]

    @property
    def duration(self) -> timedelta:
        """How long the episode lasted."""
        return self.end - self.start


@dataclass(frozen=True)
class DeadlineImpact:
    """The evidence for one deadline: durations per status, weighted loss, episodes."""

    window_start: datetime
    window_end: datetime
    durations: Mapping[str, timedelta]
    lost: timedelta
    availability: float
    episodes: tuple[Episode, ...]
    per_component_lost: Mapping[str, timedelta] = field(default_factory=dict)
    #: Where the evidence starts: the window start, or later when measurements began later.
    observed_from: datetime | None = None

    @property
    def coverage(self) -> float:
        """The share of the window (up to its end) that recorded evidence covers, 0..1."""
        total = self.window_end - self.window_start
        if self.observed_from is None or total <= timedelta(0):
            return 0.0
        return max(0.0, (self.window_end - self.observed_from) / total)

    @property
    def recommended_extension(self) -> timedelta:
        """The lost time rounded up to whole days: the fair extension if service was lost.

        Zero when nothing was lost; otherwise at least one day, because applicants plan by day.
        """
        if self.lost <= timedelta(0):
            return timedelta(0)
        return timedelta(days=math.ceil(self.lost / timedelta(days=1)))


def status_timeline(changes: Iterable[StatusChange], component_id: str, start: datetime,
                    end: datetime, initial: str = "operational") -> list[tuple[datetime, str]]:
    """The component's status as (from, status) steps covering [start, end).

    ``initial`` is the status before the first change; changes before ``start`` set the status
    the window opens with.
    """
    status = initial
    steps: list[tuple[datetime, str]] = []
    for change in sorted((c for c in changes if c.component_id == component_id),
                         key=lambda c: c.at):
        if change.at <= start:
            status = change.status
        elif change.at < end:
            steps.append((change.at, change.status))
    return [(start, status), *steps]


def deadline_impact(
    changes: Sequence[StatusChange],
    components: Sequence[str],
    deadline: datetime,
    window: timedelta,
    *,
    now: datetime | None = None,
    initial: Mapping[str, str] | None = None,
    weights: Mapping[str, float] = DEFAULT_WEIGHTS,
    measured_from: datetime | None = None,
) -> DeadlineImpact:
    """Service lost by applicants in ``window`` before ``deadline`` (up to ``now`` if earlier).

    Time before ``measured_from`` (when recorded evidence begins) is unknown, not "operational":
    it is left out of every figure and the result's ``coverage`` says how much is known.
    """
    window_start = deadline - window
    end = min(deadline, now) if now is not None else deadline
    start = max(window_start, measured_from) if measured_from is not None else window_start
    if end <= start:
        return DeadlineImpact(window_start, max(end, window_start), {}, timedelta(0), 1.0, (),
                              observed_from=None)
    initial = initial or {}
    timelines = {
        cid: status_timeline(changes, cid, start, end, initial.get(cid, "operational"))
        for cid in components
    }
    cuts = sorted({t for steps in timelines.values() for t, _ in steps} | {end})
    durations: dict[str, timedelta] = {}
    per_component: dict[str, timedelta] = {cid: timedelta(0) for cid in components}
    lost = timedelta(0)
    episodes: list[Episode] = []
    for left, right in zip(cuts, cuts[1:], strict=False):
        now_status = {cid: _status_at(steps, left) for cid, steps in timelines.items()}
        combined = worst(now_status.values())
        span = right - left
        durations[combined] = durations.get(combined, timedelta(0)) + span
        lost += span * weights.get(combined, 0.0)
        for cid, status in now_status.items():
            per_component[cid] += span * weights.get(status, 0.0)
        if combined in _BAD:
            culprits = tuple(sorted(c for c, s in now_status.items() if s == combined))
            if episodes and episodes[-1].end == left and episodes[-1].status == combined:
                last = episodes[-1]
                episodes[-1] = Episode(last.start, right, combined,
                                       tuple(sorted(set(last.components) | set(culprits))))
            else:
                episodes.append(Episode(left, right, combined, culprits))
    total = end - start
    return DeadlineImpact(
        window_start=window_start,
        window_end=end,
        durations=durations,
        lost=lost,
        availability=1 - lost / total,
        episodes=tuple(episodes),
        per_component_lost=per_component,
        observed_from=start,
    )


def _status_at(steps: list[tuple[datetime, str]], at: datetime) -> str:
    status = steps[0][1]
    for when, value in steps:
        if when <= at:
            status = value
        else:
            break
    return status
