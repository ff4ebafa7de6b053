"""Sample history for a new user's first look (``statuspage serve --demo``).

On a fresh database (no incidents, no rollups) it writes 90 days of day rollups, a week of hour
rollups and the last hour of minute rollups for every configured probe (location ``demo``), two
past resolved incidents with full timelines (one modelled on the September 2024 CASN e-meterai
outage), and one upcoming maintenance. A ``page_markers`` row makes every page show a "Data
contoh / Sample data" banner; incident names carry "(contoh)" so feed and API readers see it too.
The numbers come from a seeded generator, so every demo looks the same.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.db import Database, bump_changes
from statuspage.models import (
    LATENCY_BUCKETS_MS,
    Component,
    ComponentStatusChange,
    Incident,
    IncidentComponent,
    IncidentUpdate,
    PageMarker,
    ProbeRollup,
    new_id,
    utcnow,
)
from statuspage.models.public import SAMPLE_DATA_MARKER
from statuspage.settings import Settings

__all__ = ["DEMO_LOCATION", "seed_demo"]

log = logging.getLogger(__name__)
DEMO_LOCATION = "demo"
_BASE_LATENCY_MS = {"http": 90.0, "purchase": 850.0, "stamp": 1700.0, "verify": 420.0}


@dataclass(frozen=True)
class _Probe:
    name: str
    kind: str
    component: str
    interval_s: float


def _probes(settings: Settings, components: list[str]) -> list[_Probe]:
    probes = [_Probe(p.name, p.kind, p.component, p.interval_s)
              for p in settings.config.probes if p.component in components]
    covered = {p.component for p in probes}
    # components without a probe still get a bar, from a pretend availability check
    probes += [_Probe(f"demo-{cid}", "http", cid, 60.0) for cid in components
               if cid not in covered]
    return probes


def _histogram(count: int, latency: float) -> list[int]:
    """Counts per latency bucket: most near ``latency``, a tail in the next two buckets."""
    buckets = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    index = next((i for i, bound in enumerate(LATENCY_BUCKETS_MS) if latency <= bound),
                 len(LATENCY_BUCKETS_MS))
    main = int(count * 0.8)
    tail = int(count * 0.15)
    buckets[index] += main
    buckets[min(index + 1, len(buckets) - 1)] += tail
    buckets[min(index + 2, len(buckets) - 1)] += count - main - tail
    return buckets


def _rollup(probe: _Probe, period: str, start: datetime, count: int, fail_rate: float,
            slow_rate: float, latency: float) -> dict[str, Any]:
    failed = round(count * fail_rate)
    degraded = min(count - failed, round(count * slow_rate))
    return {"probe": probe.name, "component_id": probe.component, "location": DEMO_LOCATION,
            "period": period, "bucket_start": start, "count": count, "ok": count - failed -
            degraded, "degraded": degraded, "failed": failed,
            "latency_sum_ms": latency * count, "latency_max_ms": latency * 3.2,
            "histogram": _histogram(count, latency)}


def _day_shape(rng: random.Random, offset: int, outage_days: dict[int, float],
               degraded_days: set[int]) -> tuple[float, float, float]:
    """(failure rate, slow rate, latency factor) of the day ``offset`` days ago."""
    if offset in outage_days:
        return outage_days[offset], 0.2, 3.0
    if offset in degraded_days:
        return 0.01, 0.12, 1.8
    return rng.choice((0.0, 0.0, 0.0, 0.0005, 0.001)), 0.002, rng.uniform(0.9, 1.15)


def _local_midnight(now: datetime, zone: ZoneInfo, days_back: int = 0) -> datetime:
    """The UTC instant of local midnight ``days_back`` days before today (day rollups start
    at the page's midnight)."""
    day = now.astimezone(zone).date() - timedelta(days=days_back)
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def _status_changes(outages: dict[str, dict[int, float]], now: datetime,
                    zone: ZoneInfo) -> list[ComponentStatusChange]:
    """Measured outage episodes matching the sample failure rates: the uptime bars follow the
    evaluated status, so the sample history carries it too."""
    changes = []
    for cid, days in outages.items():
        for offset, rate in days.items():
            begin = _local_midnight(now, zone, offset) + timedelta(hours=9, minutes=12)
            status = "major_outage" if rate >= 0.25 else "partial_outage"
            hours = 24 * rate if status == "major_outage" else min(14.0, 24 * rate / 0.3)
            changes += [
                ComponentStatusChange(component_id=cid, status=status, source="measured",
                                      at=begin, detail={"sample": True}),
                ComponentStatusChange(component_id=cid, status="operational", source="measured",
                                      at=begin + timedelta(hours=hours), detail={"sample": True}),
            ]
    return changes


def _rollups(probes: list[_Probe], now: datetime, incident_offsets: dict[str, dict[int, float]],
             rng: random.Random, zone: ZoneInfo) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    today = _local_midnight(now, zone)
    degraded_days = {rng.randrange(5, 85) for _ in range(3)}
    for probe in probes:
        base = _BASE_LATENCY_MS.get(probe.kind, 200.0)
        per_hour = max(1, round(3600 / probe.interval_s))
        outages = incident_offsets.get(probe.component, {})
        for offset in range(89, -1, -1):
            fail, slow, factor = _day_shape(rng, offset, outages, degraded_days)
            start = today - timedelta(days=offset)
            hours = 24 if offset else max(1, int((now - today).total_seconds() // 3600))
            rows.append(_rollup(probe, "day", start, per_hour * hours, fail, slow,
                                base * factor))
        for back in range(7 * 24, -1, -1):
            start = (now - timedelta(hours=back)).replace(minute=0, second=0, microsecond=0)
            local_hour = (start.hour + 7) % 24  # busier in the Jakarta daytime
            busy = 1.35 if 9 <= local_hour <= 16 else 1.0
            rows.append(_rollup(probe, "hour", start, per_hour, 0.0, 0.002,
                                base * busy * rng.uniform(0.85, 1.2)))
        per_minute = max(1, round(60 / probe.interval_s))
        for back in range(60, 0, -1):
            start = (now - timedelta(minutes=back)).replace(second=0, microsecond=0)
            rows.append(_rollup(probe, "minute", start, per_minute, 0.0, 0.0,
                                base * rng.uniform(0.85, 1.2)))
    return rows


def _at(day: datetime, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    """A time on ``day`` (a UTC midnight) given in the page's local time."""
    local = datetime.combine(day.astimezone(zone).date(), time(hour, minute), zone)
    return local.astimezone(UTC)


def _incident(session: Session, *, name: str, impact: str, kind: str,
              components: dict[str, str], timeline: list[tuple[str, datetime, str]],
              names: dict[str, str], **fields: Any) -> None:
    last_status, last_at, _body = timeline[-1]
    incident = Incident(id=new_id(), kind=kind, name=name, status=last_status, impact=impact,
                        is_draft=False, created_at=timeline[0][1], updated_at=last_at,
                        started_at=fields.pop("started_at", timeline[0][1]),
                        created_by="demo", **fields)
    incident.components = [IncidentComponent(component_id=cid, status=status)
                           for cid, status in components.items()]
    previous = {cid: "operational" for cid in components}
    for i, (status, at, body) in enumerate(timeline):
        final = status in ("resolved", "completed")
        affected = [{"code": cid, "name": names[cid], "old_status": previous[cid],
                     "new_status": "operational" if final else st}
                    for cid, st in components.items() if i == 0 or final]
        for item in affected:
            previous[item["code"]] = item["new_status"]
        incident.updates.append(IncidentUpdate(
            id=new_id(), status=status, body=body, created_at=at, display_at=at,
            updated_at=at, affected_components=affected, notify=False, author="demo"))
    session.add(incident)


def _incidents(session: Session, now: datetime, zone: ZoneInfo, names: dict[str, str],
               casn: dict[str, str], slow: str, maintained: str) -> None:
    day = _local_midnight(now, zone)
    start = day - timedelta(days=40)
    t = [_at(start, 9, 12, zone), _at(start, 10, 5, zone), _at(start, 21, 40, zone),
         _at(start + timedelta(days=1), 16, 30, zone)]
    _incident(session, name="Pembelian e-meterai gagal (contoh)", impact="critical",
              kind="incident", components=casn, names=names, monitoring_at=t[2],
              resolved_at=t[3], timeline=[
        ("investigating", t[0], "Banyak pengguna melaporkan pembelian e-meterai gagal: halaman "
         "tidak termuat atau muncul pesan *koneksi ditolak*. Kami sedang menyelidiki.\n\n"
         "_Ini data contoh._"),
        ("identified", t[1], "Penyebab ditemukan: lonjakan pembelian menjelang batas "
         "pendaftaran CASN membuat layanan akun internal menolak koneksi. Kami menambah "
         "kapasitas dan menerapkan antrean pembelian."),
        ("monitoring", t[2], "Pembelian dibuka kembali secara bertahap. Pesanan yang sudah "
         "dibayar diselesaikan lebih dulu dan kuotanya dikreditkan. Kami terus memantau."),
        ("resolved", t[3], "Pembelian dan pembubuhan kembali normal. Semua pesanan yang sudah "
         "dibayar telah dikreditkan. Mohon maaf atas gangguan ini."),
    ])
    start = day - timedelta(days=15)
    t = [_at(start, 14, 2, zone), _at(start, 14, 40, zone), _at(start, 16, 5, zone)]
    _incident(session, name="Verifikasi dokumen lambat (contoh)", impact="minor",
              kind="incident", components={slow: "degraded_performance"}, names=names,
              monitoring_at=t[1], resolved_at=t[2], timeline=[
        ("investigating", t[0], "Pemeriksaan dokumen bermeterai memakan waktu lebih dari 10 "
         "detik. Kami sedang menyelidiki.\n\n_Ini data contoh._"),
        ("monitoring", t[1], "Indeks basis data verifikasi telah dibangun ulang; waktu "
         "respons membaik. Kami memantau."),
        ("resolved", t[2], "Verifikasi kembali normal."),
    ])
    begin = _at(day + timedelta(days=3), 1, 0, zone)
    _incident(session, name="Pemeliharaan basis data terjadwal (contoh)", impact="none",
              kind="maintenance", components={maintained: "under_maintenance"}, names=names,
              scheduled_for=begin, scheduled_until=begin + timedelta(hours=2),
              started_at=begin, timeline=[
        ("scheduled", now - timedelta(days=1), "Pembubuhan e-meterai tidak tersedia selama "
         "pemeliharaan basis data pukul 01.00–03.00 WIB. Pembelian tetap berjalan.\n\n"
         "_Ini data contoh._"),
    ])


def seed_demo(settings: Settings, now: datetime | None = None) -> bool:
    """Fill a fresh database with labelled sample history; False when it has data already."""
    now = now or utcnow()
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            if (session.scalar(sa.select(Incident.id).limit(1)) is not None
                    or session.scalar(sa.select(ProbeRollup.id).limit(1)) is not None
                    or session.get(PageMarker, SAMPLE_DATA_MARKER) is not None):
                return False
            rows = session.execute(sa.select(Component.id, Component.name)
                                   .where(Component.active.is_(True))
                                   .order_by(Component.position)).all()
            if not rows:
                return False
            names = dict(rows)
            ids = list(names)
            pick = {want: want if want in names else ids[min(i, len(ids) - 1)]
                    for i, want in enumerate(("pembelian", "pembubuhan", "verifikasi"))}
            casn = {pick["pembelian"]: "major_outage"}
            casn.setdefault(pick["pembubuhan"], "partial_outage")
            rng = random.Random(2024)  # noqa: S311 - sample data, not security
            outage = {cid: {40: 0.55 if status == "major_outage" else 0.2, 39: 0.12}
                      for cid, status in casn.items()}
            outage.setdefault(pick["verifikasi"], {})[15] = 0.03
            zone = ZoneInfo(settings.config.page.time_zone)
            rows_data = _rollups(_probes(settings, ids), now, outage, rng, zone)
            session.execute(sa.insert(ProbeRollup), rows_data)
            session.add_all(_status_changes(outage, now, zone))
            _incidents(session, now, zone, names, casn, pick["verifikasi"], pick["pembubuhan"])
            session.add(PageMarker(key=SAMPLE_DATA_MARKER, value="statuspage serve --demo"))
            session.flush()
            # the September 2024 window of /deadlines/casn-2024, labelled a reconstruction
            from statuspage.demo_casn import seed_casn_reconstruction

            seed_casn_reconstruction(session, settings.config)
            bump_changes(session)
    finally:
        db.dispose()
    log.info("sample history written for %d component(s)", len(ids))
    return True
