"""RSS 2.0 and Atom feeds of the incident history, built with feedgen.

Pure: plain values in, bytes out. The caller provides each entry's content as HTML that is
already sanitised (rendered from a template with autoescape and ``render_markdown``).
Ids are tag URIs derived from the page's host and the incident's id and creation date, so an
entry keeps its id for ever, whatever its title or status becomes.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator

__all__ = ["FeedEntry", "FeedInfo", "build_feed", "tag_uri"]

FORMATS = ("atom", "rss")


@dataclass(frozen=True)
class FeedInfo:
    """The feed itself."""

    id: str
    title: str
    subtitle: str
    page_url: str
    self_url: str
    language: str
    updated: datetime
    #: Who writes the entries (Atom requires an author on every entry or on the feed).
    author: str = ""


@dataclass(frozen=True)
class FeedEntry:
    """One incident (or maintenance) with all its updates in ``content_html``."""

    id: str
    title: str
    link: str
    published: datetime
    updated: datetime
    summary: str
    content_html: str


def tag_uri(page_url: str, created: datetime, specific: str) -> str:
    """A tag: URI (RFC 4151), e.g. ``tag:status.example,2024-09-03:incidents/abc``."""
    host = urlsplit(page_url).hostname or "localhost"
    return f"tag:{host},{created.date().isoformat()}:{specific}"


def build_feed(info: FeedInfo, entries: Sequence[FeedEntry], kind: str) -> bytes:
    """The feed as bytes; ``kind`` is "atom" or "rss" (RSS 2.0).

    Entries go out most recently updated first (a reader shows the incident that just changed
    at the top). What the W3C feed validator checks is kept true here: the RSS channel's
    ``<link>`` is the page (feedgen takes the last link added, so ``self`` goes first), the
    ``atom:link rel="self"`` is the feed, and every Atom entry has an author.
    """
    if kind not in FORMATS:
        raise ValueError(f"unknown feed kind {kind!r}")
    fg = FeedGenerator()
    fg.id(info.id)
    fg.title(info.title)
    fg.subtitle(info.subtitle or info.title)  # RSS requires a description
    fg.link(href=info.self_url, rel="self")
    fg.link(href=info.page_url, rel="alternate")  # last: RSS's channel <link>
    author = {"name": info.author or info.title, "uri": info.page_url}
    fg.author(author)
    fg.language(info.language)
    fg.updated(info.updated)
    fg.generator("statuspage")
    # feedgen prepends by default; append keeps the caller's newest-first order
    for item in sorted(entries, key=lambda e: e.updated, reverse=True):
        fe = fg.add_entry(order="append")
        fe.author(author)
        fe.id(item.id)
        fe.guid(item.id, permalink=False)
        fe.title(item.title)
        fe.link(href=item.link, rel="alternate")
        fe.published(item.published)
        fe.updated(item.updated)
        # RSS readers render <description> as HTML: escape the plain text once more so that a
        # typed "<img onerror>" stays text there (Atom's <summary> is declared text already)
        fe.summary(html.escape(item.summary) if kind == "rss" else item.summary)
        fe.content(item.content_html, type="CDATA" if kind == "rss" else "html")
    if kind == "atom":
        return bytes(fg.atom_str(pretty=False))
    return bytes(fg.rss_str(pretty=False))
