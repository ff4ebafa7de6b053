"""Deadline-impact notice: HTML for a person, JSON for an agency's tools, evidence files."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from statuspage.db import Database, bump_changes
from statuspage.models import ComponentStatusChange, ProbeResultRow
from statuspage.store.incidents import create_incident, resolve_incident
from tests.statuspage.conftest import TEST_CONFIG

DEADLINE = datetime(2024, 9, 6, 16, 59, tzinfo=UTC)
START = DEADLINE - timedelta(days=7)


@pytest.fixture
def config_text() -> str:
    return TEST_CONFIG + """
[[deadlines]]
id = "casn-2024"
name = "Pendaftaran CASN 2024"
name_en = "CASN 2024 registration"
agency = "BKN"
at = 2024-09-06T23:59:00+07:00
components = ["pembelian", "pembubuhan"]
"""


def add_results(db: Database, start: datetime, end: datetime,
                failing: tuple[datetime, datetime] | None = None) -> None:
    """One purchase and one stamping probe every 5 minutes in [start, end); purchases fail
    inside ``failing``."""
    with db.session() as session:
        at = start
        while at < end:
            down = failing is not None and failing[0] <= at < failing[1]
            for component in ("pembelian", "pembubuhan"):
                outcome = "failed" if down and component == "pembelian" else "ok"
                session.add(ProbeResultRow(probe=f"p-{component}", kind="purchase",
                                           component_id=component, location="local",
                                           started_at=at, outcome=outcome, total_ms=800.0,
                                           phases={}))
            at += timedelta(minutes=5)
        bump_changes(session)


@pytest.fixture
def outage(db: Database) -> None:
    """Probes cover the whole week; purchases failed for 20 hours (80 h to 60 h before the
    deadline). Measured statuses and a declared incident say the same."""
    add_results(db, START, DEADLINE,
                failing=(DEADLINE - timedelta(hours=80), DEADLINE - timedelta(hours=60)))
    with db.session() as session:
        for status, hours_before in (("major_outage", 80), ("partial_outage", 70),
                                     ("operational", 60)):
            session.add(ComponentStatusChange(
                component_id="pembelian", status=status, source="measured",
                at=DEADLINE - timedelta(hours=hours_before)))
        bump_changes(session)
        incident = create_incident(
            session, name="Pembelian e-meterai gagal", status="investigating", impact="critical",
            body="Kami sedang menyelidiki.", components={"pembelian": "major_outage"},
            notify=False, author=None, now=DEADLINE - timedelta(hours=79))
        resolve_incident(session, incident.id, body="Pulih.", author=None,
                         now=DEADLINE - timedelta(hours=60))


@pytest.mark.usefixtures("outage")
def test_json_report_has_the_evidence(client: TestClient) -> None:
    response = client.get("/api/v1/deadlines/casn-2024/impact.json")
    assert response.status_code == 200
    report = response.json()
    assert report["deadline"]["agency"] == "BKN"
    assert report["deadline"]["at"] == "2024-09-06T16:59:00.000Z"
    # lost service time: 20 h of intervals at journey 0 (240 intervals x 5 min)
    assert report["lost_seconds"] == pytest.approx(20 * 3600)
    assert report["coverage"] == pytest.approx(1.0)
    assert report["availability"] == pytest.approx(1 - 20 / 168)
    assert report["recommended_extension_days"] == 1
    assert report["level"] == "extension_recommended"
    figures = report["evidence"]
    assert figures["longest_disruption"]["seconds"] == 20 * 3600
    assert figures["downtime_seconds"] == 20 * 3600
    # the declared-status loss of the first version: major 80->79 h measured, then the
    # declared major outage 79->60 h: 20 h at weight 1
    assert figures["declared_lost_seconds"] == pytest.approx(20 * 3600)
    assert report["durations_seconds"]["major_outage"] == 20 * 3600
    assert [e["status"] for e in report["episodes"]] == ["major_outage"]
    assert report["weights"] == {"major_outage": 1.0, "partial_outage": 0.3}
    assert [i["name"] for i in report["incidents"]] == ["Pembelian e-meterai gagal"]
    assert report["notice"] is None  # nothing published


@pytest.mark.usefixtures("outage")
def test_page_tells_a_person_in_indonesian_and_english(client: TestClient) -> None:
    page = client.get("/deadlines/casn-2024")
    assert page.status_code == 200
    assert "Pendaftaran CASN 2024" in page.text
    assert "BKN" in page.text and "WIB" in page.text
    english = client.get("/deadlines/casn-2024?lang=en")
    assert "CASN 2024 registration" in english.text
    assert "Recommended extension: 1 day(s), closing Sep 7, 2024, 23:59 WIB." in english.text
    assert "Pembelian kuota" in english.text  # the component that failed is named
    assert "Pembelian e-meterai gagal" in english.text
    assert "<polyline" in english.text  # the chart


def test_no_evidence_is_not_called_a_quiet_window(client: TestClient) -> None:
    page = client.get("/deadlines/casn-2024?lang=en")
    assert "No measurements cover this window" in page.text
    report = client.get("/api/v1/deadlines/casn-2024/impact.json").json()
    assert report["coverage"] == 0
    assert report["availability"] is None
    assert report["observed_from"] is None


def test_quiet_measured_window(client: TestClient, db: Database) -> None:
    add_results(db, DEADLINE - timedelta(days=2), DEADLINE)
    page = client.get("/deadlines/casn-2024?lang=en")
    assert "No extension is recommended from the evidence so far." in page.text
    assert "Measurements cover 29% of this window" in page.text
    report = client.get("/api/v1/deadlines/casn-2024/impact.json").json()
    assert report["lost_seconds"] == 0
    assert report["coverage"] == pytest.approx(2 / 7)
    assert report["availability"] == 1.0


@pytest.mark.usefixtures("outage")
def test_evidence_files_carry_intervals_and_raw_results(client: TestClient) -> None:
    data = client.get("/deadlines/casn-2024/evidence.json").json()
    assert len(data["intervals"]) == 7 * 288
    assert len(data["results"]) == 2 * 7 * 288
    down = [i for i in data["intervals"] if i["journey"] == 0]
    assert len(down) == 240 and all(i["downtime"] for i in down)
    text = client.get("/deadlines/casn-2024/evidence.csv").text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["record", "start_utc", "end_utc"]
    assert sum(1 for r in rows if r and r[0] == "interval") == 7 * 288
    assert sum(1 for r in rows if r and r[0] == "result") == 2 * 7 * 288


def test_unknown_deadline_is_404(client: TestClient) -> None:
    assert client.get("/deadlines/nope").status_code == 404
    response = client.get("/api/v1/deadlines/nope/impact.json")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert client.get("/deadlines/nope/evidence.csv").status_code == 404


def test_every_page_links_the_notice_and_the_list(client: TestClient) -> None:
    home = client.get("/?lang=en")
    assert 'href="/deadlines/casn-2024?lang=en"' in home.text
    assert "Deadline impact: CASN 2024 registration" in home.text
    listing = client.get("/deadlines?lang=en")
    assert listing.status_code == 200
    assert "CASN 2024 registration" in listing.text
    assert "Recent" in listing.text
