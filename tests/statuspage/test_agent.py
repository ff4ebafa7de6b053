"""Remote probe agents: the token commands and an agent pushing into the page in-process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

from statuspage import worker
from statuspage.cli import main
from statuspage.cli.agent import report_url
from statuspage.config_parser import parse_config
from statuspage.db import Database
from statuspage.jobs import Intervals
from statuspage.models import AgentToken, ProbeResultRow
from statuspage.probing import build_specs
from statuspage.settings import Settings
from statuspage.store.agents import create_agent_token
from tests.statuspage.test_probing_support import PROBE_CONFIG

AGENT_CONFIG = """
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
"""


@pytest.fixture
def config_text() -> str:
    return AGENT_CONFIG


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://status.example", "https://status.example/api/v1/probe-results"),
        ("https://status.example/", "https://status.example/api/v1/probe-results"),
        ("https://status.example/api/v1/probe-results",
         "https://status.example/api/v1/probe-results"),
        ("http://127.0.0.1:8000/sub", "http://127.0.0.1:8000/sub/api/v1/probe-results"),
    ],
)
def test_report_url(given: str, expected: str) -> None:
    assert report_url(given) == expected


def test_token_commands(settings: Settings, db: Database, tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
                        ) -> None:
    monkeypatch.setenv("STATUSPAGE_DATABASE_URL", settings.database_url)
    config = tmp_path / "statuspage.toml"
    config.write_text(AGENT_CONFIG)
    common = ["--data-dir", str(tmp_path / "data"), "--config", str(config)]
    assert main(["agent-token", "create", "--location", "jakarta", *common]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("spa_") and len(token) > 40
    with db.session() as session:
        (row,) = session.scalars(sa.select(AgentToken)).all()
        assert row.location == "jakarta" and token not in row.token_sha256
        token_id = row.id
    assert main(["agent-token", "list", *common]) == 0
    listing = capsys.readouterr().out
    assert "jakarta" in listing and "active" in listing and token not in listing
    assert main(["agent-token", "revoke", str(token_id), *common]) == 0
    assert main(["agent-token", "revoke", str(token_id), *common]) == 1
    assert main(["agent-token", "create", "--location", "local", *common]) == 2


def test_agent_without_runnable_probes_stops_with_a_message(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "statuspage.toml"
    config.write_text(PROBE_CONFIG.replace('target = "https://example.org"\n', ""))
    code = main(["probe-agent", "--report-to", "http://127.0.0.1:9", "--token", "t",
                 "--location", "medan", "--config", str(config),
                 "--data-dir", str(tmp_path / "data")])
    assert code == 2
    assert "--stamping-url" in capsys.readouterr().err
    assert not (tmp_path / "data" / "secret_key").exists()  # an agent keeps no secrets


class Router(httpx.AsyncBaseTransport):
    """Requests to the status page go to the app in-process; the rest to a fake service."""

    def __init__(self, app: Starlette) -> None:
        self.page = httpx.ASGITransport(app=app)
        self.service = httpx.MockTransport(lambda r: httpx.Response(200, text="ok"))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "testserver":
            return await self.page.handle_async_request(request)
        return await self.service.handle_async_request(request)


def test_agent_pushes_results_that_are_stored_like_local_ones(
        settings: Settings, db: Database, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.session() as session:
        token = create_agent_token(session, "medan")
    monkeypatch.setattr(worker, "probe_client",
                        lambda: httpx.AsyncClient(transport=Router(app)))
    config = parse_config(AGENT_CONFIG, "<test>")
    specs = build_specs(config)

    async def go() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.agent_main(
            config, specs, "http://testserver/api/v1/probe-results", token, "medan",
            stop=stop, intervals=Intervals(agent_flush_s=0.2)))
        for _ in range(100):
            await asyncio.sleep(0.1)
            with db.session() as session:
                stored = session.scalar(sa.select(sa.func.count()).select_from(ProbeResultRow))
            if (stored or 0) >= 3:
                break
        stop.set()
        return await asyncio.wait_for(task, 10)

    assert asyncio.run(go()) == 0  # nothing left unsent
    with db.session() as session:
        rows = session.scalars(sa.select(ProbeResultRow)).all()
        assert len(rows) >= 3
        assert {(r.probe, r.location, r.outcome, r.component_id) for r in rows} == {
            ("availability", "medan", "ok", "situs")}
