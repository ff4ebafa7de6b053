"""Probe agents' tokens and the worker's small persistent marks.

Tokens are stored as SHA-256 digests: they are long random strings (not passwords), so a fast
hash is enough and lets a pushed request be authenticated with one indexed lookup.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from statuspage.models.base import Base, BigId, utcnow
from statuspage.models.probes import ProbeRollup

__all__ = ["AgentToken", "PROBE_ROLLUP_PERIOD_INDEX", "ProbeMark"]

#: Reads of rollups select one period over a recent time range ("day rows of the last 90 days",
#: "hour rows of the last 24 hours", "minute rows of the last 5 minutes"). Without this index
#: those reads scan every rollup row, so their cost grew with history length (measured by
#: benchmarks/history_scaling.py); with it they read only the rows in range. Declared here, with
#: migration 0002_probes, so the model metadata matches the schema.
PROBE_ROLLUP_PERIOD_INDEX = sa.Index("ix_probe_rollups_period_bucket",
                                     ProbeRollup.__table__.c.period,
                                     ProbeRollup.__table__.c.bucket_start)


class AgentToken(Base):
    """A bearer token that lets a remote probe agent push results for one location."""

    __tablename__ = "agent_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    location: Mapped[str] = mapped_column(sa.String(64), index=True)
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ProbeMark(Base):
    """A named integer the worker keeps between runs and across processes.

    ``rollups_flushed_id``: the newest probe result id already announced to the page cache, so
    that the rollup flush bumps the change counter once per flush and only when there is news.
    """

    __tablename__ = "probe_marks"
    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
