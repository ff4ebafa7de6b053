"""Pure rules: from the probe results of a sliding window to a component's measured status.

For each (probe, location) series in the window:

- **candidate** from the window's rates: ``major_outage`` when the success rate (runs that did
  not fail) is below ``major_success``, ``partial_outage`` below ``partial_success``,
  ``degraded_performance`` when the clean rate (runs that were ``ok``) is below
  ``degraded_success`` or the p95 latency of successful runs exceeds the probe's budget.
- **hysteresis** against the component's current status, so one lost packet does not flap the
  page: going to an outage needs ``failures_to_down`` consecutive failures as the latest runs;
  going to ``degraded_performance`` needs ``failures_to_down`` bad runs (failed, degraded or over
  budget) in the window, the latest run among them, so that a steady trickle of errors still
  shows; any improvement needs ``successes_to_recover`` consecutive clean runs.

A **fast path** skips the window for failures that cannot be noise: when the latest
``fast_failures`` runs of a series all failed with a :data:`HARD_FAILURES` class (the service
refused the connection, did not answer, answered 5xx or said it is down, or signed a document
wrongly), the series proposes ``major_outage`` at once: the service answers nobody now, and
waiting for the window to fill would leave the page green for minutes. The majority rule below
still applies, so one location's broken network does not turn the page red. Recovery never
takes the fast path: it waits for ``successes_to_recover`` clean runs and the window's rates.

A location's status is the worst of its probes'; the component's is the most severe status a
strict majority of reporting locations agree on (one location: itself; two: both must agree;
three: the median). Without any result in the window nothing changes: no evidence, no verdict.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from statuspage.config import EvaluationConfig
from statuspage.status import component_severity, worst

__all__ = [
    "ComponentEvaluation",
    "HARD_FAILURES",
    "OUTAGES",
    "SampleLike",
    "SeriesVerdict",
    "candidate_status",
    "evaluate_component",
    "hysteresis",
    "majority_status",
    "p95",
]

OUTAGES: tuple[str, ...] = ("partial_outage", "major_outage")

#: Error classes that cannot be noise (see the module docstring). ``overloaded`` is not one:
#: a service shedding load still serves part of its users, and the window's rates say how many.
HARD_FAILURES: frozenset[str] = frozenset({
    "connect_error", "timeout", "network_error", "http_5xx", "service_down",
    "invalid_signature",
})
_MEASURED = ("operational", "degraded_performance", "partial_outage", "major_outage")


class SampleLike(Protocol):
    """The shape read from each sample (``store.probe_queries.Sample`` fits)."""

    @property
    def probe(self) -> str: ...

    @property
    def location(self) -> str: ...

    @property
    def started_at(self) -> datetime: ...

    @property
    def outcome(self) -> str: ...

    @property
    def total_ms(self) -> float: ...

    @property
    def error_class(self) -> str | None: ...


@dataclass(frozen=True)
class SeriesVerdict:
    """What one probe at one location says about the component."""

    probe: str
    location: str
    count: int
    success_rate: float
    clean_rate: float
    p95_ms: float | None
    budget_ms: float | None
    candidate: str
    fail_streak: int
    bad_count: int
    good_streak: int
    proposal: str
    bad_since: datetime | None
    fast: bool = False


@dataclass(frozen=True)
class ComponentEvaluation:
    """The verdict for one component, with the evidence a draft incident quotes."""

    component_id: str
    current: str
    status: str | None
    series: tuple[SeriesVerdict, ...] = ()
    locations: Mapping[str, str] = field(default_factory=dict)
    error_classes: Mapping[str, int] = field(default_factory=dict)
    latency_p95_ms: float | None = None
    success_rate: float | None = None
    count: int = 0

    @property
    def changed(self) -> bool:
        """Whether the component's measured status should change."""
        return self.status is not None and self.status != self.current

    @property
    def fast(self) -> bool:
        """Whether the verdict came from the fast path (hard failures at a majority)."""
        if self.status is None or self.status != "major_outage":
            return False
        fast_locations = {s.location for s in self.series if s.fast}
        return len(fast_locations) * 2 > len(self.locations)

    @property
    def bad_probes(self) -> list[str]:
        """Probes whose series is not operational (sorted)."""
        return sorted({s.probe for s in self.series if s.proposal != "operational"})

    @property
    def since(self) -> datetime | None:
        """When the current bad stretch began (earliest over the series that are bad)."""
        starts = [s.bad_since for s in self.series
                  if s.proposal != "operational" and s.bad_since is not None]
        return min(starts, default=None)

    def detail(self) -> dict[str, object]:
        """A JSON-ready summary stored with the status change."""
        return {
            "locations": dict(self.locations),
            "success_rate": self.success_rate,
            "latency_p95_ms": self.latency_p95_ms,
            "error_classes": dict(self.error_classes),
            "probes": self.bad_probes,
            "samples": self.count,
            "fast": self.fast,
        }


