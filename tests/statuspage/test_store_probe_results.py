"""Recording probe results, rollups, pruning and summaries, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from statuspage.config import ConfigError, RetentionConfig
from statuspage.config_parser import parse_config
from statuspage.db import Database
from statuspage.models import ProbeResultRow, ProbeRollup
from statuspage.store import probe_queries
from statuspage.store import probe_results as store

T0 = datetime(2026, 11, 27, 10, 0, 5, tzinfo=UTC)
COMPONENTS = {"purchase": "pembelian", "stamp": "pembubuhan"}


@dataclass
class Result:
    """A stand-in with the shape of probes.ProbeResult."""

    probe: str
    started_at: datetime
    outcome: str = "ok"
    total_ms: float = 100.0
    location: str = "local"
    kind: str = "purchase"
    error_class: str | None = None
    message: str | None = None
    phases: dict[str, float] = field(default_factory=dict)


def rollups(db: Database, period: str) -> list[ProbeRollup]:
    with db.session() as session:
        return list(session.scalars(sa.select(ProbeRollup).where(ProbeRollup.period == period)
                                    .order_by(ProbeRollup.bucket_start, ProbeRollup.location)))


def test_record_stores_raw_rows_and_three_rollups(db: Database) -> None:
    results = [
        Result("purchase", T0, "ok", 120.0, phases={"order": 50.0}),
        Result("purchase", T0 + timedelta(seconds=30), "failed", 20000.0, error_class="timeout"),
        Result("purchase", T0 + timedelta(seconds=70), "degraded", 3500.0),
    ]
    with db.session() as session:
        assert store.record_results(session, results, COMPONENTS) == 3
    with db.session() as session:
        raw = session.scalars(sa.select(ProbeResultRow).order_by(ProbeResultRow.id)).all()
        assert [r.outcome for r in raw] == ["ok", "failed", "degraded"]
        assert raw[0].phases == {"order": 50.0} and raw[0].component_id == "pembelian"
        assert raw[1].error_class == "timeout"
    minutes = rollups(db, "minute")
    assert [(m.bucket_start.minute, m.count, m.ok, m.failed, m.degraded) for m in minutes] == [
        (0, 2, 1, 1, 0), (1, 1, 0, 0, 1)]
    (hour,) = rollups(db, "hour")
    (day,) = rollups(db, "day")
    for row in (hour, day):
        assert (row.count, row.ok, row.degraded, row.failed) == (3, 1, 1, 1)
        assert row.latency_sum_ms == 120.0 + 20000.0 + 3500.0
        assert row.latency_max_ms == 20000.0
        assert sum(row.histogram) == 3
    assert day.bucket_start == datetime(2026, 11, 27, tzinfo=UTC)


def test_rollups_add_up_across_calls_and_keep_locations_apart(db: Database) -> None:
    for i in range(5):
        with db.session() as session:
            store.record_results(session, [
                Result("purchase", T0 + timedelta(seconds=i), total_ms=10.0 * (i + 1)),
                Result("purchase", T0 + timedelta(seconds=i), location="jakarta"),
            ], COMPONENTS)
    (local, jakarta) = sorted(rollups(db, "hour"), key=lambda r: r.location != "local")
    assert local.count == 5 and local.latency_sum_ms == 150.0 and local.latency_max_ms == 50.0
    assert jakarta.location == "jakarta" and jakarta.count == 5


def test_concurrent_writers_lose_no_counts(db: Database) -> None:
    """Agents push through several web processes at once: every result must be counted once."""
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            database = Database(db.url)
            for i in range(10):
                with database.session() as session:
                    store.record_results(session, [
                        Result("purchase", T0 + timedelta(milliseconds=n * 100 + i)),
                        Result("stamp", T0 + timedelta(milliseconds=n * 100 + i), kind="stamp"),
                    ], COMPONENTS)
            database.dispose()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    for period in ("minute", "hour", "day"):
        counts = {r.probe: (r.count, sum(r.histogram)) for r in rollups(db, period)}
        assert counts == {"purchase": (40, 40), "stamp": (40, 40)}


def test_flush_bumps_once_per_batch_of_news(db: Database) -> None:
    with db.session() as session:
        assert store.flush_rollups(session) is False  # nothing recorded yet
    with db.session() as session:
        store.record_results(session, [Result("purchase", T0)], COMPONENTS)
    before = db.change_counter()
    with db.session() as session:
        assert store.flush_rollups(session) is True
    with db.session() as session:
        assert store.flush_rollups(session) is False
    assert db.change_counter() == before + 1


def test_prune_keeps_recent_raw_results_and_day_rollups(db: Database) -> None:
    now = T0 + timedelta(days=10)
    with db.session() as session:
        store.record_results(session, [Result("purchase", T0),
                                       Result("purchase", now - timedelta(hours=1))], COMPONENTS)
    with db.session() as session:
        deleted = store.prune(session, RetentionConfig(raw_days=7, minute_days=3, hour_days=5),
                              now=now)
    assert deleted == {"raw": 1, "minute": 1, "hour": 1}
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ProbeResultRow)) == 1
    assert len(rollups(db, "day")) == 2


def test_summaries_read_rollups(db: Database) -> None:
    now = T0 + timedelta(minutes=3)
    results = [Result("purchase", T0 + timedelta(seconds=10 * i), total_ms=320.0)
               for i in range(18)]
    results.append(Result("purchase", T0 + timedelta(seconds=5), "failed", 20000.0))
    with db.session() as session:
        store.record_results(session, results, COMPONENTS)
    with db.session() as session:
        summary = probe_queries.latency_summary(session, "purchase", period="minute",
                                                since=now - timedelta(minutes=5))
        assert (summary.count, summary.ok, summary.failed) == (19, 18, 1)
        assert summary.success_rate == 18 / 19
        # interpolated inside the (300, 500] bucket: as precise as the bucket bounds
        assert summary.p50_ms is not None and 300 <= summary.p50_ms <= 500
        empty = probe_queries.latency_summary(session, "stamp", period="hour", since=now)
        assert empty.count == 0 and empty.p95_ms is None and empty.success_rate is None
        last = probe_queries.last_results(session, ["purchase", "stamp"],
                                          now - timedelta(days=1))
        assert list(last) == [("purchase", "local")]
        assert last[("purchase", "local")].started_at == T0 + timedelta(seconds=170)
        samples = probe_queries.window_samples(session, ["purchase"],
                                               T0 + timedelta(seconds=100))
        assert [s.started_at.second for s in samples][:2] == [45, 55]
        assert len(samples) == 8


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("", RetentionConfig(7, 3, 120)),
        ("[retention]\nraw_days = 14\n", RetentionConfig(14, 3, 120)),
        ("[retention]\nraw_days = 0\n", "retention.raw_days: must be at least 1"),
        ("[retention]\nhour_days = 1.5\n", "retention.hour_days: expected an integer"),
        ("[retention]\nweeks = 2\n", "retention.weeks: unknown key"),
    ],
)
def test_retention_config(table: str, expected: RetentionConfig | str) -> None:
    if isinstance(expected, RetentionConfig):
        assert parse_config(table, "<t>").retention == expected
    else:
        with pytest.raises(ConfigError, match=expected):
            parse_config(table, "<t>")
