"""Home page render time with 1 day vs 1 year of probe history (30-second intervals).

For each history length this builds a fresh SQLite status page database holding what a real
deployment would hold after that long (probes every 30 s for every configured probe; raw results
for the retention period, minute/hour rollups for theirs, day rollups for the whole history;
an outage with its status changes and a published, resolved incident every ten days), then
renders ``/`` through the real app (the page cache is cleared before every request, so each
request is a full render) and prints the median render time and the ratio.

    .venv/bin/python benchmarks/history_scaling.py [--renders 40] [--all-raw]

``--all-raw`` keeps every raw result for the whole year too (about 4 million rows) to show that
the page does not read raw results at all. Not a timed test: the figures are printed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

with warnings.catch_warnings():  # starlette suggests httpx2 for its TestClient; httpx is used
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from statuspage import histogram
from statuspage.app import create_app
from statuspage.config_parser import load_config
from statuspage.db import Database, prepare_database
from statuspage.models import (
    ComponentStatusChange,
    Incident,
    IncidentComponent,
    IncidentUpdate,
    ProbeResultRow,
    ProbeRollup,
)
from statuspage.settings import Settings
from statuspage.store.probe_results import bucket_start

STEP_S = 30
OUTAGE_EVERY = timedelta(days=10)
OUTAGE_LENGTH = timedelta(minutes=40)


@dataclass
class _Agg:
    component: str
    count: int = 0
    ok: int = 0
    failed: int = 0
    total: float = 0.0
    top: float = 0.0
    hist: list[int] | None = None


def build(settings: Settings, days: int, now: datetime, all_raw: bool, seed: int = 7
          ) -> dict[str, int]:
    """Write ``days`` of history ending at ``now``; return row counts."""
    rng = random.Random(seed)
    config = settings.config
    retention = config.retention
    start = now - timedelta(days=days)
    outages = []
    t = start + timedelta(days=3)
    while t < now:
        outages.append((t, t + OUTAGE_LENGTH))
        t += OUTAGE_EVERY
    keep_raw = start if all_raw else now - timedelta(days=retention.raw_days)
    limits = {"minute": now - timedelta(days=retention.minute_days),
              "hour": now - timedelta(days=retention.hour_days), "day": start}
    db = Database(settings.database_url)
    raw_count = 0
    rollups: dict[tuple[str, str, datetime], _Agg] = {}
    with db.session() as session:
        for probe in config.probes:
            mean = {"http": 40.0, "purchase": 250.0, "stamp": 900.0, "verify": 400.0}[probe.kind]
            raw: list[dict[str, Any]] = []
            at, outage = start, 0
            while at < now:
                while outage < len(outages) and outages[outage][1] <= at:
                    outage += 1
                down = outage < len(outages) and outages[outage][0] <= at
                failed = down or rng.random() < 0.003
                latency = probe.timeout_s * 1000 if failed else rng.lognormvariate(0, 0.35) * mean
                if at >= keep_raw:
                    raw.append({"probe": probe.name, "kind": probe.kind,
                                "component_id": probe.component, "location": "local",
                                "started_at": at, "outcome": "failed" if failed else "ok",
                                "error_class": "http_5xx" if failed else None, "message": None,
                                "total_ms": latency, "phases": {"total": latency}})
                    if len(raw) >= 20000:
                        session.execute(sa.insert(ProbeResultRow), raw)
                        raw_count += len(raw)
                        raw.clear()
                for period, limit in limits.items():
                    if at >= limit:
                        key = (probe.name, period, bucket_start(at, period))
                        agg = rollups.get(key)
                        if agg is None:
                            agg = rollups[key] = _Agg(probe.component, hist=histogram.empty())
                        agg.count += 1
                        agg.failed += failed
                        agg.ok += not failed
                        agg.total += latency
                        agg.top = max(agg.top, latency)
                        assert agg.hist is not None
                        agg.hist[histogram.bucket_index(latency)] += 1
                at += timedelta(seconds=STEP_S)
            if raw:
                session.execute(sa.insert(ProbeResultRow), raw)
                raw_count += len(raw)
        rows = [{"probe": probe, "component_id": a.component, "location": "local",
                 "period": period, "bucket_start": bucket, "count": a.count, "ok": a.ok,
                 "degraded": 0, "failed": a.failed, "latency_sum_ms": a.total,
                 "latency_max_ms": a.top, "histogram": a.hist}
                for (probe, period, bucket), a in rollups.items()]
        for i in range(0, len(rows), 20000):
            session.execute(sa.insert(ProbeRollup), rows[i:i + 20000])
        components = sorted({p.component for p in config.probes})
        changes = 0
        for number, (begin, end) in enumerate(outages):
            component = components[number % len(components)]
            for status, when in (("major_outage", begin), ("operational", end)):
                session.add(ComponentStatusChange(component_id=component, status=status,
                                                  source="measured", at=when, detail={}))
                changes += 1
            incident = Incident(kind="incident", name=f"Gangguan {number + 1}",
                                status="resolved", impact="critical", started_at=begin,
                                created_at=begin, resolved_at=end, created_by="benchmark")
            incident.components.append(IncidentComponent(component_id=component,
                                                          status="major_outage"))
            incident.updates.append(IncidentUpdate(status="investigating", body="Diselidiki.",
                                                   created_at=begin, display_at=begin))
            incident.updates.append(IncidentUpdate(status="resolved", body="Selesai.",
                                                   created_at=end, display_at=end))
            session.add(incident)
    db.dispose()
    by_period: dict[str, int] = defaultdict(int)
    for _probe, period, _bucket in rollups:
        by_period[period] += 1
    return {"raw": raw_count, **{f"{p}_rollups": n for p, n in by_period.items()},
            "incidents": len(outages), "status_changes": changes}


def measure(settings_by_days: dict[int, Settings], renders: int
            ) -> dict[int, tuple[float, float, int, int]]:
    """Per history length: median seconds of a full render of ``/`` (cache cleared first) and
    of the SQL inside it, the page size and the SQL statements one render runs.

    The databases are measured in alternation, render by render, so a burst of load on the
    machine slows every history length alike instead of skewing the ratio.
    """
    times: dict[int, list[float]] = defaultdict(list)
    sql: dict[int, list[float]] = defaultdict(list)
    sizes: dict[int, int] = {}
    statements: dict[int, int] = {}
    counted = [0]
    sql_s = [0.0, 0.0]  # total, start of the running statement

    def count(*_: Any) -> None:
        counted[0] += 1
        sql_s[1] = time.perf_counter()

    def done(*_: Any) -> None:
        sql_s[0] += time.perf_counter() - sql_s[1]

    with ExitStack() as stack:
        clients = {}
        for days, settings in settings_by_days.items():
            app = create_app(settings)
            clients[days] = (app, stack.enter_context(TestClient(app, base_url="http://bench")))
            sa.event.listen(app.state.services.db.engine, "before_cursor_execute", count)
            sa.event.listen(app.state.services.db.engine, "after_cursor_execute", done)
        for i in range(renders + 5):
            for days, (app, client) in clients.items():
                app.state.services.cache.clear()
                counted[0], sql_s[0] = 0, 0.0
                began = time.perf_counter()
                response = client.get("/", headers={"Accept-Language": "id"})
                elapsed = time.perf_counter() - began
                if response.status_code != 200:
                    raise SystemExit(f"GET / answered {response.status_code}")
                sizes[days], statements[days] = len(response.content), counted[0]
                if i >= 5:  # warm-up: template compilation, connection pool
                    times[days].append(elapsed)
                    sql[days].append(sql_s[0])
    return {days: (statistics.median(times[days]), statistics.median(sql[days]), sizes[days],
                   statements[days]) for days in settings_by_days}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=40)
    parser.add_argument("--all-raw", action="store_true",
                        help="keep every raw result of the year (slow to build)")
    args = parser.parse_args(argv)
    now = datetime.now(UTC)
    config = load_config(None)
    medians: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings_by_days: dict[int, Settings] = {}
        for days in (1, 90, 365):
            data = Path(tmp) / f"days{days}"
            settings = Settings(data_dir=data, database_url=f"sqlite:///{data / 'bench.sqlite3'}",
                                secret_key="benchmark-secret", config=config)
            prepare_database(settings)
            began = time.perf_counter()
            counts = build(settings, days, now, args.all_raw)
            db_mb = (data / "bench.sqlite3").stat().st_size / 1e6
            print(f"{days:>3} day(s) of history: {counts}; database {db_mb:.1f} MB "
                  f"(built in {time.perf_counter() - began:.1f} s)")
            settings_by_days[days] = settings
        results = measure(settings_by_days, args.renders)
    for days, (median, sql_median, size, statements) in results.items():
        medians[days] = median
        print(f"{days:>3} day(s): GET / full render median {median * 1000:.1f} ms over "
              f"{args.renders} renders (SQL {sql_median * 1000:.1f} ms in {statements} "
              f"statements), {size} bytes of HTML")
    print(f"ratio 1 year / 1 day:   {medians[365] / medians[1]:.2f} (goal ~1.0)")
    # the page shows 90 days of uptime: past 90 days only the stored history grows
    print(f"ratio 1 year / 90 days: {medians[365] / medians[90]:.2f} "
          "(same page content, 4x the history)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
