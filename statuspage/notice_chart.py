"""The timeline chart of journey success rate over a deadline window (pure geometry).

The same points feed the page's inline SVG and the PDF's drawing; unknown intervals leave gaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from statuspage.evidence import Interval

__all__ = ["Chart", "journey_chart"]


@dataclass(frozen=True)
class Chart:
    """Polylines (lists of (x, y)) in a ``width`` x ``height`` box, y down, and marks."""

    width: float
    height: float
    segments: tuple[tuple[tuple[float, float], ...], ...]
    marks: tuple[tuple[float, str], ...]  # (x, label) of incident starts
    ticks: tuple[tuple[float, datetime], ...]  # (x, day start) for axis labels

    def svg_points(self) -> list[str]:
        """Each segment as an SVG ``points`` attribute."""
        return [" ".join(f"{x:.1f},{y:.1f}" for x, y in seg) for seg in self.segments]


def journey_chart(intervals: Sequence[Interval], start: datetime, end: datetime,
                  incidents: Sequence[tuple[datetime, str]] = (), day_starts: Sequence[datetime]
                  = (), width: float = 720.0, height: float = 120.0) -> Chart:
    """Journey success rate 0..1 mapped to ``height``..0 over [start, end]."""
    span = max((end - start).total_seconds(), 1.0)

    def x(at: datetime) -> float:
        return round(max(0.0, min(1.0, (at - start).total_seconds() / span)) * width, 1)

    segments: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    for interval in intervals:
        journey = interval.journey
        if journey is None:
            if current:
                segments.append(current)
            current = []
            continue
        y = round((1 - journey) * height, 1)
        current.append((x(interval.start), y))
        current.append((x(interval.end), y))
    if current:
        segments.append(current)
    return Chart(width, height, tuple(tuple(_thin(s)) for s in segments),
                 tuple((x(at), label) for at, label in incidents if start <= at <= end),
                 tuple((x(d), d) for d in day_starts if start <= d <= end))


def _thin(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Drop points that repeat the line (a flat week is 2 points, not 4,000)."""
    out: list[tuple[float, float]] = []
    for p in points:
        if len(out) >= 2 and out[-1][1] == p[1] and out[-2][1] == p[1]:
            out[-1] = p
        else:
            out.append(p)
    return out
