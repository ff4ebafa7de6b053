"""Proof that the measurements are right: the real stamping service, the real scheduler.

The stamping service runs as a child process (started through ``statuspage.bundled``, as
``statuspage serve`` does) with an admin token, and its fault injection sets what the probes
must then measure: an added latency, a hard-down switch and recovery, an error rate. The status
page database is the ``settings`` fixture's, so the same checks run on SQLite and PostgreSQL,
and a last test compares the two runs' figures.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from statuspage import worker
from statuspage.bundled import BundledStamping
from statuspage.db import Database
from statuspage.jobs import Intervals
from statuspage.models import Component, ProbeResultRow
from statuspage.probing import DatabaseSink, build_specs
from statuspage.settings import Settings
from statuspage.store.agents import create_agent_token

pytestmark = [pytest.mark.slow]

ADMIN_TOKEN = "integration-admin-token"
INTERVAL_S = 0.25
PURCHASE_INTERVAL_S = 0.5
EVALUATE_S = 0.25
WINDOW_S = 2
INJECTED_MS = 300.0
ERROR_RATE = 0.3

INTEGRATION_CONFIG = f"""
[[components]]
id = "situs"
name = "Situs web"

[[components]]
id = "pembelian"
name = "Pembelian kuota"

[[probes]]
name = "healthz"
kind = "http"
component = "situs"
path = "/healthz"
interval = {INTERVAL_S}
timeout = 3
latency_budget_ms = 2000

[[probes]]
name = "purchase"
kind = "purchase"
component = "pembelian"
interval = {PURCHASE_INTERVAL_S}
timeout = 5
latency_budget_ms = 4000

[evaluation]
window_s = {WINDOW_S}
failures_to_down = 2
successes_to_recover = 2
"""

#: Figures per backend, compared by the last test.
FIGURES: dict[str, dict[str, float]] = {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stamping:
    url: str
    token: str


@pytest.fixture(scope="module")
def stamping(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stamping]:
    """One real stamping service for both backends (faults are reset by each test)."""
    data = Path(tmp_path_factory.mktemp("stamping"))
    env = {**os.environ, "STAMPING_ADMIN_TOKEN": ADMIN_TOKEN}
    service = BundledStamping(data, free_port(), env=env, python=sys.executable, workers=1)
    service.start()
    try:
        yield Stamping(service.url, service.probe_token())
    finally:
        service.stop()


@pytest.fixture
def config_text() -> str:
    return INTEGRATION_CONFIG


async def set_faults(client: httpx.AsyncClient, url: str, faults: dict[str, object]) -> None:
    response = await client.post(url + "/api/v1/admin/faults", json=faults,
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200, response.text


def results_since(db: Database, probe: str, since: datetime) -> list[ProbeResultRow]:
    with db.session() as session:
        return list(session.scalars(
            sa.select(ProbeResultRow).where(ProbeResultRow.probe == probe,
                                            ProbeResultRow.started_at >= since)
            .order_by(ProbeResultRow.started_at)))


def status(db: Database, component_id: str) -> str:
    with db.session() as session:
        row = session.get(Component, component_id)
        assert row is not None
        return row.measured_status


async def wait_for_results(db: Database, probe: str, since: datetime, count: int,
                           timeout_s: float = 20.0) -> list[ProbeResultRow]:
    deadline = time.monotonic() + timeout_s
    while True:
        rows = await asyncio.to_thread(results_since, db, probe, since)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.1)


async def wait_for_status(db: Database, components: list[str], wanted: str,
                          timeout_s: float) -> float:
    """Seconds until every component shows ``wanted`` (math.inf when it never does)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        statuses = [await asyncio.to_thread(status, db, c) for c in components]
        if all(s == wanted for s in statuses):
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    return math.inf


