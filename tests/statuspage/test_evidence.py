"""The evidence engine against hand-computed cases (each figure worked out in the comment)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from statuspage.evidence import EvidencePolicy, Sample, Window, evaluate, recommend

CLOSE = datetime(2024, 9, 6, 16, 59, tzinfo=UTC)  # 6 Sep 2024 23:59 WIB
START = CLOSE - timedelta(days=1)  # a one-day window: 288 intervals of 5 minutes
MIN = timedelta(minutes=1)
H = timedelta(hours=1)


def run(component: str, start: datetime, end: datetime, *, outcome: str = "ok",
        ms: float = 500.0, location: str = "jakarta", every: timedelta = MIN) -> list[Sample]:
    """One sample every ``every`` in [start, end)."""
    out, at = [], start
    while at < end:
        out.append(Sample(component, location, at, outcome, ms))
        at += every
    return out


def healthy(*components: str, location: str = "jakarta") -> list[Sample]:
    return [s for c in components for s in run(c, START, CLOSE, location=location)]


def replace_span(samples: list[Sample], component: str, a: datetime, b: datetime,
                 **kw: object) -> list[Sample]:
    kept = [s for s in samples if not (s.component_id == component and a <= s.started_at < b)]
    return kept + run(component, a, b, **kw)  # type: ignore[arg-type]


WIN = Window(START, CLOSE, CLOSE, ("pembelian",))
WIN2 = Window(START, CLOSE, CLOSE, ("pembelian", "pembubuhan"))
T0 = START + 6 * H  # a time on an interval boundary inside the window


def blip() -> list[Sample]:
    # 2 of the 5 samples in one interval fail: journey 0.6, lost 5 min x 0.4 = 2 min
    samples = [s for s in healthy("pembelian") if not T0 <= s.started_at < T0 + 2 * MIN]
    return samples + run("pembelian", T0, T0 + 2 * MIN, outcome="failed")


def long_outage() -> list[Sample]:
    # 3 hours fully down: lost 3 h, one disruption of 3 h
    return replace_span(healthy("pembelian"), "pembelian", T0, T0 + 3 * H, outcome="failed")


def before_window() -> list[Sample]:
    # failures before the window start count for nothing
    return healthy("pembelian") + run("pembelian", START - 5 * H, START, outcome="failed")


def maintenance() -> list[Sample]:
    return replace_span(healthy("pembelian"), "pembelian", T0, T0 + H, outcome="failed")


def two_locations() -> list[Sample]:
    # jakarta succeeds (5 a interval), medan fails (1 a interval) for an hour: each location
    # weighs the same, so the rate is (1 + 0) / 2 = 0.5 and lost = 1 h x 0.5 = 30 min
    return healthy("pembelian") + run("pembelian", T0, T0 + H, outcome="failed",
                                      location="medan", every=5 * MIN)


def second_half_only() -> list[Sample]:
    return run("pembelian", START + 12 * H, CLOSE)


def slow() -> list[Sample]:
    # an hour of transactions that completed in 45 s (patience 30 s): failed for the applicant;
    # another hour at 20 s: fine
    samples = replace_span(healthy("pembelian"), "pembelian", T0, T0 + H, outcome="degraded",
                           ms=45_000)
    return replace_span(samples, "pembelian", T0 + 2 * H, T0 + 3 * H, outcome="degraded",
                        ms=20_000)


def two_components() -> list[Sample]:
    # one interval: pembelian 0.6 (3 of 5 ok), pembubuhan 0.8 (4 of 5): journey 0.48,
    # lost 5 min x 0.52 = 2.6 min
    samples = [s for s in healthy("pembelian", "pembubuhan")
               if not T0 <= s.started_at < T0 + 5 * MIN]
    return (samples + run("pembelian", T0, T0 + 3 * MIN)
            + run("pembelian", T0 + 3 * MIN, T0 + 5 * MIN, outcome="failed")
            + run("pembubuhan", T0, T0 + 4 * MIN)
            + run("pembubuhan", T0 + 4 * MIN, T0 + 5 * MIN, outcome="failed"))


CASES = [
    # name, window, samples, maintenance, lost, coverage, downtime, level
    ("short blip", WIN, blip, (), 2 * MIN, 1.0, 5 * MIN, "watch"),
    ("long outage inside", WIN, long_outage, (), 3 * H, 1.0, 3 * H, "extension_recommended"),
    ("outage ends before the window", WIN, before_window, (), timedelta(0), 1.0, timedelta(0),
     "none"),
    # exactly one hour is not "above one hour": watch, no extension; all of it in maintenance
    ("maintenance", WIN, maintenance, ((T0 - H, T0 + H),), H, 1.0, H, "watch"),
    ("two locations disagree", WIN, two_locations, (), 30 * MIN, 1.0, H, "watch"),
    ("missing first half", WIN, second_half_only, (), timedelta(0), 0.5, timedelta(0), "none"),
    ("slow beyond patience", WIN, slow, (), H, 1.0, H, "watch"),
    ("two components multiply", WIN2, two_components, (), timedelta(minutes=2.6), 1.0, 5 * MIN,
     "watch"),
]


@pytest.mark.parametrize(("name", "window", "make", "mnt", "lost", "coverage", "downtime",
                          "level"), CASES, ids=[c[0] for c in CASES])
def test_hand_computed_cases(name: str, window: Window, make: object, mnt: tuple,
                             lost: timedelta, coverage: float, downtime: timedelta,
                             level: str) -> None:
    evidence = evaluate(make(), window, CLOSE + H, maintenance=mnt)  # type: ignore[operator]
    assert evidence.lost.total_seconds() == pytest.approx(lost.total_seconds())
    assert evidence.coverage == pytest.approx(coverage)
    assert evidence.downtime == downtime
    assert evidence.level == level
    assert not evidence.provisional  # the window is over


def test_long_outage_details() -> None:
    evidence = evaluate(long_outage(), WIN, CLOSE + H)
    assert evidence.longest_disruption == (T0, T0 + 3 * H)
    # 288 intervals, 36 at 0: availability = 1 - 3/24 = 0.875
    assert evidence.availability == pytest.approx(0.875)
    (fig,) = evidence.per_component
    assert (fig.attempts, fig.successes) == (1440, 1440 - 180)
    rec = evidence.recommendation
    assert (rec.days, rec.by_lost_time, rec.by_legal_minimum) == (1, 1, 0)
    # one day after 6 Sep, at 23:59 WIB
    assert rec.new_closing == datetime(2024, 9, 7, 16, 59, tzinfo=UTC)


def test_maintenance_is_counted_and_reported_apart() -> None:
    evidence = evaluate(maintenance(), WIN, CLOSE, maintenance=((T0 - H, T0 + H),))
    assert evidence.lost_in_maintenance == H


def test_no_measurement_at_all_is_unknown_not_success() -> None:
    evidence = evaluate([], WIN, CLOSE)
    assert evidence.coverage == 0
    assert evidence.availability is None
    assert evidence.lost == timedelta(0)
    assert evidence.per_component[0].success_rate is None


def test_a_component_missing_makes_the_interval_unknown() -> None:
    # pembubuhan measured only in the first 6 hours: the rest of the day is unknown
    samples = healthy("pembelian") + run("pembubuhan", START, T0)
    evidence = evaluate(samples, WIN2, CLOSE)
    assert evidence.coverage == pytest.approx(0.25)


def test_demand_profile_weights_busy_hours() -> None:
    # all expected attempts at 09:00-10:59 WIB (02:00-03:59 UTC): weight 24 x 0.5 = 12 there,
    # 0 elsewhere. Intervals start at :59, :04, ... (the window opens 23:59 WIB): the interval
    # 09:04-09:09 WIB down -> 5 min x 12 = 60 min lost; 1 h down from 03:04 WIB -> nothing
    profile = tuple(1.0 if h in (9, 10) else 0.0 for h in range(24))
    nine = datetime(2024, 9, 6, 2, 4, tzinfo=UTC)
    three = datetime(2024, 9, 5, 20, 4, tzinfo=UTC)
    samples = replace_span(healthy("pembelian"), "pembelian", nine, nine + 5 * MIN,
                           outcome="failed")
    samples = replace_span(samples, "pembelian", three, three + H, outcome="failed")
    evidence = evaluate(samples, WIN, CLOSE, policy=EvidencePolicy(demand_profile=profile))
    assert evidence.lost == 60 * MIN
    # demand-weighted availability: 2 busy hours = 24 intervals x 12, one of them lost
    assert evidence.availability == pytest.approx(1 - 1 / 24)


def test_provisional_while_the_disruption_goes_on() -> None:
    samples = run("pembelian", START, T0) + run("pembelian", T0, T0 + 2 * H, outcome="failed")
    ongoing = evaluate(samples, WIN, T0 + 2 * H)
    assert ongoing.provisional and ongoing.level == "extension_recommended"
    assert ongoing.coverage == 1.0 and ongoing.lost == 2 * H
    recovered = evaluate(samples + run("pembelian", T0 + 2 * H, T0 + 3 * H), WIN, T0 + 3 * H)
    assert not recovered.provisional
    # a component declared down right now makes it provisional too
    declared = evaluate(samples + run("pembelian", T0 + 2 * H, T0 + 3 * H), WIN, T0 + 3 * H,
                        current={"pembelian": "major_outage"})
    assert declared.provisional


def test_per_component_p95_nearest_rank() -> None:
    samples = [Sample("pembelian", "jakarta", START + i * MIN, "ok", 100.0 * (i + 1))
               for i in range(20)]
    evidence = evaluate(samples, WIN, CLOSE)
    assert evidence.per_component[0].p95_ms == 1900.0  # rank ceil(0.95 x 20) = 19


def test_per_day_in_local_time() -> None:
    # the window 5 Sep 23:59 WIB .. 6 Sep 23:59 WIB: 1 minute on 5 Sep, the rest on 6 Sep
    evidence = evaluate(long_outage(), WIN, CLOSE)
    assert [d.day.isoformat() for d in evidence.per_day] == ["2024-09-05", "2024-09-06"]
    assert evidence.per_day[0].length == 5 * MIN  # the first interval starts 23:59 WIB
    assert evidence.per_day[1].lost == 3 * H


RECOMMEND = [
    # lost, opened (WIB date), legal min, expected (days, by_lost, by_legal)
    (timedelta(0), None, None, (0, 0, 0)),
    (59 * MIN, None, None, (0, 0, 0)),  # below the threshold
    (61 * MIN, None, None, (1, 1, 0)),
    (timedelta(days=2, hours=1), None, None, (3, 3, 0)),
    # CASN 2024: opened 20 Aug 00:00 WIB, 15-day minimum. Window 17.9993 days; 3.5 days lost
    # leaves 14.4993 < 15: legal needs ceil(0.5007) = 1, lost time needs 4 -> 4
    (timedelta(days=3, hours=12), datetime(2024, 8, 19, 17, 0, tzinfo=UTC), 15, (4, 4, 1)),
    # a 14.9993-day window already under the minimum: 1 day even with nothing lost
    (timedelta(0), datetime(2024, 8, 22, 17, 0, tzinfo=UTC), 15, (1, 0, 1)),
    # 3 days lost from an exactly 16-day window: effective 13 days, legal needs 2, lost 3 -> 3
    (timedelta(days=3), CLOSE - timedelta(days=16), 15, (3, 3, 2)),
]


@pytest.mark.parametrize(("lost", "opened", "legal", "expected"), RECOMMEND)
def test_recommended_extension_formula(lost: timedelta, opened: datetime | None,
                                       legal: int | None, expected: tuple[int, int, int]) -> None:
    window = Window(START, CLOSE, CLOSE, ("pembelian",), opened_at=opened, legal_min_days=legal)
    rec = recommend(window, lost)
    assert (rec.days, rec.by_lost_time, rec.by_legal_minimum) == expected


def test_casn_2024_four_days_closes_10_september_2359_wib() -> None:
    rec = recommend(WIN, timedelta(days=3, hours=2))
    assert rec.days == 4
    assert rec.new_closing == datetime(2024, 9, 10, 16, 59, tzinfo=UTC)


@pytest.mark.parametrize("profile", [(1.0,) * 23, (0.0,) * 24, (float("nan"),) + (1.0,) * 23,
                                     (-1.0,) + (1.0,) * 23])
def test_bad_demand_profile_is_refused(profile: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="demand_profile"):
        evaluate([], WIN, CLOSE, policy=EvidencePolicy(demand_profile=profile))


def test_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="ends before it starts"):
        evaluate([], Window(CLOSE, START, CLOSE, ("pembelian",)), CLOSE)
