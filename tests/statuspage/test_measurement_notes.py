"""The page explains what the probes see: automatic detection, recovery awaiting the team,
and the last successful and failed attempts (never "latest 18 ms" while everything fails)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from probes import ProbeResult
from statuspage.db import Database
from statuspage.models import utcnow
from statuspage.store import probe_results
from statuspage.store.components import set_measured_status
from statuspage.store.public_views import measurement_notes
from tests.statuspage.test_admin_support import poll_now
from tests.statuspage.test_store_public import add_incident

T = datetime(2026, 12, 2, 11, 5, tzinfo=UTC)  # 18.05 WIB
TEN = timedelta(minutes=10)


@pytest.mark.parametrize(
    ("measured", "declared", "unconfirmed", "maintenance", "age", "expected"),
    [
        ("major_outage", [], [], False, 0, "detected"),
        ("degraded_performance", [], [], False, 0, "detected"),
        ("major_outage", ["major_outage"], ["major_outage"], False, 0, None),  # explained
        ("major_outage", [], [], True, 0, None),  # planned work
        ("operational", [], [], False, 60, None),
        ("operational", ["major_outage"], ["major_outage"], False, 9, None),  # too soon
        ("operational", ["major_outage"], ["major_outage"], False, 10, "recovered"),
        ("operational", ["major_outage"], [], False, 60, None),  # team already monitoring
    ],
)
def test_measurement_notes(measured: str, declared: list[str], unconfirmed: list[str],
                           maintenance: bool, age: int, expected: str | None) -> None:
    detected, recovered = measurement_notes(measured, T, declared, unconfirmed, maintenance,
                                            T + timedelta(minutes=age), TEN)
    assert (detected is not None, recovered is not None) == (expected == "detected",
                                                             expected == "recovered")


def fresh(client: TestClient, path: str) -> str:
    """The page after the cache has seen the latest change (it polls once a second)."""
    poll_now(client)  # in the app's loop: a poll from another loop could fail and mark it stale
    return client.get(path).text


def measured(db: Database, component: str, status: str, since: datetime | None = None) -> None:
    with db.session() as session:
        set_measured_status(session, component, status)
    if since is not None:
        from statuspage.models import Component

        with db.session() as session:
            row = session.get(Component, component)
            assert row is not None
            row.measured_since = since


def test_detected_automatically_then_explained_by_an_incident(client: TestClient,
                                                              db: Database) -> None:
    now = utcnow()
    measured(db, "pembelian", "major_outage", since=now)
    text = client.get("/").text
    wib = (now + timedelta(hours=7)).strftime("%H.%M")
    assert f"Terdeteksi otomatis pukul {wib} WIB; tim kami sedang memeriksa." in text
    assert 'href="/components/pembelian?lang=id#measurements"' in text
    english = client.get("/?lang=en").text
    assert "Detected automatically at" in english and "our team is looking into it" in english
    component = client.get("/components/pembelian").text
    assert "Terdeteksi otomatis" in component and 'id="measurements"' in component
    add_incident(db, components={"pembelian": "major_outage"}, started_at=now)
    assert "Terdeteksi otomatis" not in fresh(client, "/")


def test_recovery_awaits_the_team(client: TestClient, db: Database) -> None:
    now = utcnow()
    add_incident(db, components={"pembelian": "major_outage"}, started_at=now - timedelta(hours=1))
    measured(db, "pembelian", "major_outage")
    measured(db, "pembelian", "operational", since=now - timedelta(minutes=11))
    text = client.get("/").text
    assert ("Pemantauan otomatis menunjukkan layanan sudah pulih; menunggu konfirmasi tim."
            in text)
    assert "Gangguan total" in text  # the declared status stands until the team confirms


def test_attempts_line_shows_the_last_failure_first(client: TestClient, db: Database) -> None:
    now = utcnow()

    def run(outcome: str, seconds_ago: float, total_ms: float) -> ProbeResult:
        return ProbeResult("p", "http", now - timedelta(seconds=seconds_ago), outcome, total_ms,
                           {"total": total_ms}, "connect_error" if outcome == "failed" else None)

    with db.session() as session:
        probe_results.record_results(session, [run("ok", 120, 18.0), run("failed", 30, 1.0)],
                                     {"p": "pembelian"})
        probe_results.flush_rollups(session)
    text = client.get("/").text
    failure = text.index("gagal terakhir")
    success = text.index("berhasil terakhir")
    assert failure < success  # the newest attempt first
    assert "(18 ms)" in text
