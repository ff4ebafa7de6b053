"""Pure latency-histogram arithmetic for probe rollups.

A histogram is a list of ``len(LATENCY_BUCKETS_MS) + 1`` counts: index ``i`` counts latencies
``<= LATENCY_BUCKETS_MS[i]`` (the first bound that fits) and the last index counts the rest.
Rollups store one per minute/hour/day; merging is element-wise addition, so a percentile over
any period costs a bounded number of rows whatever the history length.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence

from statuspage.models import LATENCY_BUCKETS_MS

__all__ = [
    "BUCKETS",
    "add",
    "bucket_index",
    "empty",
    "from_latencies",
    "merge",
    "percentile",
]

BUCKETS: tuple[float, ...] = tuple(float(b) for b in LATENCY_BUCKETS_MS)
SIZE = len(BUCKETS) + 1


def empty() -> list[int]:
    """A histogram with every count zero."""
    return [0] * SIZE


def bucket_index(latency_ms: float) -> int:
    """The index of the bucket ``latency_ms`` falls in (first upper bound >= it)."""
    return bisect_left(BUCKETS, max(0.0, float(latency_ms)))


def add(histogram: list[int], latency_ms: float, count: int = 1) -> list[int]:
    """Count ``latency_ms`` into ``histogram`` in place and return it."""
    histogram[bucket_index(latency_ms)] += count
    return histogram


def from_latencies(latencies: Iterable[float]) -> list[int]:
    """A new histogram of ``latencies``."""
    histogram = empty()
    for latency in latencies:
        add(histogram, latency)
    return histogram


def merge(histograms: Iterable[Sequence[int] | None]) -> list[int]:
    """Element-wise sum; missing, empty or short histograms (older rows) count as zeros."""
    total = empty()
    for histogram in histograms:
        for i, count in enumerate((histogram or ())[:SIZE]):
            total[i] += int(count)
    return total


def percentile(histogram: Sequence[int], q: float, *, max_ms: float | None = None) -> float | None:
    """Estimate the ``q``-quantile (0..1) in ms; None when the histogram is empty.

    The rank falls in one bucket; the estimate interpolates linearly between the bucket's bounds
    (Prometheus' ``histogram_quantile`` does the same). ``max_ms``, the largest latency seen,
    caps the estimate, and serves as the upper bound of the open last bucket.
    """
    if not 0 <= q <= 1:
        raise ValueError("q must be between 0 and 1")
    total = sum(histogram)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(histogram):
        if count == 0:
            continue
        if seen + count >= rank:
            lower = BUCKETS[i - 1] if i > 0 else 0.0
            if i < len(BUCKETS):
                upper = BUCKETS[i]
            else:  # open last bucket: only the observed maximum bounds it
                upper = max(lower, max_ms if max_ms is not None else lower)
            estimate = lower + (upper - lower) * max(0.0, rank - seen) / count
            if max_ms is not None:
                estimate = min(estimate, max_ms)
            return estimate
        seen += count
    return max_ms  # not reached: rank <= total