def test_measurements_follow_injected_faults(settings: Settings, db: Database, backend: str,
                                             stamping: Stamping) -> None:
    settings = settings.with_changes(stamping_url=stamping.url, stamping_token=stamping.token)
    figures: dict[str, float] = {}

    async def scenario() -> None:
        stop = asyncio.Event()
        async with httpx.AsyncClient(timeout=10) as admin:
            await set_faults(admin, stamping.url, {})
            task = asyncio.create_task(worker.worker_main(
                settings, stop=stop, intervals=Intervals(evaluate_s=EVALUATE_S, flush_s=1.0)))
            try:
                await run_phases(admin)
            finally:
                stop.set()
                await set_faults(admin, stamping.url, {})
                await asyncio.wait_for(task, 30)

    async def run_phases(admin: httpx.AsyncClient) -> None:
        # 1. baseline, then a known added latency on the one request of the http probe
        t0 = datetime.now(UTC)
        baseline = await wait_for_results(db, "healthz", t0, 12)
        # "degraded" is a slow run (a busy CI host): a measurement still, not a failure
        assert len(baseline) >= 12, len(baseline)
        assert all(r.outcome != "failed" for r in baseline), \
            [(r.outcome, r.error_class, r.total_ms) for r in baseline]
        base_ms = statistics.median(r.total_ms for r in baseline)
        await set_faults(admin, stamping.url, {"latency_ms": INJECTED_MS})
        t1 = datetime.now(UTC)
        slowed = [r for r in await wait_for_results(db, "healthz", t1, 13) if r.started_at > t1]
        slowed = slowed[1:]  # a run in flight at the switch may straddle it
        assert len(slowed) >= 10
        slow_ms = statistics.median(r.total_ms for r in slowed)
        expected = base_ms + INJECTED_MS
        figures.update(baseline_ms=base_ms, measured_ms=slow_ms, expected_ms=expected,
                       added_ms=slow_ms - base_ms)
        assert abs(slow_ms - expected) <= max(0.05 * expected, 5.0), figures

        # 2. hard down: both components reach major_outage within a window + interval + eval
        await set_faults(admin, stamping.url, {})
        assert await wait_for_status(db, ["situs", "pembelian"], "operational", 15) < 15
        await set_faults(admin, stamping.url, {"down": True})
        # every run that starts once the switch is on must fail (one already in flight may not)
        down_since = datetime.now(UTC)
        bound = WINDOW_S + PURCHASE_INTERVAL_S + EVALUATE_S + 1.5
        figures["down_after_s"] = await wait_for_status(db, ["situs", "pembelian"],
                                                        "major_outage", 15)
        assert figures["down_after_s"] <= bound, figures
        failed = await asyncio.to_thread(results_since, db, "healthz", down_since)
        assert failed, figures
        assert all(r.outcome == "failed" for r in failed), \
            [(r.started_at, r.outcome, r.total_ms) for r in failed]

        # 3. recovery
        await set_faults(admin, stamping.url, {})
        figures["recovered_after_s"] = await wait_for_status(db, ["situs", "pembelian"],
                                                             "operational", 15)
        assert figures["recovered_after_s"] <= bound + WINDOW_S, figures

        # 4. an error rate: the success rate measured over many runs (scheduler + bursts
        # through the same sink) must match 1 - error_rate within 4 standard errors
        await set_faults(admin, stamping.url, {"error_rate": ERROR_RATE})
        t4 = datetime.now(UTC)
        (spec,) = [s for s in build_specs(settings.config, bundled_url=stamping.url,
                                          bundled_token=stamping.token) if s.name == "healthz"]
        sink = DatabaseSink(db, settings.config)
        async with worker.probe_client() as client:
            for _ in range(12):
                await worker.run_probes_once([spec] * 25, client, sink)
        await set_faults(admin, stamping.url, {})
        runs = [r for r in await asyncio.to_thread(results_since, db, "healthz", t4)
                if r.started_at > t4]
        n = len(runs)
        rate = sum(r.outcome != "failed" for r in runs) / n
        tolerance = 4 * math.sqrt(ERROR_RATE * (1 - ERROR_RATE) / n)
        figures.update(success_rate=rate, runs=n, tolerance=tolerance)
        assert n >= 300
        assert abs(rate - (1 - ERROR_RATE)) <= tolerance, figures
        assert {r.error_class for r in runs if r.outcome == "failed"} == {"http_5xx"}

    asyncio.run(scenario())
    FIGURES[backend] = figures
    print(f"\n{backend}: {figures}")


def test_backends_agree() -> None:
    """The SQLite and PostgreSQL runs measured the same thing."""
    if set(FIGURES) != {"sqlite", "postgresql"}:
        pytest.skip("needs both backend runs in this session")
    lite, pg = FIGURES["sqlite"], FIGURES["postgresql"]
    assert abs(lite["added_ms"] - pg["added_ms"]) <= max(0.05 * INJECTED_MS, 5.0)
    assert abs(lite["success_rate"] - pg["success_rate"]) <= lite["tolerance"] + pg["tolerance"]


def test_probe_agent_process_pushes_to_a_web_process(settings: Settings, db: Database,
                                                    stamping: Stamping, tmp_path: Path) -> None:
    """``statuspage web`` and ``statuspage probe-agent`` as real processes."""
    config_file = tmp_path / "statuspage.toml"
    config_file.write_text(INTEGRATION_CONFIG)
    with db.session() as session:
        token = create_agent_token(session, "medan")
    port = free_port()
    env = {**os.environ, "STATUSPAGE_DATABASE_URL": settings.database_url,
           "STATUSPAGE_SECRET_KEY": "integration-secret", "STATUSPAGE_CONFIG": str(config_file),
           "STATUSPAGE_DATA_DIR": str(tmp_path / "web")}
    web = subprocess.Popen([sys.executable, "-m", "statuspage", "web", "--port", str(port)],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    agent: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and web.poll() is None, "web did not start"
            time.sleep(0.1)
        agent_env = {k: v for k, v in env.items() if k != "STATUSPAGE_DATABASE_URL"}
        agent_env["STATUSPAGE_DATA_DIR"] = str(tmp_path / "agent")
        started = datetime.now(UTC)
        agent = subprocess.Popen(
            [sys.executable, "-m", "statuspage", "probe-agent", "--report-to",
             f"http://127.0.0.1:{port}", "--token", token, "--location", "medan",
             "--stamping-url", stamping.url, "--stamping-token", stamping.token],
            env=agent_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        rows: list[ProbeResultRow] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and agent.poll() is None:
            rows = [r for r in results_since(db, "healthz", started) if r.location == "medan"]
            if len(rows) >= 4 and any(r.location == "medan" for r in
                                      results_since(db, "purchase", started)):
                break
            time.sleep(0.2)
        assert len(rows) >= 4, _stderr(agent)
        assert all(r.outcome == "ok" and r.component_id == "situs" for r in rows)
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=20) == 0  # stopped cleanly, nothing left unsent
        assert not (tmp_path / "agent" / "secret_key").exists()
    finally:
        for process in (agent, web):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()


def _stderr(process: subprocess.Popen[bytes]) -> str:
    """What a process that exited wrote to stderr (for assertion messages)."""
    if process.poll() is None or process.stderr is None:
        return ""
    return process.stderr.read().decode(errors="replace")
