"""GET /api/v1/probes, POST /api/v1/probe-results (agent tokens), GET /metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from probes import ProbeResult
from statuspage.db import Database
from statuspage.models import AgentToken, ProbeResultRow
from statuspage.probing import store_results
from statuspage.settings import Settings
from statuspage.store.agents import create_agent_token, list_agent_tokens, revoke_agent_token
from statuspage.store.probe_results import flush_rollups
from tests.statuspage.test_admin_support import poll_now
from tests.statuspage.test_probing_support import PROBE_CONFIG, result


@pytest.fixture
def config_text() -> str:
    return PROBE_CONFIG


@pytest.fixture
def token(db: Database) -> str:
    with db.session() as session:
        return create_agent_token(session, "jakarta")


def push(client: TestClient, token: str | None, body: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/v1/probe-results", json=body, headers=headers)


def test_push_stores_through_the_same_path(client: TestClient, db: Database, token: str) -> None:
    body = {"results": [result("purchase", location="jakarta").to_dict(),
                        result("stamp", "failed", location="jakarta").to_dict()]}
    response = push(client, token, body)
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 2, "location": "jakarta"}
    with db.session() as session:
        rows = session.scalars(sa.select(ProbeResultRow).order_by(ProbeResultRow.id)).all()
        assert [(r.probe, r.location, r.outcome, r.component_id) for r in rows] == [
            ("purchase", "jakarta", "ok", "pembelian"),
            ("stamp", "jakarta", "failed", "pembubuhan")]
        (used,) = session.scalars(sa.select(AgentToken)).all()
        assert used.last_used_at is not None
        assert token not in used.token_sha256  # stored hashed


def valid() -> dict[str, Any]:
    """A good result: each bad batch below starts with one, to show nothing is half-stored."""
    return result(location="jakarta").to_dict()


def _with_valid(bad: Any) -> Callable[[], Any]:
    """A batch of one good result and ``bad()``, built when the test runs."""
    return lambda: {"results": [valid(), bad()]}


@pytest.mark.parametrize(
    ("make_body", "status", "message"),
    [
        (_with_valid(lambda: result("nope", location="jakarta").to_dict()), 422,
         "unknown probe"),
        (_with_valid(lambda: result("purchase", kind="stamp", location="jakarta").to_dict()),
         422, "kind"),
        (_with_valid(lambda: result("purchase", location="medan").to_dict()), 422,
         "location"),
        (_with_valid(lambda: {"probe": "purchase"}), 422, "missing"),
        (_with_valid(lambda: {**valid(), "outcome": "great"}), 422, "outcome"),
        (_with_valid(lambda: result(location="jakarta", seconds_ago=8 * 86400).to_dict()),
         422, "outside"),
        (_with_valid(lambda: result(location="jakarta", seconds_ago=-600).to_dict()), 422,
         "outside"),
        (lambda: {"results": "no"}, 422, "results"),
        (lambda: [], 422, "results"),
        (lambda: {"results": [valid()] * 1001}, 413, "at most"),
    ],
)
def test_push_rejects_bad_batches_entirely(client: TestClient, db: Database, token: str,
                                           make_body: Callable[[], Any], status: int,
                                           message: str) -> None:
    # bodies are built when the test runs: result times are relative to now, and a slow run
    # can start a test minutes after collection
    response = push(client, token, make_body())
    assert response.status_code == status
    assert message in response.json()["error"]
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ProbeResultRow)) == 0


def test_push_needs_a_valid_token(client: TestClient, db: Database, token: str) -> None:
    body = {"results": [result(location="jakarta").to_dict()]}
    assert push(client, None, body).status_code == 401
    assert push(client, "spa_wrong", body).status_code == 401
    assert client.post("/api/v1/probe-results", content=b"{", headers={
        "Authorization": f"Bearer {token}"}).status_code == 400
    with db.session() as session:
        (row,) = list_agent_tokens(session)
        assert revoke_agent_token(session, row.id) is True
        assert revoke_agent_token(session, row.id) is False
    response = push(client, token, body)
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers


def test_agent_tokens_reject_reserved_or_odd_locations(db: Database) -> None:
    with db.session() as session:
        for bad in ("local", "Jakarta Pusat", ""):
            with pytest.raises(ValueError):
                create_agent_token(session, bad)


def test_probe_list_shows_last_results_and_latency(client: TestClient, settings: Settings,
                                                   db: Database) -> None:
    with db.session() as session:
        store_results(session, settings.config, [
            result("purchase", seconds_ago=20, total_ms=320.0),
            result("purchase", "failed", seconds_ago=10, total_ms=20000.0),
            result("purchase", seconds_ago=5, total_ms=310.0, location="jakarta"),
        ])
    response = client.get("/api/v1/probes")
    assert response.status_code == 200
    probes = {p["name"]: p for p in response.json()["probes"]}
    assert list(probes) == ["purchase", "stamp", "availability"]
    purchase = probes["purchase"]
    assert purchase["component"] == "pembelian" and purchase["interval_s"] == 60
    assert purchase["locations"] == ["jakarta", "local"]
    local = next(r for r in purchase["last_results"] if r["location"] == "local")
    assert (local["outcome"], local["error_class"], local["total_ms"]) == (
        "failed", "timeout", 20000.0)
    assert local["phases"] == {"total": 20000.0}
    for window in ("5m", "24h"):
        summary = purchase["latency"][window]
        assert summary["count"] == 3 and summary["success_rate"] == pytest.approx(2 / 3)
        assert 300 <= summary["p50_ms"] <= 500
    assert probes["stamp"]["last_results"] == [] and probes["stamp"]["latency"]["5m"] == {
        "count": 0, "success_rate": None, "p50_ms": None, "p95_ms": None}
    assert "token" not in response.text


def test_metrics_read_rollups(client: TestClient, settings: Settings, db: Database) -> None:
    with db.session() as session:
        store_results(session, settings.config, [
            result("purchase", total_ms=250.0), result("purchase", "failed", total_ms=20000.0),
            result("stamp", total_ms=4.0, location="jakarta"),
        ])
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert ('statuspage_probe_results_total{location="local",outcome="failed",probe="purchase"}'
            ' 1.0') in text
    assert ('statuspage_probe_duration_seconds_bucket{le="0.3",location="local",'
            'probe="purchase"} 1.0') in text
    assert ('statuspage_probe_duration_seconds_count{location="local",probe="purchase"} 2.0'
            in text)
    assert 'statuspage_probe_duration_seconds_sum{location="local",probe="purchase"} 20.25' in text
    assert 'location="jakarta",probe="stamp"} 1.0' in text
    assert ('statuspage_component_measured_status{component="pembelian",status="operational"}'
            ' 1.0') in text
    # counters grow: a second scrape after more results (today's rows are read live)
    with db.session() as session:
        store_results(session, settings.config, [result("purchase", total_ms=100.0)])
    assert ('statuspage_probe_duration_seconds_count{location="local",probe="purchase"} 3.0'
            in client.get("/metrics").text)


def test_probe_list_is_cached_and_inert(client: TestClient, settings: Settings,
                                        db: Database) -> None:
    hostile = ProbeResult(probe="purchase", kind="purchase", started_at=result().started_at,
                          outcome="failed", total_ms=5.0, error_class="http_5xx",
                          message="<script>alert(1)</script> & co")
    with db.session() as session:
        store_results(session, settings.config, [hostile])
    first = client.get("/api/v1/probes")
    assert first.headers["content-type"].startswith("application/json")
    assert "<script>" not in first.text and "\\u003cscript\\u003e" in first.text
    assert first.json()["probes"][0]["last_results"][0]["message"].startswith("<script>")
    etag = first.headers["etag"]
    assert client.get("/api/v1/probes", headers={"If-None-Match": etag}).status_code == 304
    # new results show once the worker's flush announces them (one bump per flush)
    with db.session() as session:
        store_results(session, settings.config, [result("stamp")])
    with db.session() as session:
        assert flush_rollups(session)
    poll_now(client)  # the cache sees the bump now, not at its next 1 s poll
    probes = {p["name"]: p for p in client.get("/api/v1/probes").json()["probes"]}
    assert probes["stamp"]["last_results"][0]["outcome"] == "ok"
