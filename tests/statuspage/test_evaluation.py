"""Pure evaluation rules, as tables of cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from statuspage.config import EvaluationConfig
from statuspage.evaluation import (
    candidate_status,
    evaluate_component,
    hysteresis,
    majority_status,
    p95,
)
from statuspage.store.probe_queries import Sample

RULES = EvaluationConfig(window_s=300, degraded_success=0.95, partial_success=0.75,
                         major_success=0.25, failures_to_down=3, successes_to_recover=3,
                         fast_failures=0)
FAST = EvaluationConfig(window_s=300, degraded_success=0.95, partial_success=0.75,
                        major_success=0.25, failures_to_down=3, successes_to_recover=3,
                        fast_failures=2)
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def series(pattern: str, probe: str = "purchase", location: str = "local",
           slow: float = 5000.0) -> list[Sample]:
    """Samples from a pattern, oldest first: o = ok, d = degraded, x = failed (timeout),
    s = ok but slow, r = refused connection, 5 = a 5xx, L = shed load (overloaded),
    4 = a 4xx, w = wrong serial."""
    codes = {"o": ("ok", 100.0, None), "d": ("degraded", 100.0, "slow"),
             "x": ("failed", 20000.0, "timeout"), "s": ("ok", slow, None),
             "r": ("failed", 1.0, "connect_error"), "5": ("failed", 5.0, "http_5xx"),
             "L": ("failed", 5.0, "overloaded"), "4": ("failed", 5.0, "http_4xx"),
             "w": ("failed", 50.0, "wrong_serial")}
    return [Sample(probe, location, T0 + timedelta(seconds=10 * i), codes[c][0], codes[c][1],
                   codes[c][2])
            for i, c in enumerate(pattern)]


@pytest.mark.parametrize(
    ("success", "clean", "p95_ms", "budget", "expected"),
    [
        (1.0, 1.0, 100.0, None, "operational"),
        (1.0, 1.0, 100.0, 1000.0, "operational"),
        (1.0, 1.0, 1001.0, 1000.0, "degraded_performance"),
        (0.96, 0.96, None, None, "operational"),
        (0.95, 0.95, None, None, "operational"),
        (0.94, 0.94, None, None, "degraded_performance"),
        (1.0, 0.90, None, None, "degraded_performance"),  # runs worked but were degraded
        (0.75, 0.75, None, None, "degraded_performance"),
        (0.74, 0.74, None, None, "partial_outage"),
        (0.25, 0.25, None, None, "partial_outage"),
        (0.24, 0.24, None, None, "major_outage"),
        (0.0, 0.0, None, 1000.0, "major_outage"),
    ],
)
def test_candidate_status(success: float, clean: float, p95_ms: float | None,
                          budget: float | None, expected: str) -> None:
    assert candidate_status(success, clean, p95_ms, budget, RULES) == expected


@pytest.mark.parametrize(
    ("current", "candidate", "fails", "bad", "latest_bad", "goods", "expected"),
    [
        # one lost packet: no change
        ("operational", "degraded_performance", 1, 1, True, 0, "operational"),
        ("operational", "partial_outage", 2, 2, True, 0, "operational"),
        # enough consecutive failures: straight to the candidate
        ("operational", "partial_outage", 3, 3, True, 0, "partial_outage"),
        ("operational", "major_outage", 5, 5, True, 0, "major_outage"),
        ("partial_outage", "major_outage", 3, 8, True, 0, "major_outage"),
        ("partial_outage", "major_outage", 1, 8, True, 0, "partial_outage"),
        # scattered bad runs: degraded at most, and only while the latest run is bad
        ("operational", "partial_outage", 1, 4, True, 0, "degraded_performance"),
        ("operational", "degraded_performance", 0, 3, True, 0, "degraded_performance"),
        ("operational", "degraded_performance", 0, 3, False, 1, "operational"),
        ("degraded_performance", "partial_outage", 1, 5, True, 0, "degraded_performance"),
        # recovery needs consecutive clean runs
        ("major_outage", "operational", 0, 5, False, 2, "major_outage"),
        ("major_outage", "operational", 0, 5, False, 3, "operational"),
        ("major_outage", "partial_outage", 0, 5, False, 3, "partial_outage"),
        ("degraded_performance", "operational", 0, 1, False, 3, "operational"),
        # steady state
        ("partial_outage", "partial_outage", 0, 5, False, 5, "partial_outage"),
        # a maintenance status is not a measurement: start from operational
        ("under_maintenance", "operational", 0, 0, False, 1, "operational"),
        ("under_maintenance", "major_outage", 3, 3, True, 0, "major_outage"),
    ],
)
def test_hysteresis(current: str, candidate: str, fails: int, bad: int, latest_bad: bool,
                    goods: int, expected: str) -> None:
    assert hysteresis(current, candidate, fail_streak=fails, bad_count=bad,
                      latest_bad=latest_bad, good_streak=goods, rules=RULES) == expected


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], None),
        (["major_outage"], "major_outage"),
        (["major_outage", "operational"], "operational"),  # two locations must both agree
        (["major_outage", "partial_outage"], "partial_outage"),
        (["major_outage", "major_outage", "operational"], "major_outage"),
        (["major_outage", "operational", "operational"], "operational"),
        (["major_outage", "partial_outage", "operational"], "partial_outage"),
        (["major_outage"] * 2 + ["operational"] * 2, "operational"),
        (["major_outage"] * 3 + ["operational"] * 2, "major_outage"),
    ],
)
def test_majority_status(statuses: list[str], expected: str | None) -> None:
    assert majority_status(statuses) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], None), ([7.0], 7.0), ([1.0, 2.0], 2.0), ([float(i) for i in range(1, 101)], 95.0),
     ([float(i) for i in range(1, 21)], 19.0)],
)
def test_p95_nearest_rank(values: list[float], expected: float | None) -> None:
    assert p95(values) == expected


@pytest.mark.parametrize(
    ("pattern", "current", "expected"),
    [
        ("oooooooooo", "operational", "operational"),
        ("oooooooooox", "operational", "operational"),  # one lost packet
        ("ooooooooxxx", "operational", "partial_outage"),  # 3 in a row, 73% success
        ("ooxxxxxxxx", "operational", "major_outage"),
        ("oxoxoxoxox", "operational", "degraded_performance"),  # 50%, never 3 in a row
        ("oxoxoxoxox", "partial_outage", "partial_outage"),  # stays down: no clean streak
        ("xxxxxxxooo", "major_outage", "partial_outage"),  # recovering: rates still low
        ("xxxxxxxoo", "major_outage", "major_outage"),  # only two clean runs
        ("xoooooooooooooooooooooooooooooooooooo", "major_outage", "operational"),
        ("ooooooosss", "operational", "degraded_performance"),  # slow: p95 over budget
        ("oooooooos", "operational", "operational"),  # one slow run
        ("ooooooddd", "operational", "degraded_performance"),  # the probe says degraded
    ],
)
def test_evaluate_one_location(pattern: str, current: str, expected: str) -> None:
    result = evaluate_component("pembelian", current, series(pattern), {"purchase": 3000.0},
                                RULES)
    assert result.status == expected
    assert result.changed is (expected != current)


def test_no_results_no_verdict() -> None:
    result = evaluate_component("pembelian", "major_outage", [], {"purchase": None}, RULES)
    assert result.status is None and not result.changed


def test_samples_of_other_probes_are_ignored() -> None:
    result = evaluate_component("pembelian", "operational", series("xxxx", probe="stamp"),
                                {"purchase": None}, RULES)
    assert result.status is None


def test_worst_probe_of_a_location_wins() -> None:
    samples = series("oooooo") + series("xxxxxx", probe="order-page")
    result = evaluate_component("pembelian", "operational", samples,
                                {"purchase": None, "order-page": None}, RULES)
    assert result.status == "major_outage"
    assert result.bad_probes == ["order-page"]
    assert result.error_classes == {"timeout": 6}
    assert result.success_rate == 0.5
    assert result.since == T0


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        ({"jakarta": "xxxxxx"}, "major_outage"),
        ({"jakarta": "xxxxxx", "surabaya": "oooooo"}, "operational"),
        ({"jakarta": "xxxxxx", "surabaya": "xxxxxx", "medan": "oooooo"}, "major_outage"),
        ({"jakarta": "xxxxxx", "surabaya": "oooooo", "medan": "oooooo"}, "operational"),
        ({"jakarta": "xxxxxx", "surabaya": "ooooxxx", "medan": "oooooo"}, "partial_outage"),
    ],
)
def test_locations_need_a_majority(patterns: dict[str, str], expected: str) -> None:
    samples = [s for loc, pattern in patterns.items() for s in series(pattern, location=loc)]
    result = evaluate_component("pembelian", "operational", samples, {"purchase": None}, RULES)
    assert result.status == expected
    assert set(result.locations) == set(patterns)


@pytest.mark.parametrize(
    ("pattern", "current", "expected"),
    [
        # two failures that cannot be noise: straight to major, whatever the window says
        ("oooooooooooxx", "operational", "major_outage"),
        ("oooooooooooorr", "operational", "major_outage"),
        ("oooooooooooo55", "operational", "major_outage"),
        ("oooooooooooox", "operational", "operational"),  # one is not a streak
        ("ooooooooooo5x", "operational", "major_outage"),  # mixed hard classes still count
        # failures that can be noise or partial service keep to the window and hysteresis
        ("ooooooooooooLL", "operational", "operational"),
        ("oooooooooooo44", "operational", "operational"),
        ("oooooooooooww", "operational", "operational"),
        ("ooooooooooo5o5", "operational", "operational"),  # not consecutive
        # recovery never takes the fast path: clean runs and the window decide
        ("xxxxxxxxxxo", "major_outage", "major_outage"),
        ("xxxxxxxxxooo", "major_outage", "partial_outage"),
    ],
)
def test_fast_path(pattern: str, current: str, expected: str) -> None:
    result = evaluate_component("pembelian", current, series(pattern), {"purchase": None}, FAST)
    assert result.status == expected
    assert result.fast is (expected == "major_outage" and expected != current
                           and pattern.endswith(("xx", "rr", "55", "5x")))


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        # one location's broken network does not turn the page red
        ({"jakarta": "oooooorr", "surabaya": "oooooooo"}, "operational"),
        ({"jakarta": "oooooorr", "surabaya": "oooooooo", "medan": "oooooooo"}, "operational"),
        # a majority does
        ({"jakarta": "oooooorr", "surabaya": "ooooooxx", "medan": "oooooooo"}, "major_outage"),
        ({"jakarta": "oooooo55", "surabaya": "oooooo55"}, "major_outage"),
    ],
)
def test_fast_path_needs_a_majority_of_locations(patterns: dict[str, str],
                                                 expected: str) -> None:
    samples = [s for loc, pattern in patterns.items() for s in series(pattern, location=loc)]
    result = evaluate_component("pembelian", "operational", samples, {"purchase": None}, FAST)
    assert result.status == expected
    assert result.fast is (expected == "major_outage")
    assert result.detail()["fast"] is result.fast
