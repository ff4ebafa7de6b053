"""Fixtures and helpers shared by the console tests (imported by test_admin*, test_auth*, ...).

``settings`` is overridden to use cheap argon2 parameters (``extra["argon2_profile"] = "test"``)
so logging in costs microseconds (production keeps argon2-cffi's defaults), and to reuse one
PostgreSQL database, emptied between tests, instead of creating one per test.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.testclient import TestClient

from statuspage.app import create_app
from statuspage.auth import password_hasher
from statuspage.cli.serve import prepare_database
from statuspage.config import parse_config
from statuspage.db import Database, migrate
from statuspage.models import Base
from statuspage.settings import Settings
from statuspage.store.operators import create_operator, create_token
from tests.conftest import PG_ADMIN_URL

ADMIN = ("admin@example.id", "rahasia-admin-123")
OPERATOR = ("ops@example.id", "rahasia-ops-1234")
#: For tests of HTTP and form behaviour that does not depend on the database backend: the
#: store verbs they call are covered on both backends elsewhere, and each PostgreSQL database
#: costs about a second to create and migrate.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')

__all__ = ["ADMIN", "OPERATOR", "admin", "csrf_from", "eventually_contains", "form_post",
           "login", "make_operator", "make_token", "operator", "reused_postgres", "settings",
           "sqlite_only"]


class _ReusedPostgres:
    """One migrated PostgreSQL database reused by the console tests, emptied between tests.

    Creating and dropping a PostgreSQL database costs about two seconds here, more than most
    console tests; resetting one is a TRUNCATE plus the rows the migrations seeded.
    """

    def __init__(self) -> None:
        self.url: str | None = None
        self.name = f"t_console_{uuid.uuid4().hex[:10]}"
        self.seed: dict[str, list[dict[str, object]]] = {}

    def fresh(self) -> str:
        """The URL of an empty, migrated database (components not yet synced)."""
        if self.url is None:
            admin_engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin_engine.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
            admin_engine.dispose()
            self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name
            migrate(self.url)
            engine = sa.create_engine(self.url)
            with engine.connect() as conn:
                for table in Base.metadata.sorted_tables:
                    rows = [dict(r._mapping) for r in conn.execute(sa.select(table))]
                    if rows:
                        self.seed[table.name] = rows
            engine.dispose()
            return self.url
        engine = sa.create_engine(self.url)
        with engine.begin() as conn:
            conn.execute(sa.text("SET LOCAL lock_timeout = '10s'"))
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            for table in Base.metadata.sorted_tables:
                if table.name in self.seed:
                    conn.execute(table.insert(), self.seed[table.name])
        engine.dispose()
        return self.url

    def drop(self) -> None:
        """Drop the database at the end of the session."""
        if self.url is None:
            return
        admin_engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin_engine.dispose()


@pytest.fixture(scope="session")
def reused_postgres() -> Iterator[_ReusedPostgres]:
    """The session's reusable PostgreSQL database (created on first use)."""
    pool = _ReusedPostgres()
    yield pool
    pool.drop()


@pytest.fixture
def settings(backend: str, tmp_path: Path, config_text: str,
             request: pytest.FixtureRequest) -> Settings:
    """Test settings like the shared fixture's, with fast argon2 parameters.

    SQLite gets a fresh file per test; PostgreSQL a reset, reused database (see above).
    """
    if backend == "postgresql":
        url = request.getfixturevalue("reused_postgres").fresh()
    else:
        url = f"sqlite:///{tmp_path / 'status.sqlite3'}"
    settings = Settings(data_dir=tmp_path / "data", database_url=url,
                        secret_key="test-secret-key-not-for-production",
                        config=parse_config(config_text, "<test>"),
                        extra={"argon2_profile": "test"})
    prepare_database(settings)
    return settings


def make_operator(settings: Settings, email: str, password: str, role: str = "operator") -> None:
    """Create an account directly in the database."""
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            create_operator(session, password_hasher(settings.extra), email=email,
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


def eventually_contains(client: TestClient, path: str, text: str, timeout: float = 4.0
                        ) -> httpx.Response:
    """GET ``path`` until it contains ``text``: public pages are cached bytes that refresh
    within about a second of a write (the change counter is polled), by design."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(path)
        if text in response.text or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


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
