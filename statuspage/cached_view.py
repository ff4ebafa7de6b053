"""The ASGI endpoint of the public side: ``CachedView`` serves one resource from the page cache.

It reads the request (path, the query parameters that matter, the negotiated language), looks
the key up in ``services.cache`` (``statuspage.cache.PageCache``), renders in a thread on a
miss, and answers with the cached bytes: gzip when accepted, 304 on a matching ETag, the last
good bytes marked stale when the database is down, a friendly 503 when there are none.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from statuspage.cache import CACHE_CONTROL, Key, Rendered, accepts_gzip

if TYPE_CHECKING:  # annotations only: the endpoint reaches Services through the app's state
    from statuspage.services import Services

__all__ = ["CachedView", "RenderRequest"]


@dataclass(frozen=True)
class RenderRequest:
    """What a renderer gets: the normalised request (no headers, no body)."""

    path: str
    path_params: dict[str, str]
    params: dict[str, str]
    lang: str
    explicit_lang: bool


Renderer = Callable[["Services", RenderRequest], Rendered]
_VARY_LANG = b"Accept-Encoding, Accept-Language"
_VARY = b"Accept-Encoding"


def _etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    """Weak comparison (RFC 9110 13.1.2), as If-None-Match requires."""
    if if_none_match.strip() == b"*":
        return True
    if etag not in if_none_match:
        return False
    return any(t.strip().removeprefix(b"W/") == etag for t in if_none_match.split(b","))


class CachedView:
    """A pure ASGI endpoint serving one public resource from ``services.cache``.

    ``render(services, request)`` runs in a thread on a miss; ``params`` maps the query
    parameters that change the response to a normaliser (returning None drops the value, so
    ``?page=1`` and ``?page=01`` share the default's entry); every other parameter is ignored.
    ``localized`` adds the negotiated
    language to the key and ``Accept-Language`` to ``Vary``.
    """

    def __init__(self, render: Renderer, *,
                 params: Mapping[str, Callable[[str], str | None]] | None = None,
                 localized: bool = True) -> None:
        self.render = render
        self.params = dict(params or {})
        self.localized = localized
        self.vary = _VARY_LANG if localized else _VARY

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        services: Services = scope["app"].state.services
        encoding = language = if_none_match = b""
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                encoding = value
            elif name == b"accept-language":
                language = value
            elif name == b"if-none-match":
                if_none_match = value
        params: dict[str, str] = {}
        query_lang: str | None = None
        if scope["query_string"]:
            for name, value in parse_qsl(scope["query_string"].decode("latin-1"))[:30]:
                if name == "lang":
                    query_lang = query_lang or value[:8]
                elif name in self.params and name not in params:
                    normalised = self.params[name](value[:64])
                    if normalised is not None:
                        params[name] = normalised
        lang = services.language(query_lang, language) if self.localized else ""
        key: Key = (scope["path"], tuple(sorted(params.items())), lang)
        cache = services.cache
        entry = cache.current(key)  # the surge path: one dict lookup, no await, no allocation
        stale = False
        if entry is None:
            request = RenderRequest(scope["path"], scope.get("path_params", {}), params, lang,
                                    query_lang is not None)
            entry, stale = await cache.get(
                key, functools.partial(self.render, services, request), self.vary)
        head = scope["method"] == "HEAD"
        if entry is None:
            body = services.unavailable.get(lang or services.default_language,
                                            b"Service unavailable")
            await send({"type": "http.response.start", "status": 503, "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"), (b"retry-after", b"10")]})
            await send({"type": "http.response.body", "body": b"" if head else body})
            return
        variant = entry.variant(bool(encoding) and accepts_gzip(encoding), stale)
        if if_none_match and entry.status == 200 and _etag_matches(if_none_match, variant.etag):
            await send({"type": "http.response.start", "status": 304, "headers": [
                (b"etag", variant.etag), (b"cache-control", CACHE_CONTROL),
                (b"vary", self.vary)]})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": entry.status,
                    "headers": variant.headers})
        await send({"type": "http.response.body", "body": b"" if head else variant.body})
