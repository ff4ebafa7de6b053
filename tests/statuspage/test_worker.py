"""The worker's async core: probes on schedule, evaluation, stop on request; target resolution."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import sqlalchemy as sa

from probes import ProbeSpec
from statuspage import worker
from statuspage.db import Database
from statuspage.jobs import Intervals
from statuspage.models import Component, Incident, ProbeResultRow
from statuspage.settings import Settings

WORKER_CONFIG = """
[[components]]
id = "situs"
name = "Situs web"

[[probes]]
name = "availability"
kind = "http"
component = "situs"
target = "https://layanan.example"
path = "/healthz"
interval = 0.2
timeout = 1

[evaluation]
window_s = 60
failures_to_down = 2
successes_to_recover = 2
"""


@pytest.fixture
def config_text() -> str:
    return WORKER_CONFIG


def test_worker_measures_evaluates_and_stops(settings: Settings, db: Database,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def failing(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(503, text="down")

    monkeypatch.setattr(worker, "probe_client", lambda: httpx.AsyncClient(
        transport=httpx.MockTransport(failing)))

    async def go() -> float:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.worker_main(
            settings, stop=stop, intervals=Intervals(evaluate_s=0.2, flush_s=0.5)))
        started = time.monotonic()
        while time.monotonic() - started < 20:
            await asyncio.sleep(0.1)
            with db.session() as session:
                component = session.get(Component, "situs")
                if component is not None and component.measured_status == "major_outage":
                    break
        stop.set()
        await asyncio.wait_for(task, 10)
        return time.monotonic() - started

    elapsed = asyncio.run(go())
    assert seen and seen[0] == "https://layanan.example/healthz"
    with db.session() as session:
        assert session.get(Component, "situs").measured_status == "major_outage"  # type: ignore[union-attr]
        assert (session.scalar(sa.select(sa.func.count()).select_from(ProbeResultRow)) or 0) >= 2
        (draft,) = session.scalars(sa.select(Incident)).all()
        assert draft.is_draft
    assert elapsed < 15  # includes the new leader's grace period on PostgreSQL (3 s)


def test_targets_external_url_needs_no_bundled_service(settings: Settings) -> None:
    external = settings.with_changes(stamping_url="https://emeterai.example", stamping_token="t")
    targets = asyncio.run(worker.resolve_targets(external))
    assert (targets.url, targets.token, targets.bundled) == ("https://emeterai.example", "t",
                                                             None)
    targets = asyncio.run(worker.resolve_targets(settings))  # no probe targets "bundled"
    assert targets.bundled is None


def test_run_probes_once() -> None:
    specs = [ProbeSpec(f"p{i}", "http", "https://x.example/", timeout_s=1) for i in range(3)]

    async def go() -> list[str]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(
                lambda r: httpx.Response(200))) as client:
            return [r.outcome for r in await worker.run_probes_once(specs, client)]

    assert asyncio.run(go()) == ["ok", "ok", "ok"]
