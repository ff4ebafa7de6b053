"""Feed validity: the rules the W3C feed validator enforces, checked without it.

The W3C validator (validator.w3.org/feed) is not installable offline. It refused our Atom feed
for entries without an author and flagged the RSS channel's ``<link>`` (the feed, not the page).
These tests parse both feeds with feedparser (no bozo) and check, element by element, the rules
the validator applies to what we emit (RFC 4287 for Atom, RSS 2.0 for RSS):

Atom: one ``id``/``title``/``updated`` on the feed and on every entry; ids are absolute URIs
and unique; ``updated`` is RFC 3339; an author on the feed or on every entry, with a ``name``;
a ``link rel="self"`` equal to the feed's own address; each entry has an alternate link.
RSS: the channel has ``title``, ``link`` and ``description``; its ``link`` is the web page;
an ``atom:link rel="self"`` equal to the feed's address; every item has a title, a unique
``guid`` and an RFC 822 ``pubDate``; no ``author`` without an e-mail address.
Both: entries most recently updated first.
"""

from __future__ import annotations

import email.utils
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import feedparser
import pytest
from starlette.testclient import TestClient

from statuspage.db import Database
from statuspage.models import Incident, IncidentUpdate, new_id, utcnow
from tests.statuspage.test_store_public import add_incident

ATOM = "{http://www.w3.org/2005/Atom}"
FEEDS = ["/history.rss", "/history.atom", "/components/pembelian/history.rss",
         "/components/pembelian/history.atom"]


@pytest.fixture
def incidents(db: Database) -> list[str]:
    """The oldest incident is the one updated last: order by update, not by creation."""
    now = utcnow()
    old = add_incident(db, "Lama tapi baru diperbarui", components={"pembelian": "major_outage"},
                       started_at=now - timedelta(days=5),
                       updates=[("investigating", "Mulai."), ("identified", "Ketemu.")])
    new = add_incident(db, "Baru", components={"pembelian": "partial_outage"},
                       started_at=now - timedelta(days=1))
    with db.session() as session:  # a fresh update on the old incident
        incident = session.get(Incident, old)
        assert incident is not None
        incident.updated_at = now
        incident.updates.append(IncidentUpdate(id=new_id(), status="monitoring", body="Pulih.",
                                               created_at=now, display_at=now, updated_at=now))
    return [old, new]


def _absolute(uri: str) -> bool:
    return bool(urlsplit(uri).scheme)


def _rfc3339(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert moment.tzinfo is not None, text
    return moment


def check_atom(body: bytes, location: str) -> list[str]:
    root = ET.fromstring(body)  # noqa: S314 - our own feed, built by this test's app
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{name}")) == 1, name
    assert _absolute(root.findtext(f"{ATOM}id") or "")
    _rfc3339(root.findtext(f"{ATOM}updated") or "")
    selves = [link.get("href") for link in root.findall(f"{ATOM}link")
              if link.get("rel") == "self"]
    assert selves == [location], selves
    feed_author = root.find(f"{ATOM}author")
    ids, order = set(), []
    for entry in root.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
        entry_id = entry.findtext(f"{ATOM}id") or ""
        assert _absolute(entry_id) and entry_id not in ids
        ids.add(entry_id)
        author = entry.find(f"{ATOM}author")
        named = author if author is not None else feed_author
        assert named is not None, "MissingAuthor"
        assert (named.findtext(f"{ATOM}name") or "")
        assert any(link.get("rel", "alternate") == "alternate"
                   for link in entry.findall(f"{ATOM}link"))
        order.append(_rfc3339(entry.findtext(f"{ATOM}updated") or ""))
    assert order == sorted(order, reverse=True), "entries by last update"
    return [e.findtext(f"{ATOM}title") or "" for e in root.findall(f"{ATOM}entry")]


def check_rss(body: bytes, location: str, page: str) -> list[str]:
    root = ET.fromstring(body)  # noqa: S314 - our own feed, built by this test's app
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel is not None
    for name in ("title", "link", "description"):
        assert (channel.findtext(name) or "").strip(), name
    assert channel.findtext("link") == page, "the channel links to the page, not the feed"
    selves = [link.get("href") for link in channel.findall(f"{ATOM}link")
              if link.get("rel") == "self"]
    assert selves == [location]
    guids = set()
    for item in channel.findall("item"):
        assert (item.findtext("title") or "").strip()
        guid = item.findtext("guid") or ""
        assert guid and guid not in guids
        guids.add(guid)
        assert email.utils.parsedate_to_datetime(item.findtext("pubDate") or "") is not None
        author = item.findtext("author")
        assert author is None or "@" in author, "RSS author must be an e-mail address"
    return [item.findtext("title") or "" for item in channel.findall("item")]


@pytest.mark.parametrize("path", FEEDS)
def test_feed_is_valid(client: TestClient, incidents: list[str], path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    location = "http://testserver" + path
    if path.endswith(".atom"):
        titles = check_atom(response.content, location)
    else:
        page = "http://testserver/"
        titles = check_rss(response.content, location, page)
    assert titles[:2] == ["Lama tapi baru diperbarui", "Baru"]
