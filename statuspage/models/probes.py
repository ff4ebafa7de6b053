"""Probe measurements: raw results (kept for a while) and per-minute/hour/day rollups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from statuspage.models.base import Base, BigId

__all__ = ["ProbeResultRow", "ProbeRollup", "LATENCY_BUCKETS_MS", "ROLLUP_PERIODS"]

#: Upper bounds (ms) of the latency histogram kept in each rollup; the last bucket is open.
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    5, 10, 25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10000, 20000,
    30000, 60000,
)
ROLLUP_PERIODS: tuple[str, ...] = ("minute", "hour", "day")


class ProbeResultRow(Base):
    """One probe run as reported, from this process's scheduler or a remote agent."""

    __tablename__ = "probe_results"
    __table_args__ = (sa.Index("ix_probe_results_probe_started", "probe", "started_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    probe: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(16))
    component_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    location: Mapped[str] = mapped_column(sa.String(64), default="local")
    started_at: Mapped[datetime] = mapped_column(index=True)
    outcome: Mapped[str] = mapped_column(sa.String(16))
    error_class: Mapped[str | None] = mapped_column(sa.String(64))
    message: Mapped[str | None] = mapped_column(sa.Text)
    total_ms: Mapped[float] = mapped_column(sa.Float)
    phases: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: Where an imported measurement came from (``statuspage evidence import --source``);
    #: None for this page's own probes and agents.
    source: Mapped[str | None] = mapped_column(sa.String(64))


class ProbeRollup(Base):
    """Counts and a latency histogram for one probe, location and time bucket.

    Pages read rollups, never raw results, so their cost does not grow with history length.
    """

    __tablename__ = "probe_rollups"
    __table_args__ = (
        sa.UniqueConstraint("probe", "location", "period", "bucket_start",
                            name="uq_probe_rollups_bucket"),
        sa.Index("ix_probe_rollups_component_period", "component_id", "period", "bucket_start"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    probe: Mapped[str] = mapped_column(sa.String(100))
    component_id: Mapped[str] = mapped_column(sa.String(64))
    location: Mapped[str] = mapped_column(sa.String(64), default="local")
    period: Mapped[str] = mapped_column(sa.String(8))
    bucket_start: Mapped[datetime]
    count: Mapped[int] = mapped_column(default=0)
    ok: Mapped[int] = mapped_column(default=0)
    degraded: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    latency_sum_ms: Mapped[float] = mapped_column(sa.Float, default=0.0)
    latency_max_ms: Mapped[float] = mapped_column(sa.Float, default=0.0)
    histogram: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
