"""Days in the page's time zone, uptime from the evaluated status, agents rate-limited.

Issue 13: an outage at 02.00 WIB on 2 December was counted under 1 December (UTC days).
Issue 8 item 13: one agent pushing 21,000 failures moved a 90-day figure from 99.19% to
91.71%; the bars now follow the evaluated status (majority of locations) and agents have a
rate limit.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from statuspage.db import Database
from statuspage.models import PageMarker, ProbeRollup, utcnow
from statuspage.probing import (
    agent_results_per_minute,
    evaluate_components,
    store_results,
)
from statuspage.settings import Settings
from statuspage.store.agents import create_agent_token
from statuspage.store.day_zone import DAY_ZONE_MARKER, convert_day_rollups
from statuspage.store.public import page_data
from tests.statuspage.test_probing_support import PROBE_CONFIG, result

WIB = ZoneInfo("Asia/Jakarta")


@pytest.fixture
def config_text() -> str:
    return PROBE_CONFIG


def wib(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), WIB).astimezone(UTC)


def test_an_outage_at_02_wib_lands_on_its_own_day(settings: Settings, db: Database) -> None:
    """Probes fail from 02.00 to 03.00 WIB: the evaluated outage and the day rollup both
    belong to that WIB day, not to the UTC day before (it is still 19.00-20.00 UTC there)."""
    config = settings.config
    day = utcnow().astimezone(WIB).date() - timedelta(days=1)
    start, end = wib(day, 2), wib(day, 3)
    runs = [result("purchase", "ok", at=start - timedelta(minutes=m)) for m in (30, 20, 10)]
    at = start
    while at < end:
        runs.append(result("purchase", "failed", at=at))
        at += timedelta(minutes=1)
    runs += [result("purchase", "ok", at=end + timedelta(minutes=m)) for m in range(30)]
    moment, pending = start - timedelta(minutes=30), sorted(runs, key=lambda r: r.started_at)
    while pending:  # as the worker does: results arrive, evaluation runs every minute
        moment += timedelta(minutes=1)
        arrived = [r for r in pending if r.started_at <= moment]
        pending = pending[len(arrived):]
        with db.session() as session:
            if arrived:
                store_results(session, config, arrived)
            evaluate_components(session, config, now=moment)
    with db.session() as session:
        starts = set(session.scalars(sa.select(ProbeRollup.bucket_start).where(
            ProbeRollup.period == "day", ProbeRollup.probe == "purchase")))
        assert starts == {wib(day, 0)}  # the WIB midnight, 17.00 UTC the day before
        comp = page_data(session, config, wib(day + timedelta(days=1), 12)).component(
            "pembelian")
    assert comp is not None
    by_day = {d.day: d for d in comp.days}
    measured = by_day[day]
    assert measured.uptime is not None and measured.uptime < 1.0
    assert measured.level != "operational"
    assert by_day[day - timedelta(days=1)].uptime is None  # nothing measured the day before
    lost_s = measured.measured_s - measured.served_s
    # major from the third failure (02.02) to three clean runs (03.02), then partial while
    # the window clears: about an hour
    assert 55 * 60 <= lost_s <= 70 * 60, lost_s


def test_a_flooding_agent_cannot_move_the_bars(settings: Settings, db: Database) -> None:
    """21,000 failures from one of two locations: the majority says operational, and so do
    the bars (they used to sum raw results: 91.71%)."""
    config = settings.config
    now = utcnow()
    local = [result("purchase", "ok", at=now - timedelta(minutes=m)) for m in range(20)]
    flood = [result("purchase", "failed", at=now - timedelta(seconds=s / 20), location="medan")
             for s in range(21_000)]
    with db.session() as session:
        store_results(session, config, local + flood)
        assert evaluate_components(session, config, now=now) == []
        comp = page_data(session, config, now).component("pembelian")
    assert comp is not None and comp.status == "operational"
    assert comp.days[-1].uptime == 1.0


def test_agents_are_rate_limited(client: TestClient, settings: Settings, db: Database) -> None:
    with db.session() as session:
        token = create_agent_token(session, "medan")
    limit = agent_results_per_minute(settings.config)
    headers = {"Authorization": f"Bearer {token}"}
    batch: list[dict[str, Any]] = [result("purchase", "failed", location="medan").to_dict()
                                   for _ in range(100)]
    accepted = 0
    for _ in range(limit // 100 + 2):
        response = client.post("/api/v1/probe-results", json={"results": batch},
                               headers=headers)
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) >= 1
            assert "at most" in response.json()["error"]
            break
        assert response.status_code == 202
        accepted += 100
    else:
        pytest.fail("no 429")
    assert accepted <= limit < accepted + 100
    with db.session() as session:  # a refused batch wrote nothing
        stored = session.scalar(sa.select(sa.func.count()).select_from(ProbeRollup).where(
            ProbeRollup.location == "medan", ProbeRollup.period == "day"))
        assert stored == 1


def test_existing_utc_day_rollups_are_converted(db: Database) -> None:
    """A database from before: UTC days, hour rollups for the recent ones only."""
    recent = datetime(2026, 11, 30, tzinfo=UTC)

    def row(period: str, start: datetime, count: int) -> dict[str, Any]:
        return {"probe": "purchase", "component_id": "pembelian", "location": "local",
                "period": period, "bucket_start": start, "count": count, "ok": count,
                "degraded": 0, "failed": 0, "latency_sum_ms": 10.0 * count,
                "latency_max_ms": 10.0, "histogram": [count]}

    with db.session() as session:
        session.execute(sa.delete(PageMarker).where(PageMarker.key == DAY_ZONE_MARKER))
        rows = [row("day", recent - timedelta(days=d), 24) for d in range(0, 200)]
        rows += [row("hour", recent + timedelta(hours=h), 1) for h in range(24)]
        session.execute(sa.insert(ProbeRollup), rows)
    with db.session() as session:
        written = convert_day_rollups(session.connection(), "Asia/Jakarta")
        assert written == 201  # 199 moved whole, the covered one split over two WIB days
        days = {r.bucket_start: r.count for r in session.scalars(
            sa.select(ProbeRollup).where(ProbeRollup.period == "day"))}
        marker = session.get(PageMarker, DAY_ZONE_MARKER)
        assert marker is not None and marker.value == "Asia/Jakarta"
    # the covered UTC day 30 Nov (07.00 WIB 30 Nov to 07.00 WIB 1 Dec) splits by its hours
    assert days[wib(date(2026, 11, 30), 0)] == 17
    assert days[wib(date(2026, 12, 1), 0)] == 7
    # an older day moves whole to the WIB day holding most of its hours
    assert days[wib(date(2026, 6, 1), 0)] == 24
    assert all(start.astimezone(WIB).time() == time(0) for start in days)
    assert sum(days.values()) == 24 * 200  # nothing lost, nothing counted twice
    with db.session() as session:  # idempotent
        assert convert_day_rollups(session.connection(), "Asia/Jakarta") == 0
