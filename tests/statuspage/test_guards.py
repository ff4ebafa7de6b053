# ruff: noqa: F811 - pytest fixtures are imported from test_admin_support and used as arguments
"""What stands in front of every route: no framing anywhere, body caps by route, the token
checked before a body is read, and a JSON 503 (not a 500) while the database is down."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from statuspage.app import create_app
from statuspage.config_parser import parse_config
from statuspage.db import Database
from statuspage.guards import DEFAULT_BODY_LIMIT, body_limit
from statuspage.settings import Settings
from statuspage.store.agents import create_agent_token
from tests.statuspage.conftest import TEST_CONFIG
from tests.statuspage.test_admin_support import (  # noqa: F401 - fixtures
    OPERATOR,
    make_operator,
    make_token,
    reused_postgres,
    settings,
)

PATHS = ["/", "/?lang=en", "/history", "/components/pembelian", "/components/nope",
         "/history.rss", "/history.atom", "/api/v2/summary.json", "/api/v1/probes",
         "/admin/login", "/admin", "/healthz", "/readyz", "/metrics", "/nowhere"]


@pytest.mark.parametrize("path", PATHS)
def test_no_response_can_be_framed(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code < 500
    assert response.headers["x-frame-options"] == "DENY"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    if response.headers.get("content-type", "").startswith("text/html"):
        assert "default-src 'none'" in policy  # no scripts, nothing embedded
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"]


def test_refusals_before_the_routes_carry_the_headers_too(client: TestClient) -> None:
    response = client.post("/api/v1/incidents", content=b"x" * (body_limit("/api/v1/") + 1))
    assert response.status_code == 413
    assert response.headers["x-frame-options"] == "DENY"


@pytest.fixture
def api(client: TestClient, settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    make_operator(settings, *OPERATOR)
    yield client, {"Authorization": f"Bearer {make_token(settings, OPERATOR[0])}"}


@pytest.mark.parametrize(("path", "limit"), [
    ("/api/v1/incidents", body_limit("/api/v1/incidents")),
    ("/api/v1/probe-results", body_limit("/api/v1/probe-results")),
    ("/admin/login", body_limit("/admin/login")),
])
def test_bodies_are_capped_by_route(api: tuple[TestClient, dict[str, str]], db: Database,
                                    path: str, limit: int) -> None:
    client, auth = api
    if path == "/api/v1/probe-results":
        with db.session() as session:
            auth = {"Authorization": f"Bearer {create_agent_token(session, 'jakarta')}"}
    auth = {**auth, "Content-Type": "application/x-www-form-urlencoded"
            if path.startswith("/admin") else "application/json"}
    declared = client.post(path, content=b"{" + b" " * limit + b"}", headers=auth)
    assert declared.status_code == 413, declared.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    streamed = client.post(path, content=chunks(), headers=auth)
    assert streamed.status_code == 413, streamed.text


def test_other_routes_get_the_default_cap(client: TestClient) -> None:
    response = client.post("/nowhere", content=b" " * (DEFAULT_BODY_LIMIT + 1))
    assert response.status_code == 413


def _drive(app: Any, headers: list[tuple[bytes, bytes]], body_size: int) -> tuple[int, int]:
    """POST through the raw ASGI interface; returns (status, body bytes the app pulled)."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += body_size
        return {"type": "http.request", "body": b" " * body_size, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/api/v1/incidents",
             "raw_path": b"/api/v1/incidents", "query_string": b"", "root_path": "",
             "headers": headers, "client": ("203.0.113.9", 1234),
             "server": ("testserver", 80), "state": {}}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], pulled


def test_the_token_is_checked_before_the_body_is_read(api: tuple[TestClient, dict[str, str]]
                                                      ) -> None:
    client, auth = api
    app = client.app
    for headers in ([], [(b"authorization", b"Bearer spt_not-a-real-token")]):
        status, pulled = _drive(app, [(b"host", b"testserver"), *headers], 100_000)
        assert (status, pulled) == (401, 0)
    status, pulled = _drive(app, [(b"host", b"testserver"),
                                  (b"authorization", auth["Authorization"].encode())], 10)
    assert status == 400 and pulled == 10  # a real token: the body is read (and refused)


@pytest.fixture
def down_settings(backend: str, tmp_path: Path) -> Settings:
    """Settings whose database does not answer (no file can be made; nothing listens)."""
    url = (f"sqlite:///{tmp_path}" if backend == "sqlite"  # a directory cannot be opened
           else "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2")
    return Settings(data_dir=tmp_path / "data", database_url=url,
                    secret_key="test-secret-key-not-for-production",
                    config=parse_config(TEST_CONFIG, "<test>"))


def test_database_down_gives_json_503(down_settings: Settings) -> None:
    client = TestClient(create_app(down_settings), raise_server_exceptions=False)
    auth = {"Authorization": "Bearer spt_" + "a" * 40}
    for method, path in (("POST", "/api/v1/incidents"), ("GET", "/api/v1/incidents/x"),
                         ("POST", "/api/v1/incidents/x/resolve")):
        response = client.request(method, path, headers=auth, json={"name": "x"})
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["retry-after"] and response.json()["error"]
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503
