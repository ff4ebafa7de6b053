"""The last successful and the last failed probe attempt of each component.

The page's latency line used to say "latest 18 ms" while every run for a minute had failed:
the latest *successful* latency looked like health. Both attempts are shown instead, each with
its time, so the line never reads healthier than the measurements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.models import ProbeResultRow

__all__ = ["Attempt", "LastAttempts", "last_attempts"]


@dataclass(frozen=True)
class Attempt:
    """One probe run as the page mentions it."""

    at: datetime
    total_ms: float
    error_class: str | None = None


@dataclass(frozen=True)
class LastAttempts:
    """A component's last successful (ok or degraded) and last failed run."""

    success: Attempt | None = None
    failure: Attempt | None = None

    @property
    def failing(self) -> bool:
        """Whether the latest run failed."""
        if self.failure is None:
            return False
        return self.success is None or self.failure.at > self.success.at


def last_attempts(session: Session, component_ids: Sequence[str],
                  since: datetime) -> dict[str, LastAttempts]:
    """Both attempts of each component since ``since`` (bounded: two aggregate reads over the
    window, then one row per component and kind)."""
    if not component_ids:
        return {}
    failed = ProbeResultRow.outcome == "failed"
    found: dict[str, dict[bool, Attempt]] = {}
    for is_failure in (False, True):
        latest = (sa.select(ProbeResultRow.component_id,
                            sa.func.max(ProbeResultRow.started_at).label("at"))
                  .where(ProbeResultRow.component_id.in_(list(component_ids)),
                         ProbeResultRow.started_at >= since,
                         failed if is_failure else sa.not_(failed))
                  .group_by(ProbeResultRow.component_id).subquery())
        rows = session.execute(
            sa.select(ProbeResultRow.component_id, ProbeResultRow.started_at,
                      ProbeResultRow.total_ms, ProbeResultRow.error_class)
            .join(latest, sa.and_(latest.c.component_id == ProbeResultRow.component_id,
                                  latest.c.at == ProbeResultRow.started_at))
            .where(failed if is_failure else sa.not_(failed)))
        for cid, at, total_ms, error_class in rows:
            found.setdefault(cid, {})[is_failure] = Attempt(at, float(total_ms), error_class)
    return {cid: LastAttempts(kinds.get(False), kinds.get(True)) for cid, kinds in found.items()}
