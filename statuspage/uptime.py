"""Pure rules: a component's uptime per local day, from its evaluated status.

The bars used to add up every location's raw probe results, so one agent pushing 21,000
failures in a second moved a 90-day figure from 99.19% to 91.71%. They now follow the status
the evaluation recorded (``statuspage.evaluation``: hysteresis per series, the majority of
locations), which a single location cannot move, and weigh it as Statuspage does and as the
deadline notices do (``impact.DEFAULT_WEIGHTS``): a major outage counts fully, a partial outage
at 0.3, degraded performance not at all.

Days begin at midnight in the page's time zone. A day counts only from the component's first
measurement on, and only when probes ran that day: no evidence is "no data", never 100%.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta, tzinfo

from statuspage.impact import DEFAULT_WEIGHTS

__all__ = ["day_bounds", "service_by_day"]


def day_bounds(day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The start and end of a local ``day`` as aware datetimes (23 or 25 hours across DST)."""
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start, end


def service_by_day(steps: Sequence[tuple[datetime, str]], days: Sequence[date],
                   zone: tzinfo, *, measured_days: set[date], covered_from: datetime | None,
                   now: datetime, weights: Mapping[str, float] = DEFAULT_WEIGHTS
                   ) -> dict[date, tuple[float, float]]:
    """``(measured seconds, served seconds)`` for each of ``days``.

    ``steps`` are ``(from, status)`` in time order (``impact.status_timeline``); a day is
    measured from ``covered_from`` (the first measurement) to ``now`` and only if it is in
    ``measured_days`` (probes ran). Served time is measured time less weighted outage time.

    >>> from datetime import UTC
    >>> t0 = datetime(2026, 12, 1, tzinfo=UTC)
    >>> steps = [(t0, "operational"), (t0 + timedelta(hours=12), "major_outage"),
    ...          (t0 + timedelta(hours=18), "operational")]
    >>> day = date(2026, 12, 1)
    >>> service_by_day(steps, [day], UTC, measured_days={day}, covered_from=t0,
    ...                now=t0 + timedelta(days=2))[day]
    (86400.0, 64800.0)
    """
    result: dict[date, tuple[float, float]] = {}
    for day in days:
        start, end = day_bounds(day, zone)
        if covered_from is not None:
            start = max(start, covered_from)
        end = min(end, now)
        if day not in measured_days or covered_from is None or end <= start:
            result[day] = (0.0, 0.0)
            continue
        lost = 0.0
        for index, (since, status) in enumerate(steps):
            until = steps[index + 1][0] if index + 1 < len(steps) else end
            overlap = (min(until, end) - max(since, start)).total_seconds()
            if overlap > 0:
                lost += overlap * weights.get(status, 0.0)
        measured = (end - start).total_seconds()
        result[day] = (measured, max(0.0, measured - lost))
    return result
