"""Deadline impact: the CASN 2024 shape and edge cases, computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from statuspage.impact import StatusChange, deadline_impact, status_timeline

DEADLINE = datetime(2024, 9, 6, 16, 59, tzinfo=UTC)  # 6 Sep 23:59 WIB
WEEK = timedelta(days=7)


def at(day: int, hour: int) -> datetime:
    return datetime(2024, 9, day, hour, tzinfo=UTC)


def test_nothing_lost_when_always_operational() -> None:
    impact = deadline_impact([], ["pembelian"], DEADLINE, WEEK)
    assert impact.lost == timedelta(0)
    assert impact.availability == 1.0
    assert impact.episodes == ()
    assert impact.recommended_extension == timedelta(0)


def test_major_outage_counts_fully_partial_at_a_third() -> None:
    changes = [
        StatusChange("pembelian", "major_outage", at(3, 2)),
        StatusChange("pembelian", "partial_outage", at(3, 12)),  # 10 h major
        StatusChange("pembelian", "operational", at(4, 0)),  # 12 h partial
    ]
    impact = deadline_impact(changes, ["pembelian"], DEADLINE, WEEK)
    assert impact.durations["major_outage"] == timedelta(hours=10)
    assert impact.durations["partial_outage"] == timedelta(hours=12)
    assert impact.lost == timedelta(hours=10) + timedelta(hours=12) * 0.3
    assert impact.availability == pytest.approx(1 - 13.6 / (7 * 24))
    assert [e.status for e in impact.episodes] == ["major_outage", "partial_outage"]
    assert impact.recommended_extension == timedelta(days=1)


def test_the_worst_required_component_decides() -> None:
    changes = [
        StatusChange("pembelian", "degraded_performance", at(3, 0)),
        StatusChange("pembubuhan", "major_outage", at(3, 6)),
        StatusChange("pembubuhan", "operational", at(3, 18)),
        StatusChange("pembelian", "operational", at(4, 0)),
    ]
    impact = deadline_impact(changes, ["pembelian", "pembubuhan"], DEADLINE, WEEK)
    assert impact.lost == timedelta(hours=12)
    assert impact.durations["degraded_performance"] == timedelta(hours=12)
    assert impact.per_component_lost == {"pembelian": timedelta(0),
                                         "pembubuhan": timedelta(hours=12)}
    assert [(e.status, e.components) for e in impact.episodes] == [
        ("degraded_performance", ("pembelian",)),
        ("major_outage", ("pembubuhan",)),
        ("degraded_performance", ("pembelian",)),
    ]


def test_outage_before_the_window_carries_in_and_after_deadline_is_ignored() -> None:
    changes = [
        StatusChange("pembelian", "major_outage", DEADLINE - WEEK - timedelta(hours=5)),
        StatusChange("pembelian", "operational", DEADLINE - WEEK + timedelta(hours=2)),
        StatusChange("pembelian", "major_outage", DEADLINE + timedelta(hours=1)),
    ]
    impact = deadline_impact(changes, ["pembelian"], DEADLINE, WEEK)
    assert impact.lost == timedelta(hours=2)
    assert impact.episodes[0].start == DEADLINE - WEEK


def test_ongoing_window_stops_at_now() -> None:
    changes = [StatusChange("pembelian", "major_outage", at(5, 0))]
    now = at(5, 6)
    impact = deadline_impact(changes, ["pembelian"], DEADLINE, WEEK, now=now)
    assert impact.window_end == now
    assert impact.lost == timedelta(hours=6)
    assert impact.recommended_extension == timedelta(days=1)


def test_custom_weights() -> None:
    changes = [StatusChange("pembelian", "partial_outage", at(3, 0)),
               StatusChange("pembelian", "operational", at(3, 10))]
    impact = deadline_impact(changes, ["pembelian"], DEADLINE, WEEK,
                             weights={"partial_outage": 0.5, "major_outage": 1.0})
    assert impact.lost == timedelta(hours=5)


def test_timeline_ignores_other_components() -> None:
    changes = [StatusChange("a", "major_outage", at(3, 0)), StatusChange("b", "partial_outage",
                                                                         at(3, 1))]
    assert status_timeline(changes, "a", at(2, 0), at(4, 0)) == [
        (at(2, 0), "operational"), (at(3, 0), "major_outage")]


def test_time_before_measurements_is_unknown_not_operational() -> None:
    changes = [StatusChange("pembelian", "major_outage", at(5, 0)),
               StatusChange("pembelian", "operational", at(5, 12))]
    since = DEADLINE - timedelta(days=2)
    impact = deadline_impact(changes, ["pembelian"], DEADLINE, WEEK, measured_from=since)
    assert impact.observed_from == since
    assert impact.coverage == pytest.approx(2 / 7)
    assert impact.lost == timedelta(hours=12)
    assert impact.availability == pytest.approx(1 - 12 / 48)
    nothing = deadline_impact([], ["pembelian"], DEADLINE, WEEK, measured_from=DEADLINE)
    assert nothing.coverage == 0
    assert nothing.observed_from is None
