"""Day rollups in the page's time zone: which zone they are in, and converting them.

Day rollups used to start at UTC midnight (07.00 WIB), so an outage at 02.00 WIB on
2 December counted under 1 December, against a deadline at 23.59 WIB. Days now start at
midnight in the page's time zone. A page marker records the zone the stored day rollups use;
when it differs from the configured zone (an existing database, or a changed ``time_zone``)
``convert_day_rollups`` rebuilds them:

- days still covered by hour rollups (``[retention] hour_days``, 120 by default) are rebuilt
  exactly from those hours;
- older days cannot be split by hour any more: each moves whole to the local day holding most
  of its hours (a UTC day is 17 of 24 hours the same date in WIB), and the marker notes it.

It works on plain Core tables so the Alembic revision ``0006_local_days`` can run it too.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from statuspage import histogram

__all__ = ["DAY_ZONE_MARKER", "convert_day_rollups", "day_zone"]

log = logging.getLogger(__name__)

#: Page marker key: the time zone the stored day rollups start their days in.
DAY_ZONE_MARKER = "rollup_day_zone"

_meta = sa.MetaData()
_rollups = sa.Table(
    "probe_rollups", _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("probe", sa.String), sa.Column("component_id", sa.String),
    sa.Column("location", sa.String), sa.Column("period", sa.String),
    sa.Column("bucket_start", sa.DateTime), sa.Column("count", sa.Integer),
    sa.Column("ok", sa.Integer), sa.Column("degraded", sa.Integer),
    sa.Column("failed", sa.Integer), sa.Column("latency_sum_ms", sa.Float),
    sa.Column("latency_max_ms", sa.Float), sa.Column("histogram", sa.JSON),
)
_markers = sa.Table(
    "page_markers", _meta,
    sa.Column("key", sa.String, primary_key=True), sa.Column("value", sa.Text),
    sa.Column("created_at", sa.DateTime),
)
_SUMS = ("count", "ok", "degraded", "failed", "latency_sum_ms")


def day_zone(conn: Connection) -> str:
    """The zone the stored day rollups use (UTC for databases from before the marker)."""
    value = conn.execute(sa.select(_markers.c.value)
                         .where(_markers.c.key == DAY_ZONE_MARKER)).scalar()
    return str(value) if value else "UTC"


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _local_midnight(moment_utc: datetime, zone: ZoneInfo) -> datetime:
    """The naive-UTC start of the local day holding ``moment_utc`` (naive UTC)."""
    local = moment_utc.replace(tzinfo=UTC).astimezone(zone)
    return _naive_utc(local.replace(hour=0, minute=0, second=0, microsecond=0))


def convert_day_rollups(conn: Connection, time_zone: str) -> int:
    """Rebuild day rollups for days starting at midnight in ``time_zone``; returns the number
    of day rows written (0 when they already use it). Runs in the caller's transaction."""
    current = day_zone(conn)
    if current == time_zone:
        return 0
    zone = ZoneInfo(time_zone)
    days: dict[tuple[str, str, datetime], dict[str, Any]] = {}

    def add(row: Any, start: datetime) -> None:
        key = (row.probe, row.location, start)
        acc = days.get(key)
        if acc is None:
            days[key] = acc = {"probe": row.probe, "location": row.location,
                               "component_id": row.component_id, "period": "day",
                               "bucket_start": start, "latency_max_ms": 0.0, "hists": [],
                               **dict.fromkeys(_SUMS, 0)}
        for name in _SUMS:
            acc[name] += getattr(row, name) or 0
        acc["latency_max_ms"] = max(acc["latency_max_ms"], row.latency_max_ms or 0.0)
        acc["hists"].append(row.histogram or histogram.empty())

    hours = conn.execute(sa.select(_rollups).where(_rollups.c.period == "hour")).all()
    first_hour: dict[tuple[str, str], datetime] = {}
    for row in hours:
        key = (row.probe, row.location)
        first_hour[key] = min(first_hour.get(key, row.bucket_start), row.bucket_start)
        add(row, _local_midnight(row.bucket_start, zone))
    moved = 0
    for row in conn.execute(sa.select(_rollups).where(_rollups.c.period == "day")).all():
        covered_from = first_hour.get((row.probe, row.location))
        # a day the hour rollups reach was rebuilt from them above (for the one day where
        # the hours begin, its hours before that were already pruned and are not recounted)
        if covered_from is not None and covered_from < row.bucket_start + timedelta(days=1):
            continue
        # older: move it whole to the local day holding its middle (most of its hours)
        add(row, _local_midnight(row.bucket_start + timedelta(hours=12), zone))
        moved += 1
    conn.execute(sa.delete(_rollups).where(_rollups.c.period == "day"))
    rows = []
    for acc in days.values():
        acc["histogram"] = histogram.merge(acc.pop("hists"))
        rows.append(acc)
    if rows:
        conn.execute(sa.insert(_rollups), rows)
    conn.execute(sa.delete(_markers).where(_markers.c.key == DAY_ZONE_MARKER))
    conn.execute(sa.insert(_markers).values(key=DAY_ZONE_MARKER, value=time_zone,
                                            created_at=_naive_utc(datetime.now(UTC))))
    log.log(logging.WARNING if rows else logging.INFO,
            "day rollups converted from %s to %s days: %d day rows (%d older days moved "
                "whole)", current, time_zone, len(rows), moved)
    return len(rows)
