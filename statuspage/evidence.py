"""The evidence engine (pure): what share of applicants' attempts failed before a deadline.

Every definition a notice states lives here, once:

- **Interval**: the window is cut into 5-minute intervals from its start (the last one may be
  shorter when the evaluation runs before the window ends).
- **Component success rate of an interval**: for each location that measured the component in
  the interval, the share of its transactions that succeeded within the patience budget (a
  transaction slower than the budget counts as failed: the applicant gave up); the mean over
  those locations, so a location that probes more often does not outvote another.
- **Journey success rate** of an interval: the product over required components of their
  success rates (an applicant needs every component). An interval in which any required
  component has no measurement is *unknown*: reported as coverage, never counted as success.
- **Lost service time**: the sum over known intervals of length x (1 - journey success rate) x
  demand weight. The demand weight of an interval is 24 x the share of the day's expected
  attempts in its local hour (1 with the default flat profile), so the figure is the expected
  share of applicants' attempts that failed, expressed in hours.
- **Downtime Period** (cloud-SLA sense, as Google Cloud defines it): a 5-minute interval whose
  error rate (1 - journey success rate) is above 10 %; consecutive ones form one disruption,
  and the longest of those is the **longest continuous disruption**.
- **Recommended extension**: the larger of (a) lost service time rounded up to whole days, once
  it exceeds a threshold (default 1 hour), and (b) the days that restore the legal minimum
  window (window length minus lost days, when below the minimum). The new closing is that many
  days after the closing date, at 23:59 local time.

Maintenance counts as lost like any failure (an applicant who cannot apply lost the time
whether or not it was announced); the part inside announced maintenance is reported apart.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "DISRUPTION_ERROR_RATE",
    "INTERVAL",
    "LEVELS",
    "ComponentFigures",
    "DayFigures",
    "Evidence",
    "EvidencePolicy",
    "Interval",
    "Recommendation",
    "Sample",
    "Window",
    "evaluate",
    "recommend",
]

INTERVAL = timedelta(minutes=5)
#: An interval is a Downtime Period above this error rate (Google Cloud's SLA definition).
DISRUPTION_ERROR_RATE = 0.10
#: Notice levels, lowest first; "none" means nothing to tell the agency.
LEVELS = ("none", "watch", "at_risk", "extension_recommended")
_DAY = timedelta(days=1)
_EPS = 1e-9


@dataclass(frozen=True)
class Sample:
    """One measured transaction of a component (a raw probe result)."""

    component_id: str
    location: str
    started_at: datetime
    outcome: str  # ok | degraded | failed (degraded = slow but completed)
    total_ms: float


@dataclass(frozen=True)
class Window:
    """The deadline window under evaluation and the legal facts around it."""

    start: datetime
    end: datetime  # the effective closing (an extension moves it)
    closes_at: datetime  # the closing the agency first set
    components: tuple[str, ...]
    time_zone: str = "Asia/Jakarta"
    opened_at: datetime | None = None
    legal_min_days: int | None = None


@dataclass(frozen=True)
class EvidencePolicy:
    """The parameters a notice states with its figures."""

    patience_s: float = 30.0
    at_risk_after: timedelta = timedelta(hours=1)
    extension_after: timedelta = timedelta(hours=1)
    #: 24 non-negative numbers: expected attempts per local hour (normalised); None = flat.
    demand_profile: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Interval:
    """One interval with each component's success rate (None = not measured)."""

    start: datetime
    end: datetime
    rates: Mapping[str, float | None]
    weight: float = 1.0
    in_maintenance: bool = False

    @property
    def journey(self) -> float | None:
        """The journey success rate, or None when any required component is unmeasured."""
        product = 1.0
        for rate in self.rates.values():
            if rate is None:
                return None
            product *= rate
        return product

    @property
    def length(self) -> timedelta:
        """How long the interval is."""
        return self.end - self.start

    @property
    def disrupted(self) -> bool:
        """Whether this is a Downtime Period (error rate above 10 %)."""
        journey = self.journey
        return journey is not None and 1 - journey > DISRUPTION_ERROR_RATE + _EPS

    @property
    def lost(self) -> timedelta:
        """Length x (1 - journey success rate) x demand weight (zero when unknown)."""
        journey = self.journey
        return timedelta(0) if journey is None else self.length * ((1 - journey) * self.weight)


