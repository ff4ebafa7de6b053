"""Fixtures and helpers shared by the console tests (imported by test_admin*, test_auth*, ...).

``settings`` is overridden to use cheap argon2 parameters (``argon2_profile = "test"``)
so logging in costs microseconds (production keeps argon2-cffi's defaults).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from statuspage.app import create_app
from statuspage.auth import password_hasher
from statuspage.config_parser import parse_config
from statuspage.db import Database, prepare_database
from statuspage.services import Services
from statuspage.settings import Settings
from statuspage.store.operators import create_operator, create_token
from tests.databases import PostgresPool

ADMIN = ("admin@example.id", "rahasia-admin-123")
OPERATOR = ("ops@example.id", "rahasia-ops-1234")
#: For tests of HTTP and form behaviour that does not depend on the database backend: the
#: store verbs they call are covered on both backends elsewhere, and each PostgreSQL database
#: costs about a second to create and migrate.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')

__all__ = ["ADMIN", "OPERATOR", "admin", "app_services", "csrf_from", "eventually_contains",
           "form_post", "login", "make_operator", "make_token", "operator", "poll_now",
           "reused_postgres", "settings", "sqlite_only"]


@pytest.fixture
def reused_postgres(postgres_pool: PostgresPool) -> PostgresPool:
    """The session's pool of migrated PostgreSQL databases (kept under its old name for the
    modules that import it; ``settings`` draws from the pool through ``make_database_url``)."""
    return postgres_pool


@pytest.fixture
def settings(make_database_url: Callable[..., str], tmp_path: Path, config_text: str
             ) -> Settings:
    """Test settings like the shared fixture's, with fast argon2 parameters, on a copy of the
    migrated template database (see ``tests/databases.py``)."""
    settings = Settings(data_dir=tmp_path / "data",
                        database_url=make_database_url("status", migrated="statuspage"),
                        secret_key="test-secret-key-not-for-production",
                        config=parse_config(config_text, "<test>"),
                        argon2_profile="test")
    prepare_database(settings)
    return settings


def make_operator(settings: Settings, email: str, password: str, role: str = "operator") -> None:
    """Create an account directly in the database."""
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            create_operator(session, password_hasher(settings.argon2_profile), email=email,
                            password=password, role=role)
    finally:
        db.dispose()


def make_token(settings: Settings, email: str, name: str = "ci") -> str:
    """Create an API token for ``email``; returns the secret."""
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            return create_token(session, email, name)[1]
    finally:
        db.dispose()


def csrf_from(html: str) -> str:
    """The first CSRF token in a page."""
    found = _CSRF.search(html)
    assert found, "no csrf_token field on the page"
    return found.group(1)


def login(client: TestClient, email: str, password: str) -> httpx.Response:
    """Log in through the form (GET for the token, then POST), without following redirects."""
    page = client.get("/admin/login")
    return client.post("/admin/login", data={
        "email": email, "password": password, "csrf_token": csrf_from(page.text)},
        follow_redirects=False)


def form_post(client: TestClient, page_path: str, action: str,
              data: dict[str, str | list[str]], headers: dict[str, str] | None = None
              ) -> httpx.Response:
    """Fetch ``page_path`` for its CSRF token, then post ``data`` to ``action``."""
    token = csrf_from(client.get(page_path).text)
    return client.post(action, data={**data, "csrf_token": token}, headers=headers,
                       follow_redirects=False)


def app_services(client: TestClient) -> Services:
    """The services the app's lifespan built (``TestClient.app`` is typed as any ASGI app)."""
    assert isinstance(client.app, Starlette)
    services: Services = client.app.state.services
    return services


def poll_now(client: TestClient) -> None:
    """Run the page cache's change-counter poll now, in the app's event loop, instead of
    waiting up to a second for its poller (public pages are cached bytes, by design)."""
    assert client.portal is not None, "the client runs as a context manager (lifespan)"
    client.portal.call(app_services(client).cache.poll_once)


def eventually_contains(client: TestClient, path: str, text: str, timeout: float = 4.0
                        ) -> httpx.Response:
    """GET ``path`` until it contains ``text``, polling the change counter before each try
    (a write shows once the poll has seen it)."""
    deadline = time.monotonic() + timeout
    while True:
        poll_now(client)
        response = client.get(path)
        if text in response.text or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def _logged_in(app: Starlette, settings: Settings, who: tuple[str, str], role: str
               ) -> Iterator[TestClient]:
    make_operator(settings, who[0], who[1], role)
    with TestClient(app, base_url="http://testserver") as client:
        assert login(client, *who).status_code == 303
        yield client


@pytest.fixture
def admin(app: Starlette, settings: Settings) -> Iterator[TestClient]:
    """A client logged in as an admin."""
    yield from _logged_in(app, settings, ADMIN, "admin")


@pytest.fixture
def operator(settings: Settings) -> Iterator[TestClient]:
    """A client logged in as a plain operator (its own app instance, same database)."""
    yield from _logged_in(create_app(settings), settings, OPERATOR, "operator")
