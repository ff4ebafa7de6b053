"""With no page URL configured, links name the host and port actually served."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest
from starlette.testclient import TestClient

from statuspage.app import create_app
from statuspage.cli.serve import _served, public_url
from statuspage.config_parser import load_config, parse_config
from statuspage.db import Database, prepare_database
from statuspage.settings import Settings
from statuspage.store.incidents import create_incident


@pytest.mark.parametrize(("host", "port", "url"), [
    ("127.0.0.1", 8123, "http://127.0.0.1:8123"),
    ("0.0.0.0", 9000, "http://127.0.0.1:9000"),  # noqa: S104 - a wildcard bind
    ("status.local", 80, "http://status.local:80"), ("::1", 8000, "http://[::1]:8000"),
    ("::", 8000, "http://[::1]:8000"),
])
def test_public_url_from_the_bind(host: str, port: int, url: str) -> None:
    assert public_url(host, port) == url


def test_the_packaged_config_leaves_the_url_to_serve() -> None:
    assert not load_config(None).page.url_configured
    assert parse_config('[page]\nurl = "https://status.example.id"\n', "<t>").page.url_configured


def test_serve_derives_and_hands_the_url_to_every_process(
        tmp_path: Path, make_database_url: Callable[[str], str]) -> None:
    settings = Settings(data_dir=tmp_path, database_url=make_database_url("url"),
                        secret_key="k", config=load_config(None))
    prepare_database(settings)
    served, env = _served(settings, argparse.Namespace(host="127.0.0.1", port=8765))
    assert served.config.page.url == "http://127.0.0.1:8765"
    assert env["STATUSPAGE_PAGE_URL"] == "http://127.0.0.1:8765"
    child = Settings.from_env({**env, "STATUSPAGE_CONFIG": ""}, secret_key="k")
    assert child.config.page.url == "http://127.0.0.1:8765"  # web processes and the worker
    db = Database(settings.database_url)
    with db.session() as session:
        iid = create_incident(session, name="Gangguan", status="investigating", impact="minor",
                              body="Ada.", components={}, notify=False, author=None).id
    db.dispose()
    with TestClient(create_app(served), base_url="http://127.0.0.1:8765") as client:
        summary = client.get("/api/v2/summary.json").json()
        assert summary["page"]["url"] == "http://127.0.0.1:8765"
        links = [i["shortlink"] for i in summary["incidents"]]
        assert links == [f"http://127.0.0.1:8765/incidents/{iid}"]
        feed = feedparser.parse(client.get("/history.atom").content)
        assert feed.feed.link.startswith("http://127.0.0.1:8765")
        assert feed.entries[0].link == f"http://127.0.0.1:8765/incidents/{iid}"