@dataclass(frozen=True)
class ComponentFigures:
    """Success rate and p95 latency of one component over the evaluated window."""

    component_id: str
    attempts: int
    successes: int
    p95_ms: float | None

    @property
    def success_rate(self) -> float | None:
        """Successful transactions (within the patience budget) / all, None without any."""
        return self.successes / self.attempts if self.attempts else None


@dataclass(frozen=True)
class DayFigures:
    """One local calendar day of the window."""

    day: date
    length: timedelta
    known: timedelta
    lost: timedelta
    downtime: timedelta


@dataclass(frozen=True)
class Recommendation:
    """The recommended extension with every input of its formula."""

    days: int
    by_lost_time: int
    by_legal_minimum: int
    lost: timedelta
    threshold: timedelta
    window_days: float | None
    effective_days: float | None
    legal_min_days: int | None
    new_closing: datetime | None


@dataclass(frozen=True)
class Evidence:
    """Every figure of a notice, as of ``until``."""

    window: Window
    policy: EvidencePolicy
    until: datetime
    intervals: tuple[Interval, ...]
    coverage: float
    lost: timedelta
    availability: float | None
    downtime_periods: tuple[tuple[datetime, datetime], ...]
    lost_in_maintenance: timedelta
    per_component: tuple[ComponentFigures, ...]
    per_day: tuple[DayFigures, ...]
    recommendation: Recommendation
    level: str
    provisional: bool
    declared_lost: timedelta | None = None
    sources: tuple[str, ...] = field(default_factory=tuple)

    @property
    def downtime(self) -> timedelta:
        """Total length of the Downtime Periods."""
        return sum((b - a for a, b in self.downtime_periods), timedelta(0))

    @property
    def longest_disruption(self) -> tuple[datetime, datetime] | None:
        """The longest continuous run of Downtime Periods (earliest on a tie)."""
        if not self.downtime_periods:
            return None
        return max(self.downtime_periods, key=lambda p: (p[1] - p[0], -p[0].timestamp()))


def _weights(profile: tuple[float, ...] | None) -> tuple[float, ...]:
    if profile is None:
        return (1.0,) * 24
    if len(profile) != 24 or any(not math.isfinite(v) or v < 0 for v in profile):
        raise ValueError("demand_profile needs 24 finite, non-negative numbers")
    total = sum(profile)
    if total <= 0:
        raise ValueError("demand_profile must not be all zero")
    return tuple(24 * v / total for v in profile)