def p95(values: Sequence[float]) -> float | None:
    """The nearest-rank 95th percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def candidate_status(success_rate: float, clean_rate: float, p95_ms: float | None,
                     budget_ms: float | None, rules: EvaluationConfig) -> str:
    """The status the window's rates call for, before hysteresis."""
    if success_rate < rules.major_success:
        return "major_outage"
    if success_rate < rules.partial_success:
        return "partial_outage"
    over_budget = budget_ms is not None and p95_ms is not None and p95_ms > budget_ms
    if clean_rate < rules.degraded_success or over_budget:
        return "degraded_performance"
    return "operational"


def hysteresis(current: str, candidate: str, *, fail_streak: int, bad_count: int,
               latest_bad: bool, good_streak: int, rules: EvaluationConfig) -> str:
    """Move from ``current`` towards ``candidate`` only with enough consecutive evidence."""
    if current not in _MEASURED:  # e.g. under_maintenance: measure from a clean slate
        current = "operational"
    rank_now, rank_next = component_severity(current), component_severity(candidate)
    if rank_next > rank_now:
        if fail_streak >= rules.failures_to_down:
            return candidate
        if bad_count >= rules.failures_to_down and latest_bad:
            # enough bad runs for "degraded", not enough consecutive failures for an outage
            capped = candidate if candidate not in OUTAGES else "degraded_performance"
            return worst([current, capped])
        return current
    if rank_next < rank_now and good_streak >= rules.successes_to_recover:
        return candidate
    return current


def majority_status(statuses: Sequence[str]) -> str | None:
    """The most severe status that a strict majority of ``statuses`` reach or exceed."""
    if not statuses:
        return None
    ordered = sorted(statuses, key=component_severity, reverse=True)
    return ordered[len(ordered) // 2]


def _series(probe: str, location: str, samples: Sequence[SampleLike], current: str,
            budget_ms: float | None, rules: EvaluationConfig) -> SeriesVerdict:
    def is_bad(s: SampleLike) -> bool:
        return (s.outcome != "ok"
                or (budget_ms is not None and s.total_ms > budget_ms))

    def is_hard(s: SampleLike) -> bool:
        return s.outcome == "failed" and s.error_class in HARD_FAILURES

    count = len(samples)
    successes = [s for s in samples if s.outcome != "failed"]
    clean = [s for s in samples if not is_bad(s)]
    fail_streak = _trailing(samples, lambda s: s.outcome == "failed")
    bad_streak = _trailing(samples, is_bad)
    good_streak = _trailing(samples, lambda s: not is_bad(s))
    latency = p95([s.total_ms for s in successes])
    success_rate = len(successes) / count
    clean_rate = len(clean) / count
    candidate = candidate_status(success_rate, clean_rate, latency, budget_ms, rules)
    bad_count = count - len(clean)
    fast = 0 < rules.fast_failures <= _trailing(samples, is_hard)
    proposal = "major_outage" if fast else hysteresis(
        current, candidate, fail_streak=fail_streak, bad_count=bad_count,
        latest_bad=bad_streak > 0, good_streak=good_streak, rules=rules)
    bad_since = None
    if bad_streak:
        bad_since = samples[count - bad_streak].started_at
    elif bad_count:
        bad_since = next(s.started_at for s in samples if is_bad(s))
    return SeriesVerdict(probe, location, count, success_rate, clean_rate, latency, budget_ms,
                         candidate, fail_streak, bad_count, good_streak, proposal, bad_since,
                         fast)


def _trailing(samples: Sequence[SampleLike], test: Callable[[SampleLike], bool]) -> int:
    streak = 0
    for sample in reversed(samples):
        if not test(sample):
            break
        streak += 1
    return streak


def evaluate_component(component_id: str, current: str, samples: Sequence[SampleLike],
                       budgets: Mapping[str, float | None],
                       rules: EvaluationConfig) -> ComponentEvaluation:
    """Evaluate one component from its probes' window ``samples`` (oldest first).

    ``budgets`` maps each of the component's probe names to its latency budget (ms) or None;
    samples of probes not in ``budgets`` are ignored.
    """
    by_series: dict[tuple[str, str], list[SampleLike]] = {}
    for sample in samples:
        if sample.probe in budgets:
            by_series.setdefault((sample.probe, sample.location), []).append(sample)
    if not by_series:
        return ComponentEvaluation(component_id, current, None)
    series = tuple(
        _series(probe, location, rows, current, budgets[probe], rules)
        for (probe, location), rows in sorted(by_series.items())
    )
    per_location: dict[str, list[str]] = {}
    for verdict in series:
        per_location.setdefault(verdict.location, []).append(verdict.proposal)
    locations = {loc: worst(proposals) for loc, proposals in sorted(per_location.items())}
    used = [s for rows in by_series.values() for s in rows]
    errors = Counter(s.error_class or "unknown" for s in used if s.outcome == "failed")
    ok_count = sum(1 for s in used if s.outcome != "failed")
    return ComponentEvaluation(
        component_id=component_id,
        current=current,
        status=majority_status(list(locations.values())),
        series=series,
        locations=locations,
        error_classes=dict(errors.most_common()),
        latency_p95_ms=p95([s.total_ms for s in used if s.outcome != "failed"]),
        success_rate=ok_count / len(used),
        count=len(used),
    )
