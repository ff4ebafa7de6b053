"""Deadline-impact notice: HTML for a person, JSON for an agency's tools."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from statuspage.db import Database, bump_changes
from statuspage.models import ComponentStatusChange
from statuspage.store.incidents import create_incident, resolve_incident
from tests.statuspage.conftest import TEST_CONFIG

DEADLINE = datetime(2024, 9, 6, 16, 59, tzinfo=UTC)


@pytest.fixture
def config_text() -> str:
    return TEST_CONFIG + """
[[deadlines]]
id = "casn-2024"
name = "Pendaftaran CASN 2024"
agency = "BKN"
at = 2024-09-06T23:59:00+07:00
components = ["pembelian", "pembubuhan"]
"""


@pytest.fixture
def outage(db: Database) -> None:
    """Purchases measured down for 10 hours on 3 September, then partly down for 10 more;
    an operator declared a major outage from 79 to 60 hours before the deadline."""
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
    # the worse of measured and declared: major from 80 h to 60 h before the deadline
    assert report["lost_seconds"] == pytest.approx(20 * 3600)
    assert report["durations_seconds"]["major_outage"] == 20 * 3600
    assert report["recommended_extension_days"] == 1
    assert report["coverage"] == pytest.approx(80 / (7 * 24))  # evidence starts 80 h before
    assert [e["status"] for e in report["episodes"]] == ["major_outage"]
    assert report["episodes"][0]["components"] == ["pembelian"]
    assert report["weights"] == {"major_outage": 1.0, "partial_outage": 0.3}
    assert [i["name"] for i in report["incidents"]] == ["Pembelian e-meterai gagal"]


@pytest.mark.usefixtures("outage")
def test_page_tells_a_person_in_indonesian_and_english(client: TestClient) -> None:
    page = client.get("/deadlines/casn-2024")
    assert page.status_code == 200
    assert "Pendaftaran CASN 2024" in page.text
    assert "BKN" in page.text
    assert "WIB" in page.text
    english = client.get("/deadlines/casn-2024?lang=en")
    assert "Recommended extension: 1 day." in english.text
    assert "Pembelian kuota" in english.text  # the component that failed is named
    assert "Pembelian e-meterai gagal" in english.text


def test_no_evidence_is_not_called_a_quiet_window(client: TestClient) -> None:
    page = client.get("/deadlines/casn-2024?lang=en")
    assert "No measurements cover this window" in page.text
    assert "No service was lost" not in page.text
    report = client.get("/api/v1/deadlines/casn-2024/impact.json").json()
    assert report["coverage"] == 0
    assert report["observed_from"] is None


def test_quiet_measured_window_says_nothing_was_lost(client: TestClient, db: Database) -> None:
    with db.session() as session:  # measurements began 2 days before the deadline
        session.add(ComponentStatusChange(component_id="pembelian", status="operational",
                                          source="measured", at=DEADLINE - timedelta(days=2)))
        bump_changes(session)
    page = client.get("/deadlines/casn-2024?lang=en")
    assert "No service was lost in this window." in page.text
    assert "Measurements cover only 29% of this window" in page.text
    report = client.get("/api/v1/deadlines/casn-2024/impact.json").json()
    assert report["lost_seconds"] == 0
    assert report["coverage"] == pytest.approx(2 / 7)


def test_unknown_deadline_is_404(client: TestClient) -> None:
    assert client.get("/deadlines/nope").status_code == 404
    response = client.get("/api/v1/deadlines/nope/impact.json")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_every_page_links_the_notice(client: TestClient) -> None:
    home = client.get("/?lang=en")
    assert 'href="/deadlines/casn-2024?lang=en"' in home.text
    assert "Deadline impact: Pendaftaran CASN 2024" in home.text
