"""Pure histogram arithmetic, as tables of cases."""

from __future__ import annotations

import pytest

from statuspage import histogram
from statuspage.models import LATENCY_BUCKETS_MS


@pytest.mark.parametrize(
    ("latency", "index"),
    [
        (0.0, 0),
        (-3.0, 0),
        (5.0, 0),
        (5.01, 1),
        (10.0, 1),
        (299.9, 6),
        (300.0, 6),
        (300.1, 7),
        (60000.0, len(LATENCY_BUCKETS_MS) - 1),
        (60000.1, len(LATENCY_BUCKETS_MS)),
        (1e9, len(LATENCY_BUCKETS_MS)),
    ],
)
def test_bucket_index(latency: float, index: int) -> None:
    assert histogram.bucket_index(latency) == index


def test_empty_has_one_bucket_per_bound_plus_overflow() -> None:
    assert histogram.empty() == [0] * (len(LATENCY_BUCKETS_MS) + 1)


@pytest.mark.parametrize(
    ("parts", "expected_total"),
    [
        ([], 0),
        ([None, []], 0),
        ([histogram.from_latencies([1, 2, 3])], 3),
        ([histogram.from_latencies([1]), histogram.from_latencies([400, 70000])], 3),
        ([[1, 2]], 3),  # a short (older) histogram counts as zeros beyond its end
    ],
)
def test_merge_sums_elementwise(parts: list[list[int] | None], expected_total: int) -> None:
    merged = histogram.merge(parts)
    assert len(merged) == len(LATENCY_BUCKETS_MS) + 1
    assert sum(merged) == expected_total


@pytest.mark.parametrize(
    ("latencies", "q", "max_ms", "low", "high"),
    [
        ([], 0.5, None, None, None),
        ([100.0] * 10, 0.5, 100.0, 50.0, 100.0),
        ([100.0] * 10, 0.95, 100.0, 97.0, 100.0),
        ([1.0] * 95 + [4000.0] * 5, 0.5, 4000.0, 0.0, 5.0),
        ([1.0] * 90 + [4000.0] * 10, 0.95, 4000.0, 3000.0, 4000.0),
        ([70000.0, 80000.0], 0.5, 80000.0, 60000.0, 80000.0),
        ([70000.0, 80000.0], 1.0, 80000.0, 80000.0, 80000.0),
        ([320.0] * 50, 0.5, 320.0, 300.0, 320.0),
    ],
)
def test_percentile_is_within_the_bucket_and_capped_by_max(
        latencies: list[float], q: float, max_ms: float | None, low: float | None,
        high: float | None) -> None:
    value = histogram.percentile(histogram.from_latencies(latencies), q, max_ms=max_ms)
    if low is None:
        assert value is None
    else:
        assert value is not None and low <= value <= high  # type: ignore[operator]


def test_percentile_rejects_bad_quantile() -> None:
    with pytest.raises(ValueError):
        histogram.percentile(histogram.empty(), 1.5)
