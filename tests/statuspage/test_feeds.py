"""RSS and Atom feeds: valid in a standard parser, stable ids, every update, no drafts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from starlette.testclient import TestClient

from statuspage.db import Database
from statuspage.feeds import FeedEntry, FeedInfo, build_feed, tag_uri
from statuspage.models import utcnow
from tests.statuspage.test_store_public import add_incident

FEEDS = ["/history.rss", "/history.atom", "/components/pembelian/history.rss",
         "/components/pembelian/history.atom"]


@pytest.fixture
def incident(db: Database) -> str:
    add_incident(db, "Draf rahasia", draft=True, components={"pembelian": "major_outage"})
    add_incident(db, "Situs lambat", components={"situs": "degraded_performance"},
                 started_at=utcnow() - timedelta(days=3))
    return add_incident(db, "Pembelian e-meterai gagal", status="resolved",
                        resolved_at=utcnow(), components={"pembelian": "major_outage"},
                        updates=[("investigating", "Kami **menyelidiki**."),
                                 ("identified", "Antrean <script>x()</script>diterapkan."),
                                 ("resolved", "Pulih.")])


def test_feeds_parse_cleanly(client: TestClient, incident: str) -> None:
    for path in FEEDS:
        r = client.get(path)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith(
            "application/rss+xml" if path.endswith(".rss") else "application/atom+xml")
        feed = feedparser.parse(r.content)
        assert feed.bozo == 0, feed.get("bozo_exception")
        titles = [e.title for e in feed.entries]
        assert "Pembelian e-meterai gagal" in titles and "Draf rahasia" not in titles
        assert ("Situs lambat" in titles) is (not path.startswith("/components"))
        entry = next(e for e in feed.entries if e.title == "Pembelian e-meterai gagal")
        assert entry.id.startswith("tag:testserver,") and entry.id.endswith(f"incidents/{incident}")
        assert entry.link == f"http://testserver/incidents/{incident}"
        content = entry.content[0].value
        for text in ("menyelidiki", "diterapkan", "Pulih.", "Sedang diselidiki", "Selesai"):
            assert text in content
        assert "<script>" not in content
        assert entry.updated_parsed is not None


def check_ids_are_stable(client: TestClient, incident: str, db: Database) -> None:
    first = feedparser.parse(client.get("/history.atom").content)
    add_incident(db, "Insiden lain")
    services = client.app.state.services  # type: ignore[attr-defined]
    services.cache.clear()
    second = feedparser.parse(client.get("/history.atom").content)
    assert first.feed.id == second.feed.id
    assert {e.id for e in first.entries} <= {e.id for e in second.entries}


def check_english_feed_and_unknown_component(client: TestClient, incident: str) -> None:
    feed = feedparser.parse(client.get("/history.atom?lang=en").content)
    assert feed.feed.title.startswith("Incident history") and feed.feed.language == "en"
    assert client.get("/components/nope/history.atom").status_code == 404


def test_build_feed_is_pure() -> None:
    at = datetime(2024, 9, 3, 2, 12, tzinfo=UTC)
    info = FeedInfo(tag_uri("https://status.example", at, "history"), "Riwayat", "",
                    "https://status.example/", "https://status.example/history.rss", "id", at)
    entry = FeedEntry("tag:status.example,2024-09-03:incidents/a", "Gagal",
                      "https://status.example/incidents/a", at, at, "<img src=x onerror=y()>",
                      "<p>Isi &amp; lagi</p>")
    rss = build_feed(info, [entry], "rss")
    # readers render RSS <description> as HTML: the text must arrive escaped twice
    assert b"<description>&amp;lt;img" in rss
    for kind in ("rss", "atom"):
        parsed = feedparser.parse(build_feed(info, [entry], kind))
        assert parsed.bozo == 0 and parsed.entries[0].id == entry.id
        assert "Isi &amp; lagi" in parsed.entries[0].content[0].value
    with pytest.raises(ValueError, match="unknown feed kind"):
        build_feed(info, [], "json")


def test_languages_and_stable_ids(client: TestClient, incident: str, db: Database) -> None:
    """One database set-up for several checks (each runs on both backends)."""
    check_english_feed_and_unknown_component(client, incident)
    check_ids_are_stable(client, incident, db)
