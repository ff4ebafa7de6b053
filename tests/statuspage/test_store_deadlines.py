"""Deadline impact read from recorded measured and declared status changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from statuspage.config import DeadlineConfig
from statuspage.db import Database
from statuspage.models import ComponentStatusChange
from statuspage.store.deadlines import impact_for_deadline

DEADLINE = DeadlineConfig(id="casn", name="CASN", agency="BKN",
                          at=datetime(2024, 9, 6, 16, 59, tzinfo=UTC),
                          components=("pembelian", "pembubuhan"), window_days=7)


def change(cid: str, status: str, source: str, hours_before: float) -> ComponentStatusChange:
    return ComponentStatusChange(component_id=cid, status=status, source=source,
                                 at=DEADLINE.at - timedelta(hours=hours_before))


def test_worse_of_measured_and_declared_counts(db: Database) -> None:
    with db.session() as session:
        session.add_all([
            # measured: purchase down 10 h, from 80 h to 70 h before the deadline
            change("pembelian", "major_outage", "measured", 80),
            change("pembelian", "operational", "measured", 70),
            # declared: an operator called a partial outage 75 h..60 h (overlaps by 5 h)
            change("pembelian", "partial_outage", "declared", 75),
            change("pembelian", "operational", "declared", 60),
            # stamping down 2 h inside purchase's outage: no extra loss for applicants
            change("pembubuhan", "major_outage", "measured", 78),
            change("pembubuhan", "operational", "measured", 76),
            # outside the window: ignored
            change("pembelian", "major_outage", "measured", 24 * 8),
            change("pembelian", "operational", "measured", 24 * 7.5),
        ])
    with db.session() as session:
        impact = impact_for_deadline(session, DEADLINE, now=DEADLINE.at + timedelta(days=1))
    assert impact.lost == timedelta(hours=10) + timedelta(hours=10) * 0.3
    assert impact.per_component_lost["pembubuhan"] == timedelta(hours=2)
    assert impact.per_component_lost["pembelian"] == impact.lost
    assert [e.status for e in impact.episodes] == ["major_outage", "partial_outage"]
    assert impact.episodes[0].components == ("pembelian", "pembubuhan")
    assert impact.recommended_extension == timedelta(days=1)


def test_no_history_means_nothing_is_known(db: Database) -> None:
    with db.session() as session:
        impact = impact_for_deadline(session, DEADLINE, now=DEADLINE.at)
    assert impact.lost == timedelta(0)
    assert impact.coverage == 0
    assert impact.observed_from is None
