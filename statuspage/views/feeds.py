"""Feeds of the incident history: ``/history.rss``, ``/history.atom`` and per component.

Thin handlers: read the component, recent published incidents (``recent_incidents``) and the
last change time in one read-only transaction, render each entry's content
from ``templates/_feed_entry.html`` (autoescaped, Markdown sanitised), hand plain values to the
pure ``statuspage.feeds.build_feed``. Served from the page cache like every public response.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from starlette.routing import BaseRoute, Route

from statuspage.cache import Rendered
from statuspage.cached_view import CachedView, RenderRequest
from statuspage.feeds import FeedEntry, FeedInfo, build_feed, tag_uri
from statuspage.markdown import to_plain_text
from statuspage.models import ChangeCounter, Component, utcnow
from statuspage.services import Services
from statuspage.store.public import IncidentView, recent_incidents
from statuspage.views.public import render_page

__all__ = ["MEDIA_TYPES", "routes"]

MEDIA_TYPES = {"atom": "application/atom+xml; charset=utf-8",
               "rss": "application/rss+xml; charset=utf-8"}
FEED_LENGTH = 50
#: The date in the feeds' own tag: URIs; fixed, so a feed's id never changes.
FEED_TAG_DATE = datetime(2024, 1, 1, tzinfo=UTC)
_CORS = ((b"access-control-allow-origin", b"*"),)


def _entry(services: Services, incident: IncidentView, lang: str) -> FeedEntry:
    url = services.settings.config.page.url
    content = services.render_html("_feed_entry.html", {"incident": incident}, lang)
    latest = max((u.display_at for u in incident.updates), default=incident.updated_at)
    summary = to_plain_text(incident.updates[0].body) if incident.updates else incident.name
    return FeedEntry(
        id=tag_uri(url, incident.created_at, f"incidents/{incident.id}"),
        title=incident.name,
        link=f"{url}/incidents/{incident.id}",
        published=incident.created_at,
        updated=max(latest, incident.updated_at),
        summary=summary[:300],
        content_html=content,
    )


def _feed_view(kind: str) -> CachedView:
    def render(services: Services, request: RenderRequest) -> Rendered:
        config = services.settings.config
        catalog = services.catalogs[request.lang]
        component_id = request.path_params.get("component_id")
        with services.db.read() as session:
            component = None
            if component_id is not None:
                component = session.get(Component, component_id[:64])
                if component is None or not component.active:
                    return render_page(services, request, "not_found.html", {}, 404)
            incidents = recent_incidents(session, kind=None, limit=FEED_LENGTH,
                                         component_id=component_id)
            changed = session.scalar(sa.select(ChangeCounter.changed_at)
                                     .where(ChangeCounter.id == 1))
        url = config.page.url
        title = catalog.gettext("Incident history of %(name)s") % {"name": config.page.name}
        specific = "history"
        if component is not None:
            title = catalog.gettext("Incident history of %(name)s: %(component)s") % {
                "name": config.page.name, "component": component.name}
            specific = f"components/{component.id}/history"
        info = FeedInfo(
            id=tag_uri(url, FEED_TAG_DATE, specific),
            title=title, subtitle=config.page.description, page_url=url + "/",
            self_url=f"{url}{request.path}", language=request.lang,
            author=services.settings.config.page.name,
            updated=max([changed or utcnow(), *(i.updated_at for i in incidents)]))
        entries = [_entry(services, i, request.lang) for i in incidents]
        return Rendered(200, build_feed(info, entries, kind), MEDIA_TYPES[kind], None, _CORS)

    return CachedView(render)


def routes() -> list[BaseRoute]:
    """The feed routes."""
    methods = ["GET", "HEAD"]
    return [
        Route("/history.rss", _feed_view("rss"), methods=methods),
        Route("/history.atom", _feed_view("atom"), methods=methods),
        Route("/components/{component_id}/history.rss", _feed_view("rss"), methods=methods),
        Route("/components/{component_id}/history.atom", _feed_view("atom"), methods=methods),
    ]
