"""The composition root: one object holding every shared resource, handed to every view.

Built once per process by ``create_app``; tests build their own. Nothing here lives at module
level, so several apps (and several processes sharing one PostgreSQL) never share hidden state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.templating import Jinja2Templates

from statuspage.cache import PageCache
from statuspage.changes import listen_for_changes
from statuspage.db import Database
from statuspage.i18n import Catalog, Formatter, load_catalogs, negotiate_language
from statuspage.markdown import render_markdown, to_plain_text
from statuspage.settings import Settings

if TYPE_CHECKING:  # built on first use by the views that need them
    from argon2 import PasswordHasher
    from prometheus_client import CollectorRegistry

    from statuspage.notice_signing import NoticeKey

__all__ = ["INDICATOR_ICONS", "LEVEL_CLASS", "STATUS_ICONS", "Services", "TEMPLATES_DIR"]

log = logging.getLogger(__name__)
#: Threads for the web process's blocking work (``asyncio.to_thread``: database transactions,
#: page renders, password hashing). Python's default on this 2-core host would be 6; 40 is what
#: Starlette's threadpool allowed handlers before, so a few requests waiting on a lock or on
#: argon2 do not hold up page renders. The database pool (10 + 10 overflow) bounds the rest.
WEB_THREADS = 40
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

#: A shape per status, so status never relies on colour alone (shown next to the words).
STATUS_ICONS: dict[str, str] = {
    "operational": "✓",
    "degraded_performance": "!",
    "partial_outage": "◐",
    "major_outage": "✕",
    "under_maintenance": "⚙",
    "no_data": "·",
}
#: The CSS class of each status (short: the home page repeats it 90 times per component).
LEVEL_CLASS: dict[str, str] = {
    "operational": "s0", "degraded_performance": "s1", "partial_outage": "s2",
    "major_outage": "s3", "under_maintenance": "s4", "no_data": "s5",
}
#: Each language's name in itself, for the language switch.
LANGUAGE_NAMES: dict[str, str] = {"id": "Bahasa Indonesia", "en": "English"}
#: A shape for the page indicator, shown beside its words.
INDICATOR_ICONS: dict[str, str] = {
    "none": "✓", "minor": "!", "major": "◐", "critical": "✕", "maintenance": "⚙",
}


@dataclass
class Services:
    """Settings, database, templates, languages and the page cache of one process."""

    settings: Settings
    db: Database
    templates: Jinja2Templates
    cache: PageCache = field(init=False)
    #: The 503 page per language, rendered at start while nothing is wrong.
    unavailable: dict[str, bytes] = field(default_factory=dict)
    #: Built on first use (``views.admin.common.hasher``, ``views.probes_api``,
    #: ``views.notice_documents``): a process that never serves them never pays for them.
    password_hasher: PasswordHasher | None = None
    metrics_registry: CollectorRegistry | None = None
    notice_key: NoticeKey | None = None
    catalogs: dict[str, Catalog] = field(init=False)
    formatters: dict[str, Formatter] = field(init=False)
    _languages: dict[tuple[str | None, bytes], str] = field(default_factory=dict, init=False)
    #: the task that hears PostgreSQL's change announcements (None on SQLite)
    listener: asyncio.Task[None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        page = self.settings.config.page
        self.cache = PageCache(self.db.change_counter)
        self.catalogs = load_catalogs(page.languages)
        self.formatters = {lang: Formatter(lang, page.time_zone, page.time_zone_label)
                           for lang in page.languages}
        env = self.templates.env
        env.add_extension("jinja2.ext.i18n")
        default = self.catalogs[self.default_language].template_callables()
        env.install_gettext_callables(default["gettext"], default["ngettext"],  # type: ignore[attr-defined]
                                      newstyle=True)
        env.globals.update(page=page, status_icons=STATUS_ICONS, level_class=LEVEL_CLASS,
                           indicator_icons=INDICATOR_ICONS, languages=page.languages,
                           default_language=self.default_language)
        env.filters["markdown"] = render_markdown
        env.filters["plain"] = to_plain_text

    @classmethod
    def create(cls, settings: Settings) -> Services:
        """Connect to the database and load the templates (no I/O beyond that)."""
        templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
        return cls(settings=settings, db=Database(settings.database_url), templates=templates)

    @property
    def default_language(self) -> str:
        """The first configured language (Bahasa Indonesia unless configured otherwise)."""
        return self.settings.config.page.languages[0]

    def language(self, query: str | None, accept_language: bytes) -> str:
        """The page language for a request (memoised per header value, bounded)."""
        key = (query, accept_language)
        found = self._languages.get(key)
        if found is None:
            found = negotiate_language(query, accept_language.decode("latin-1"),
                                       self.settings.config.page.languages,
                                       self.default_language)
            if len(self._languages) > 512:  # header values are attacker-controlled
                self._languages.clear()
            self._languages[key] = found
        return found

    def render_html(self, name: str, context: dict[str, Any], lang: str, path: str = "/",
                    params: dict[str, str] | None = None) -> str:
        """Render a page template in ``lang``.

        Adds gettext, the formatter, ``link(path, **params)`` (keeps the language in links)
        and ``switch`` (links to the same page in the other languages).
        """

        def link(target: str, **query: object) -> str:
            # always explicit: a visitor who picked a language keeps it on every page, and the
            # bytes stay the same however the language was negotiated (one cache entry)
            values = {k: str(v) for k, v in query.items() if v is not None}
            values["lang"] = lang
            return target + "?" + urlencode(values)

        switch = [(other, LANGUAGE_NAMES.get(other, other),
                   path + "?" + urlencode({**(params or {}), "lang": other}))
                  for other in self.settings.config.page.languages if other != lang]
        values = dict(context)
        values.update(self.catalogs[lang].template_callables())
        values.update(lang=lang, fmt=self.formatters[lang], link=link, switch=switch)
        return self.templates.get_template(name).render(values)

    async def start(self) -> None:
        """Start background work owned by the web process: the page cache's poller.

        The 503 page is rendered now, while nothing is wrong, so it can be sent when the
        database is down and nothing else is cached. The loop's default executor (where
        ``asyncio.to_thread`` runs) gets ``WEB_THREADS`` threads; the loop shuts it down.
        """
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=WEB_THREADS, thread_name_prefix="statuspage-web"))
        self.unavailable = {
            lang: self.render_html("unavailable.html", {"sample_data": False}, lang).encode()
            for lang in self.settings.config.page.languages
        }
        await self.cache.start()
        if self.db.engine.dialect.name == "postgresql":
            self.listener = asyncio.create_task(
                listen_for_changes(self.db.url, self.cache.wake), name="change-listener")

    async def stop(self) -> None:
        """Stop background work and release connections."""
        if self.listener is not None:
            self.listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.listener
            self.listener = None
        await self.cache.stop()
        self.db.dispose()