def _p95(values: list[float]) -> float | None:
    """Nearest-rank 95th percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def evaluate(samples: Iterable[Sample], window: Window, now: datetime, *,
             policy: EvidencePolicy = EvidencePolicy(),
             maintenance: Sequence[tuple[datetime, datetime]] = (),
             current: Mapping[str, str] | None = None,
             declared_lost: timedelta | None = None,
             sources: Iterable[str] = ()) -> Evidence:
    """Every figure for ``window`` from the samples measured up to ``now``.

    ``current`` is each required component's status now (for ``watch`` and ``provisional``).
    """
    if window.end <= window.start:
        raise ValueError("the window ends before it starts")
    until = max(window.start, min(now, window.end))
    zone = ZoneInfo(window.time_zone)
    weights = _weights(policy.demand_profile)
    patience_ms = policy.patience_s * 1000
    count = math.ceil((until - window.start) / INTERVAL)
    # (interval index, component) -> location -> [successes, attempts]
    cells: dict[tuple[int, str], dict[str, list[int]]] = defaultdict(dict)
    latencies: dict[str, list[float]] = {c: [] for c in window.components}
    tallies: dict[str, list[int]] = {c: [0, 0] for c in window.components}
    wanted = set(window.components)
    for s in samples:
        if s.component_id not in wanted or not window.start <= s.started_at < until:
            continue
        ok = s.outcome != "failed" and s.total_ms <= patience_ms
        index = int((s.started_at - window.start) / INTERVAL)
        cell = cells[(index, s.component_id)].setdefault(s.location, [0, 0])
        cell[0] += ok
        cell[1] += 1
        tallies[s.component_id][0] += ok
        tallies[s.component_id][1] += 1
        latencies[s.component_id].append(s.total_ms)
    intervals: list[Interval] = []
    for index in range(count):
        start = window.start + index * INTERVAL
        end = min(start + INTERVAL, until)
        rates: dict[str, float | None] = {}
        for cid in window.components:
            by_location = cells.get((index, cid))
            rates[cid] = (sum(ok / n for ok, n in by_location.values()) / len(by_location)
                          if by_location else None)
        hour = start.astimezone(zone).hour
        in_maintenance = any(a < end and start < b for a, b in maintenance)
        intervals.append(Interval(start, end, rates, weights[hour], in_maintenance))
    return _assemble(window, policy, until, tuple(intervals), zone, tallies, latencies,
                     current or {}, declared_lost, tuple(sorted(set(sources))))


def _assemble(window: Window, policy: EvidencePolicy, until: datetime,
              intervals: tuple[Interval, ...], zone: ZoneInfo,
              tallies: Mapping[str, list[int]], latencies: Mapping[str, list[float]],
              current: Mapping[str, str], declared_lost: timedelta | None,
              sources: tuple[str, ...]) -> Evidence:
    total = until - window.start
    known = [i for i in intervals if i.journey is not None]
    known_time = sum((i.length for i in known), timedelta(0))
    lost = sum((i.lost for i in known), timedelta(0))
    demand = sum((i.length * i.weight for i in known), timedelta(0))
    periods: list[tuple[datetime, datetime]] = []
    for i in intervals:
        if not i.disrupted:
            continue
        if periods and periods[-1][1] == i.start:
            periods[-1] = (periods[-1][0], i.end)
        else:
            periods.append((i.start, i.end))
    days: dict[date, list[timedelta]] = {}
    for i in intervals:
        row = days.setdefault(i.start.astimezone(zone).date(), [timedelta(0)] * 4)
        row[0] += i.length
        if i.journey is not None:
            row[1] += i.length
            row[2] += i.lost
        if i.disrupted:
            row[3] += i.length
    recommendation = recommend(window, lost, policy.extension_after)
    not_operational = any(current.get(c, "operational") not in ("operational",)
                          for c in window.components)
    still_open = until < window.end
    ongoing = still_open and (not_operational or bool(known and known[-1].disrupted))
    level = "none"
    if (still_open and not_operational) or any(i.journey is not None and i.journey < 1 - _EPS
                                               for i in known):
        level = "watch"
    if lost > policy.at_risk_after:
        level = "at_risk"
    if recommendation.days >= 1:
        level = "extension_recommended"
    return Evidence(
        window=window, policy=policy, until=until, intervals=intervals,
        coverage=known_time / total if total > timedelta(0) else 0.0,
        lost=lost,
        availability=(1 - lost / demand) if demand > timedelta(0) else None,
        downtime_periods=tuple(periods),
        lost_in_maintenance=sum((i.lost for i in known if i.in_maintenance), timedelta(0)),
        per_component=tuple(
            ComponentFigures(c, tallies[c][1], tallies[c][0], _p95(list(latencies[c])))
            for c in window.components),
        per_day=tuple(DayFigures(d, *values) for d, values in sorted(days.items())),
        recommendation=recommendation, level=level, provisional=ongoing,
        declared_lost=declared_lost, sources=sources,
    )


def recommend(window: Window, lost: timedelta,
              threshold: timedelta = timedelta(hours=1)) -> Recommendation:
    """The extension formula: max(ceil(lost days) once lost > threshold, legal-minimum days)."""
    by_lost = math.ceil(lost / _DAY - _EPS) if lost > threshold else 0
    by_lost = max(by_lost, 1) if lost > threshold else 0
    window_days = effective = None
    by_legal = 0
    if window.legal_min_days is not None and window.opened_at is not None:
        window_days = (window.closes_at - window.opened_at) / _DAY
        effective = window_days - lost / _DAY
        if effective < window.legal_min_days - _EPS:
            by_legal = math.ceil(window.legal_min_days - effective - _EPS)
    days = max(by_lost, by_legal)
    new_closing = None
    if days:
        zone = ZoneInfo(window.time_zone)
        local_day = window.closes_at.astimezone(zone).date() + timedelta(days=days)
        new_closing = datetime.combine(local_day, time(23, 59), tzinfo=zone)
    return Recommendation(days=days, by_lost_time=by_lost, by_legal_minimum=by_legal, lost=lost,
                          threshold=threshold, window_days=window_days, effective_days=effective,
                          legal_min_days=window.legal_min_days, new_closing=new_closing)
