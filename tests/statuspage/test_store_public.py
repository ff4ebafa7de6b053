"""Read verbs of the public side: shown status, drafts, uptime days, latency, history, bounds."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from statuspage.config import UptimeConfig
from statuspage.db import Database, bump_changes
from statuspage.models import (
    LATENCY_BUCKETS_MS,
    ComponentStatusChange,
    Incident,
    IncidentComponent,
    IncidentUpdate,
    ProbeRollup,
    new_id,
)
from statuspage.settings import Settings
from statuspage.store.components import set_measured_status
from statuspage.store.public import (
    DAYS,
    ComponentView,
    DayUptime,
    PageData,
    day_level,
    group_id,
    history_page,
    incident_detail,
    page_data,
    recent_incidents,
)

NOW = datetime(2024, 9, 6, 12, 30, tzinfo=UTC)
WIB = ZoneInfo("Asia/Jakarta")


def add_incident(db: Database, name: str = "Pembelian gagal", *, kind: str = "incident",
                 status: str = "investigating", impact: str = "major",
                 components: dict[str, str] | None = None, draft: bool = False,
                 started_at: datetime = NOW - timedelta(hours=2),
                 resolved_at: datetime | None = None, updates: Sequence[tuple[str, str]] = (),
                 **fields: Any) -> str:
    """Insert an incident with updates (oldest first) and bump the change counter."""
    incident_id = new_id()
    with db.session() as session:
        incident = Incident(id=incident_id, kind=kind, name=name, status=status, impact=impact,
                            is_draft=draft, started_at=started_at, created_at=started_at,
                            updated_at=started_at, resolved_at=resolved_at, **fields)
        incident.components = [IncidentComponent(component_id=c, status=s)
                               for c, s in (components or {}).items()]
        for i, (ustatus, body) in enumerate(updates or [(status, "Kami sedang menyelidiki.")]):
            at = started_at + timedelta(minutes=10 * i)
            incident.updates.append(IncidentUpdate(id=new_id(), status=ustatus, body=body,
                                                   created_at=at, display_at=at, updated_at=at))
        session.add(incident)
        bump_changes(session)
    return incident_id


def add_rollup(db: Database, component: str, period: str, start: datetime, count: int,
               ok: int, degraded: int = 0, latency_ms: float = 100.0,
               probe: str = "p1", location: str = "local") -> None:
    """Insert one rollup row."""
    with db.session() as session:
        session.add(ProbeRollup(
            probe=probe, component_id=component, location=location, period=period,
            bucket_start=start, count=count, ok=ok, degraded=degraded,
            failed=count - ok - degraded, latency_sum_ms=latency_ms * count,
            latency_max_ms=latency_ms, histogram=[0] * (len(LATENCY_BUCKETS_MS) + 1)))
        bump_changes(session)


def shown(data: PageData, component_id: str) -> ComponentView:
    """The component as the page shows it (every id asked for here is in the config)."""
    component = data.component(component_id)
    assert component is not None, component_id
    return component


@contextmanager
def read(db: Database) -> Iterator[sa.orm.Session]:
    with db.session() as session:
        yield session


def check_declared_status_of_open_incident_wins(db: Database, settings: Settings) -> None:
    add_incident(db, components={"pembelian": "major_outage"}, impact="critical")
    with read(db) as s:
        data = page_data(s, settings.config, NOW)
    assert shown(data, "pembelian").status == "major_outage"
    assert shown(data, "situs").status == "operational"
    assert (data.indicator, data.description) == ("critical", "Major Service Outage")
    assert [i.name for i in data.active_incidents] == ["Pembelian gagal"]


def test_measured_status_and_resolved_incident(db: Database, settings: Settings) -> None:
    with db.session() as s:
        set_measured_status(s, "situs", "degraded_performance")
    add_incident(db, status="resolved", resolved_at=NOW - timedelta(hours=1),
                 components={"pembelian": "major_outage"})
    with read(db) as s:
        data = page_data(s, settings.config, NOW)
    assert shown(data, "pembelian").status == "operational"
    assert shown(data, "situs").status == "degraded_performance"
    assert data.indicator == "minor" and data.active_incidents == ()


def test_drafts_are_never_public(db: Database, settings: Settings) -> None:
    draft = add_incident(db, "Draf rahasia", draft=True,
                         components={"pembelian": "major_outage"})
    with read(db) as s:
        data = page_data(s, settings.config, NOW)
        assert incident_detail(s, draft) is None
        assert recent_incidents(s, kind=None) == ()
        history = history_page(s, settings.config, 1)
        assert history is not None and history.months == ()
    assert shown(data, "pembelian").status == "operational"
    assert data.active_incidents == () and data.indicator == "none"


def test_maintenance_in_progress_and_upcoming(db: Database, settings: Settings) -> None:
    with db.session() as s:
        set_measured_status(s, "pembubuhan", "major_outage")
    add_incident(db, "Pemeliharaan", kind="maintenance", status="in_progress", impact="none",
                 components={"pembubuhan": "under_maintenance"},
                 scheduled_for=NOW - timedelta(minutes=30), scheduled_until=NOW + timedelta(1))
    add_incident(db, "Nanti", kind="maintenance", status="scheduled", impact="none",
                 scheduled_for=NOW + timedelta(days=2),
                 scheduled_until=NOW + timedelta(days=2, hours=2))
    with read(db) as s:
        data = page_data(s, settings.config, NOW)
    assert shown(data, "pembubuhan").status == "under_maintenance"
    assert [m.name for m in data.active_maintenances] == ["Pemeliharaan"]
    assert [m.name for m in data.upcoming_maintenances] == ["Nanti"]
    assert data.indicator == "maintenance"


def check_groups_follow_the_config(db: Database, settings: Settings) -> None:
    with read(db) as s:
        data = page_data(s, settings.config, NOW, history=False)
    assert [g.name for g in data.groups] == ["Layanan e-Meterai"]
    assert data.groups[0].id == group_id("Layanan e-Meterai") == group_id("Layanan e-Meterai")
    assert [c.id for c in data.groups[0].components] == ["pembelian", "pembubuhan"]
    assert [getattr(s, "id", None) for s in data.sections][1] == "situs"


def add_measured(db: Database, component: str, steps: Sequence[tuple[datetime, str]]) -> None:
    """Measured status changes, as the evaluation records them."""
    with db.session() as session:
        for at, status in steps:
            session.add(ComponentStatusChange(component_id=component, status=status,
                                              source="measured", at=at))
        bump_changes(session)


def test_uptime_days_no_data_is_not_100(db: Database, settings: Settings) -> None:
    """Days in WIB; uptime from the evaluated status (partial outage weighs 0.3)."""
    local_midnight = datetime(2024, 9, 6, tzinfo=WIB)  # NOW is 19.30 WIB on 6 September
    yesterday_start = local_midnight - timedelta(days=1)
    add_rollup(db, "pembelian", "hour", yesterday_start, 100, 90, 5)  # measurements begin
    add_rollup(db, "pembelian", "day", yesterday_start, 100, 90, 5)
    add_rollup(db, "pembelian", "day", yesterday_start, 100, 100, probe="p2")
    add_rollup(db, "pembelian", "day", local_midnight - timedelta(days=200), 100, 0)  # too old
    # four hours of partial outage on 5 September, 10.00-14.00 WIB: 1.2 h lost of 24
    add_measured(db, "pembelian", [(yesterday_start + timedelta(hours=10), "partial_outage"),
                                   (yesterday_start + timedelta(hours=14), "operational")])
    add_incident(db, components={"pembelian": "partial_outage"}, status="resolved",
                 started_at=local_midnight - timedelta(days=3, hours=-1),
                 resolved_at=local_midnight - timedelta(days=2, hours=-2))
    lenient = replace(settings.config, uptime=UptimeConfig(0.9, 0.8, 0.5))
    with read(db) as s:
        comp = shown(page_data(s, settings.config, NOW), "pembelian")
        lenient_comp = shown(page_data(s, lenient, NOW), "pembelian")
    assert lenient_comp.days[-2].level == "operational"  # the config's [uptime] colours it
    assert len(comp.days) == DAYS
    assert comp.days[-1].day == date(2024, 9, 6) and comp.days[-1].uptime is None
    yesterday = comp.days[-2]
    assert yesterday.day == date(2024, 9, 5)
    assert yesterday.uptime == pytest.approx(1 - 1.2 / 24)
    assert yesterday.level == "degraded_performance"
    assert comp.uptime == pytest.approx(1 - 1.2 / 24)
    assert [len(d.incidents) for d in comp.days[-4:]] == [1, 1, 0, 0]
    assert comp.days[-4].level == "partial_outage"  # impact "major", no probe data that day
    assert comp.days[0].level == "no_data"


@pytest.mark.parametrize(("uptime", "impacts", "level"), [
    (None, (), "no_data"), (1.0, (), "operational"), (0.996, (), "operational"),
    (0.97, (), "degraded_performance"), (0.9, (), "partial_outage"),
    (0.5, (), "major_outage"), (1.0, ("critical",), "major_outage"),
    (None, ("minor",), "degraded_performance"), (1.0, ("none",), "operational"),
])
def test_day_level(uptime: float | None, impacts: tuple[str, ...], level: str) -> None:
    assert day_level(uptime, impacts) == level


def test_day_level_follows_the_configured_thresholds() -> None:
    strict = UptimeConfig(operational=0.9999, degraded_performance=0.999, partial_outage=0.99)
    assert day_level(0.98, (), strict) == "major_outage"
    assert day_level(0.9995, (), strict) == "degraded_performance"
    day = DayUptime(date(2024, 9, 5), 1000.0, 998.0, thresholds=strict)
    assert (day.level, replace(day, thresholds=UptimeConfig()).level) == (
        "partial_outage", "operational")


def test_latency_sparkline_hours(db: Database, settings: Settings) -> None:
    hour = NOW.replace(minute=0)
    add_rollup(db, "situs", "hour", hour, 10, 10, latency_ms=200)
    add_rollup(db, "situs", "hour", hour, 30, 30, latency_ms=100, probe="p2")
    add_rollup(db, "situs", "hour", hour - timedelta(hours=3), 10, 10, latency_ms=50)
    add_rollup(db, "situs", "hour", hour - timedelta(hours=30), 10, 10, latency_ms=999)
    with read(db) as s:
        comp = shown(page_data(s, settings.config, NOW), "situs")
    assert len(comp.latency_ms) == 24
    assert comp.latency_ms[-1] == pytest.approx(125.0)
    assert comp.latency_ms[-4] == pytest.approx(50.0)
    assert sum(v is not None for v in comp.latency_ms) == 2


def test_history_pages_by_month(db: Database, settings: Settings) -> None:
    for i in range(25):
        add_incident(db, f"Insiden {i}", status="resolved",
                     started_at=NOW - timedelta(days=9 * i),
                     resolved_at=NOW - timedelta(days=9 * i) + timedelta(hours=1))
    with read(db) as s:
        first = history_page(s, settings.config, 1)
        second = history_page(s, settings.config, 2)
        assert history_page(s, settings.config, 3) is None
    assert first is not None and second is not None
    assert (first.pages, second.page) == (2, 2)
    names = [i.name for _m, items in first.months for i in items]
    assert names[0] == "Insiden 0" and len(names) == 20
    assert sum(len(items) for _m, items in second.months) == 5
    months = [m for m, _items in first.months]
    assert months == sorted(months, reverse=True)


def test_reads_are_bounded(db: Database, settings: Settings) -> None:
    """A year of day rollups costs the same number of fetched rows as 90 days."""
    start = datetime(2024, 9, 6, tzinfo=UTC)
    with db.session() as s:
        s.execute(sa.insert(ProbeRollup), [
            {"probe": f"p{p}", "component_id": "situs", "location": "local", "period": "day",
             "bucket_start": start - timedelta(days=d), "count": 10, "ok": 10, "degraded": 0,
             "failed": 0, "latency_sum_ms": 1.0, "latency_max_ms": 1.0, "histogram": []}
            for d in range(365) for p in range(3)])
    fetched: list[int] = []

    def count_rows(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "probe_rollups" in statement:
            fetched.append(cursor.rowcount)

    sa.event.listen(db.engine, "after_cursor_execute", count_rows)
    try:
        with read(db) as s:
            comp = shown(page_data(s, settings.config, NOW), "situs")
    finally:
        sa.event.remove(db.engine, "after_cursor_execute", count_rows)
    # one aggregate for which days were measured, one for when measurements began, one for
    # the hours of the latency line
    assert len(fetched) == 3
    assert comp.days[0].measured_s == 24 * 3600 and len(comp.days) == DAYS


def test_open_incident_and_groups(db: Database, settings: Settings) -> None:
    """One database set-up for several checks (each runs on both backends)."""
    check_declared_status_of_open_incident_wins(db, settings)
    check_groups_follow_the_config(db, settings)
