"""After recovery: the console flags incidents the probes measure as operational, one button
moves them to monitoring and restores the measured status; the page says so meanwhile; the
page refreshes itself only while something is wrong."""

# ruff: noqa: F811 - pytest fixtures are imported from test_admin_support and used as arguments
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from statuspage.db import Database
from statuspage.models import Component, Incident, utcnow
from statuspage.models.operators import AuditEntry
from statuspage.store.components import set_measured_status
from tests.statuspage.test_admin_support import (  # noqa: F401 - fixtures
    admin,
    eventually_contains,
    form_post,
    settings,
)
from tests.statuspage.test_store_public import add_incident

REFRESH = '<meta http-equiv="refresh" content="60">'


def recovered(db: Database, component: str, minutes_ago: float) -> None:
    """The probes measured an outage, then operational since ``minutes_ago``."""
    with db.session() as session:
        set_measured_status(session, component, "major_outage",
                            now=utcnow() - timedelta(minutes=minutes_ago + 30))
        set_measured_status(session, component, "operational",
                            now=utcnow() - timedelta(minutes=minutes_ago))
        row = session.get(Component, component)
        assert row is not None
        row.measured_since = utcnow() - timedelta(minutes=minutes_ago)


@pytest.mark.parametrize(("minutes", "prompted"), [(11, True), (5, False)])
def test_dashboard_prompts_after_ten_minutes(admin: TestClient, db: Database, minutes: float,
                                             prompted: bool) -> None:
    iid = add_incident(db, components={"pembelian": "major_outage"}, impact="critical",
                       started_at=utcnow() - timedelta(hours=1))
    recovered(db, "pembelian", minutes)
    dash = admin.get("/admin").text
    assert ("Sudah pulih menurut probe (1)" in dash) is prompted
    assert (f"/admin/incidents/{iid}/measured-recovery" in dash) is prompted


@pytest.mark.parametrize("resolve", [False, True])
def test_one_button_moves_to_monitoring_and_restores_the_measured_status(
        admin: TestClient, db: Database, resolve: bool) -> None:
    iid = add_incident(db, components={"pembelian": "major_outage"}, impact="critical",
                       started_at=utcnow() - timedelta(hours=1))
    recovered(db, "pembelian", 15)
    page = eventually_contains(admin, "/", "menunggu konfirmasi tim").text
    assert "Pemantauan otomatis menunjukkan layanan sudah pulih" in page
    assert REFRESH in page  # not operational yet: the page follows without JavaScript
    data: dict[str, str | list[str]] = {"resolve": "on"} if resolve else {}
    response = form_post(admin, "/admin", f"/admin/incidents/{iid}/measured-recovery", data)
    assert response.status_code == 303
    with db.session() as session:
        incident = session.get(Incident, iid)
        assert incident is not None
        assert incident.status == ("resolved" if resolve else "monitoring")
        assert {c.component_id: c.status for c in incident.components} == {
            "pembelian": "operational"}
        assert session.scalar(sa.select(AuditEntry.action).where(
            AuditEntry.action == "incident.measured_recovery")) is not None
    assert "Sudah pulih menurut probe" not in admin.get("/admin").text
    if resolve:  # all is well: no reload
        after = eventually_contains(admin, "/", "Semua sistem beroperasi normal").text
        assert REFRESH not in after
    else:
        after = eventually_contains(admin, "/", "sudah pulih (diperiksa pukul").text
    assert "menunggu konfirmasi tim" not in after  # the team has spoken


def test_recovery_button_needs_csrf(admin: TestClient, db: Database) -> None:
    iid = add_incident(db, components={"pembelian": "major_outage"})
    response = admin.post(f"/admin/incidents/{iid}/measured-recovery", data={},
                          follow_redirects=False)
    assert response.status_code == 403
