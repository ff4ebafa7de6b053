"""Fixtures for the status page: settings, then a migrated database, then the app and a client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from statuspage.app import create_app
from statuspage.config_parser import parse_config
from statuspage.db import Database, prepare_database
from statuspage.settings import Settings

TEST_CONFIG = """
[page]
name = "Status Uji"
url = "http://testserver"

[[components]]
id = "pembelian"
name = "Pembelian kuota"
group = "Layanan e-Meterai"

[[components]]
id = "pembubuhan"
name = "Pembubuhan e-meterai"
group = "Layanan e-Meterai"

[[components]]
id = "situs"
name = "Situs web"
"""


@pytest.fixture
def config_text() -> str:
    """The TOML used by ``settings``; override in a module to test other configs."""
    return TEST_CONFIG


@pytest.fixture
def settings(make_database_url: Callable[..., str], tmp_path: Path, config_text: str) -> Settings:
    """Settings on a fresh, migrated database of the current backend (SQLite or PostgreSQL),
    copied from the session's template (``prepare_database`` then finds nothing to migrate)."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=make_database_url("status", migrated="statuspage"),
        secret_key="test-secret-key-not-for-production",
        config=parse_config(config_text, "<test>"),
    )
    prepare_database(settings)
    return settings


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    """A Database on the test settings."""
    database = Database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def app(settings: Settings) -> Starlette:
    """The status page app."""
    return create_app(settings)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    """A test client with the lifespan running."""
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
async def aclient(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An async client driving the app in-process (lifespan not run; prefer ``client``)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
