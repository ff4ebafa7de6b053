"""Hostile probe results: every number an agent pushes is bounded, and figures stored before
the bounds existed (inf, 1e308) never stop a page, feed or JSON document from rendering."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any

import feedparser
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from probes import MAX_MILLIS
from statuspage.db import Database
from statuspage.inputs import decode_json
from statuspage.models import ProbeResultRow, ProbeRollup, utcnow
from statuspage.probing import ResultRejected, store_results
from statuspage.settings import Settings
from statuspage.store.agents import create_agent_token
from statuspage.store.probe_results import bucket_start, flush_rollups
from tests.statuspage.test_probing_support import PROBE_CONFIG, result


@pytest.fixture
def config_text() -> str:
    return PROBE_CONFIG


@pytest.fixture
def token(db: Database) -> str:
    with db.session() as session:
        return create_agent_token(session, "jakarta")


def _raw(**changes: Any) -> str:
    """A pushed body as text, with one field replaced by literal JSON (no re-encoding)."""
    item = result(location="jakarta").to_dict()
    marked = {k: f"@@{k}@@" if k in changes else v for k, v in item.items()}
    text = json.dumps({"results": [result(location="jakarta").to_dict(), marked]})
    for key, literal in changes.items():
        text = text.replace(f'"@@{key}@@"', literal)
    return text


@pytest.mark.parametrize("changes", [
    {"total_ms": "1e308"}, {"total_ms": "9" * 400}, {"total_ms": "1e999"},
    {"total_ms": "NaN"}, {"total_ms": "Infinity"}, {"total_ms": str(MAX_MILLIS * 2)},
    {"phases": '{"connect": 1e308}'}, {"phases": '{"ttfb": ' + "1" * 400 + "}"},
    {"started_at": '"0001-01-01T00:00:00+14:00"'}, {"started_at": '"9999-12-31T23:59:59-14:00"'},
    {"message": "[" * 200 + "]" * 200},
])
def test_out_of_range_numbers_and_times_are_refused(client: TestClient, db: Database,
                                                     token: str, changes: dict[str, str]
                                                     ) -> None:
    response = client.post("/api/v1/probe-results", content=_raw(**changes),
                           headers={"Authorization": f"Bearer {token}",
                                    "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]
    with db.session() as session:  # the batch is all or nothing
        assert session.scalar(sa.select(sa.func.count()).select_from(ProbeResultRow)) == 0


def test_control_characters_in_agent_text_are_stripped(client: TestClient, db: Database,
                                                       token: str) -> None:
    text = _raw(message='"gagal\\u0000\\u000b total\\ud800"',
                phases='{"con\\u0000nect": 5, "total": 100}')
    response = client.post("/api/v1/probe-results", content=text,
                           headers={"Authorization": f"Bearer {token}",
                                    "Content-Type": "application/json"})
    assert response.status_code == 202, response.text
    with db.session() as session:
        stored = session.scalars(sa.select(ProbeResultRow).where(
            ProbeResultRow.message.is_not(None))).one()
        assert stored.message == "gagal total" and stored.phases == {"connect": 5, "total": 100}


def test_local_results_are_bounded_too(db: Database, settings: Settings) -> None:
    for bad in (math.inf, 1e308, -1.0):
        with db.session() as session, pytest.raises(ResultRejected):
            store_results(session, settings.config, [result(total_ms=bad)])


def _poison(db: Database, settings: Settings) -> None:
    """Rollups as an unbounded agent left them: inf, and two 1e308 sums in one hour (their SQL
    SUM overflows on PostgreSQL), next to good figures of the same components."""
    now = utcnow()
    with db.session() as session:
        store_results(session, settings.config, [result("purchase", seconds_ago=60),
                                                 result("stamp", seconds_ago=60)])
        for location, value in (("bandung", 1e308), ("medan", 1e308), ("surabaya", math.inf)):
            for period in ("minute", "hour", "day"):
                session.add(ProbeRollup(
                    probe="purchase", location=location, period=period,
                    bucket_start=bucket_start(now - timedelta(minutes=1), period),
                    component_id="pembelian", count=1, ok=1, degraded=0, failed=0,
                    latency_sum_ms=value, latency_max_ms=value, histogram=[0] * 20 + [1]))
        session.add(ProbeResultRow(probe="purchase", kind="purchase", component_id="pembelian",
                                   location="surabaya", started_at=now - timedelta(seconds=30),
                                   outcome="ok", total_ms=math.inf, phases={"total": 1e308}))
        flush_rollups(session)


def test_poisoned_figures_never_stop_a_page(client: TestClient, db: Database,
                                            settings: Settings) -> None:
    _poison(db, settings)
    time_limit = utcnow() + timedelta(seconds=5)
    for path in ("/", "/?lang=en", "/components/pembelian", "/components/pembubuhan",
                 "/history.rss", "/history.atom", "/components/pembelian/history.atom",
                 "/api/v2/summary.json", "/api/v2/components.json", "/api/v1/probes",
                 "/metrics"):
        while True:  # the page cache notices the flush within a second
            response = client.get(path)
            if response.status_code == 200 or utcnow() > time_limit:
                break
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        assert 'class="stale"' not in response.text, path
        if path.endswith(".json") or path == "/api/v1/probes":
            assert decode_json(response.content, check_text=False) is not None  # no Infinity
        if path.endswith((".rss", ".atom")):
            assert not feedparser.parse(response.content).bozo, path
    page = client.get("/components/pembelian").text
    assert "<polyline" in page  # the good hour still draws
    probes = client.get("/api/v1/probes").json()["probes"]
    surabaya = [r for p in probes for r in p["last_results"] if r["location"] == "surabaya"]
    assert surabaya and surabaya[0]["total_ms"] is None  # unknown, not Infinity
