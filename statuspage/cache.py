"""The rendered-bytes cache that keeps the public side up during a surge.

Every public response (pages, JSON, feeds) is rendered once per data version and kept as bytes
(plain and gzip) with its ETag and headers ready to send. A background task polls the database's
change counter once a second (in a thread), and at once when PostgreSQL announces a change
(``statuspage.changes``); a request whose entry is current touches no
database and no template: it is a dict lookup and two ``send`` calls.

- Keys are (path, normalised known query parameters, language); unknown parameters are ignored,
  so ``?x=<random>`` cannot grow the cache, which is an LRU of bounded size anyway.
- Single flight: one render per key and version; concurrent requests get the previous bytes
  or, when there are none, wait for that one render.
- When the database is unreachable the last good bytes are served with a visible notice (HTML)
  or an ``X-Statuspage-Stale`` header (JSON, feeds), never a 500; with no bytes at all, a
  friendly 503 page.

This module holds the entries (``Rendered``, ``Entry`` and its ready-to-send variants) and the
``PageCache``; the ASGI endpoint that serves them is ``statuspage.cached_view.CachedView``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gzip
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

__all__ = [
    "CACHE_CONTROL",
    "STALE_MARKER",
    "Entry",
    "Key",
    "PageCache",
    "Rendered",
    "accepts_gzip",
]

log = logging.getLogger(__name__)

CACHE_CONTROL = b"public, max-age=10, stale-while-revalidate=30, stale-if-error=86400"
#: HTML renderers put this comment where the "data may be stale" notice goes.
STALE_MARKER = b"<!--stale-notice-->"
GZIP_MIN_BYTES = 512
RETRY_AFTER_FAILURE_S = 1.0

#: (path, normalised parameters, language)
Key = tuple[str, tuple[tuple[str, str], ...], str]

# Few headers on purpose: uvicorn checks every response header with two regexes, and on the
# surge path (a 4 KB gzip page) each extra header cost about 5 % of throughput in
# benchmarks/page_throughput.py. HTML pages carry their Content-Security-Policy in a <meta> tag
# (templates/base.html) and need no nosniff (explicit type and charset); Referrer-Policy is left
# to the browsers' default, already strict-origin-when-cross-origin.
_NOSNIFF = (b"x-content-type-options", b"nosniff")


@dataclass(frozen=True)
class Rendered:
    """What a renderer returns: status, body, media type, and the body with a stale notice."""

    status: int
    body: bytes
    media_type: str
    stale_body: bytes | None = None
    extra_headers: tuple[tuple[bytes, bytes], ...] = ()


@dataclass
class _Variant:
    """One representation ready to send: headers and body."""

    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: bytes


def _variant(rendered: Rendered, body: bytes, *, gz: bool, stale: bool, vary: bytes) -> _Variant:
    payload = gzip.compress(body, 6, mtime=0) if gz else body
    digest = hashlib.blake2b(body, digest_size=12).hexdigest().encode()
    etag = b'"' + digest + (b"-gz" if gz else b"") + b'"'
    headers = [
        (b"content-type", rendered.media_type.encode()),
        (b"content-length", str(len(payload)).encode()),
        (b"vary", vary),
    ]
    if rendered.status == 200:
        headers += [(b"etag", etag), (b"cache-control", CACHE_CONTROL)]
    else:
        headers.append((b"cache-control", b"public, max-age=10"))
    if gz:
        headers.append((b"content-encoding", b"gzip"))
    if stale:
        headers.append((b"x-statuspage-stale", b"true"))
    if not rendered.media_type.startswith("text/html"):
        headers.append(_NOSNIFF)
    headers += rendered.extra_headers
    return _Variant(headers, payload, etag)


@dataclass
class Entry:
    """A cached response: the plain and gzip variants, built once, plus lazy stale variants."""

    version: int
    rendered: Rendered
    vary: bytes
    plain: _Variant = field(init=False)
    gzipped: _Variant | None = field(init=False)
    _stale: dict[bool, _Variant] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        r = self.rendered
        self.plain = _variant(r, r.body, gz=False, stale=False, vary=self.vary)
        self.gzipped = (_variant(r, r.body, gz=True, stale=False, vary=self.vary)
                        if len(r.body) >= GZIP_MIN_BYTES else None)

    @property
    def status(self) -> int:
        """The HTTP status of the cached response."""
        return self.rendered.status

    def variant(self, gz: bool, stale: bool) -> _Variant:
        """The representation to send."""
        if not stale:
            return self.gzipped if gz and self.gzipped is not None else self.plain
        gz = gz and self.gzipped is not None
        found = self._stale.get(gz)
        if found is None:
            body = self.rendered.stale_body or self.rendered.body
            found = self._stale[gz] = _variant(self.rendered, body, gz=gz, stale=True,
                                               vary=self.vary)
        return found


@functools.lru_cache(maxsize=256)  # bounded: header values are attacker-controlled
def accepts_gzip(header: bytes) -> bool:
    """Whether an Accept-Encoding value allows gzip (``gzip;q=0`` does not)."""
    for part in header.lower().split(b",")[:20]:
        coding, _, params = part.strip().partition(b";")
        if coding.strip() in (b"gzip", b"x-gzip", b"*"):
            quality = 1.0
            params = params.replace(b" ", b"")
            if params.startswith(b"q="):
                try:
                    quality = float(params[2:])
                except ValueError:
                    quality = 0.0
            return quality > 0
    return False


class PageCache:
    """Rendered responses per key, invalidated by the database change counter."""

    def __init__(self, counter: Callable[[], int], *, max_entries: int = 512,
                 max_missing: int = 256, poll_interval: float = 1.0,
                 poll_timeout: float = 5.0) -> None:
        self._counter = counter
        self.max_entries = max_entries
        self.max_missing = max_missing
        self.poll_interval = poll_interval
        self.poll_timeout = poll_timeout
        self.version: int = -1
        self.db_ok: bool = True
        self.renders: int = 0
        self._entries: OrderedDict[Key, Entry] = OrderedDict()
        self._missing: OrderedDict[Key, Entry] = OrderedDict()
        self._inflight: dict[Key, asyncio.Future[Entry | None]] = {}
        self._failed: dict[Key, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._poll: asyncio.Future[int] | None = None
        self._last_poll = 0.0
        self._wake: asyncio.Event | None = None

    # -- the poller -------------------------------------------------------------------------

    async def poll_once(self) -> None:
        """Read the change counter once (in a thread); note whether the database answers.

        A read that outlives ``poll_timeout`` counts as "unreachable", and no second read
        starts while it hangs, so a stuck database cannot fill the thread pool with polls.
        """
        self._last_poll = time.monotonic()
        pending = self._poll
        if pending is None or pending.done():
            pending = self._poll = asyncio.ensure_future(asyncio.to_thread(self._counter))
        try:
            value = await asyncio.wait_for(asyncio.shield(pending), self.poll_timeout)
        except Exception as exc:  # any driver error: keep serving what we have, marked stale
            if self.db_ok:
                log.warning("database unreachable, serving cached pages as stale: %r", exc)
            self.db_ok = False
            return
        if not self.db_ok:
            log.info("database reachable again")
        self.db_ok = True
        if value != self.version:
            self.version = value

    def wake(self) -> None:
        """Poll now rather than at the next interval (a change was announced)."""
        if self._wake is not None:
            self._wake.set()

    async def _poll_forever(self) -> None:
        self._wake = wake = asyncio.Event()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self.poll_interval)
            wake.clear()
            await self.poll_once()

    async def start(self) -> None:
        """Read the counter once, then keep polling in the background."""
        await self.poll_once()
        if self._task is None:
            self._task = asyncio.create_task(self._poll_forever(), name="page-cache-poller")

    async def stop(self) -> None:
        """Stop polling.

        Cancels until the poller has ended: on Python 3.11 ``asyncio.wait_for`` can swallow a
        cancellation that arrives just as the read it waits for completes, and the poller then
        went on forever (a web process or test client shutting down hung).
        """
        task, self._task = self._task, None
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.1)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- lookups ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every entry (tests)."""
        self._entries.clear()
        self._missing.clear()

    def current(self, key: Key) -> Entry | None:
        """The entry for ``key`` when it is up to date and the database answers, else None."""
        entry = self._entries.get(key)
        if entry is not None and entry.version == self.version and self.db_ok \
                and self._task is not None:
            self._entries.move_to_end(key)  # LRU: O(1), keeps what visitors read
            return entry
        return None

    def peek(self, key: Key) -> Entry | None:
        """The entry for ``key`` whatever its version (tests, diagnostics)."""
        return self._entries.get(key) or self._missing.get(key)

    def _store(self, key: Key, entry: Entry) -> None:
        table, limit = ((self._entries, self.max_entries) if entry.status != 404
                        else (self._missing, self.max_missing))
        other = self._missing if table is self._entries else self._entries
        other.pop(key, None)
        table[key] = entry
        table.move_to_end(key)
        while len(table) > limit:
            table.popitem(last=False)

    async def get(self, key: Key, render: Callable[[], Rendered], vary: bytes
                  ) -> tuple[Entry | None, bool]:
        """The entry to send for ``key`` and whether it is stale.

        ``render`` is synchronous (it reads the database and runs templates) and runs in a
        thread. (None, True) means there is nothing to send: the caller answers 503.
        """
        if self._task is None and time.monotonic() - self._last_poll >= self.poll_interval:
            await self.poll_once()  # no poller (an app driven without its lifespan): poll here
        entry = self._entries.get(key)
        if entry is None:
            entry = self._missing.get(key)
        if entry is not None and entry.version == self.version and self.db_ok:
            return entry, False
        if not self.db_ok and entry is not None:
            return entry, True
        failed_at = self._failed.get(key)
        if failed_at is not None and time.monotonic() - failed_at < RETRY_AFTER_FAILURE_S:
            return entry, True
        pending = self._inflight.get(key)
        if pending is not None and entry is not None:
            return entry, False  # the previous bytes while one render runs
        if pending is None:
            # a task of its own: a client that disconnects must not cancel the shared render
            pending = asyncio.ensure_future(self._build(key, render, vary))
            self._inflight[key] = pending
            pending.add_done_callback(lambda _done: self._inflight.pop(key, None))
        built = await asyncio.shield(pending)
        if built is None:
            return entry, True
        return built, False

    async def _build(self, key: Key, render: Callable[[], Rendered], vary: bytes
                     ) -> Entry | None:
        version = self.version  # read before rendering: a change during it triggers another
        try:
            rendered = await asyncio.to_thread(render)
            entry = await asyncio.to_thread(Entry, version, rendered, vary)
        except Exception:
            log.exception("rendering %s failed; serving the last good bytes", key[0])
            self._failed[key] = time.monotonic()
            if len(self._failed) > self.max_entries:
                self._failed.clear()
            return None
        self._failed.pop(key, None)
        self.renders += 1
        self._store(key, entry)
        return entry

    def keys(self) -> Iterable[Key]:
        """The keys currently cached (diagnostics)."""
        return list(self._entries)
