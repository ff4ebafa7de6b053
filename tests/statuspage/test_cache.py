"""The rendered-bytes cache: validators, compression, invalidation, single flight, failure."""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from starlette.testclient import TestClient

from statuspage.cache import PageCache, Rendered, accepts_gzip
from statuspage.db import Database
from tests.statuspage.test_store_public import add_incident

PUBLIC = ["/", "/history", "/components/situs", "/api/v2/summary.json", "/history.atom"]


def services(client: TestClient) -> Any:
    return client.app.state.services  # type: ignore[attr-defined]


def check_validators_and_headers(client: TestClient) -> None:
    for path in PUBLIC:
        r = client.get(path)
        assert r.status_code == 200
        assert r.headers["cache-control"] == (
            "public, max-age=10, stale-while-revalidate=30, stale-if-error=86400")
        etag = r.headers["etag"]
        assert etag.startswith('"') and not etag.startswith("W/")
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
        assert client.get(path, headers={"If-None-Match": f'"x", W/{etag}'}).status_code == 304
        assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
        head = client.head(path)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["etag"] == etag


def check_gzip_only_when_accepted(client: TestClient) -> None:
    raw = client.get("/", headers={"Accept-Encoding": "gzip"}, extensions={})
    assert raw.headers["content-encoding"] == "gzip"
    plain = client.get("/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["etag"] != raw.headers["etag"]  # two representations, two strong tags
    assert plain.content == raw.content  # the client decoded the gzip body
    assert int(plain.headers["content-length"]) == len(plain.content)
    entry = services(client).cache.peek(("/", (), "id"))
    assert gzip.decompress(entry.gzipped.body) == plain.content


@pytest.mark.parametrize(("header", "expected"), [
    (b"gzip, deflate, br", True), (b"GZIP", True), (b"*", True), (b"gzip;q=0", False),
    (b"gzip; q=0.0, identity", False), (b"identity", False), (b"deflate, gzip;q=0.5", True),
])
def test_accepts_gzip(header: bytes, expected: bool) -> None:
    assert accepts_gzip(header) is expected


def check_unknown_parameters_do_not_grow_the_cache(client: TestClient) -> None:
    client.get("/")
    client.get("/history")
    size = len(services(client).cache)
    for i in range(30):
        assert client.get(f"/?x={i}&utm_source={i}").status_code == 200
        assert client.get(f"/history?page=1&junk={i}").status_code == 200
    assert client.get("/history?page=01").status_code == 200
    assert len(services(client).cache) == size


def test_hit_touches_no_database(client: TestClient) -> None:
    first = client.get("/")
    cache = services(client).cache
    renders = cache.renders

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a cached hit must not open a session")

    services(client).db.session = services(client).db.read = broken
    for _ in range(5):
        assert client.get("/").content == first.content
    assert cache.renders == renders


def test_posted_change_shows_within_two_seconds(client: TestClient, db: Database) -> None:
    assert "Pembelian gagal" not in client.get("/").text
    add_incident(db, "Pembelian gagal", components={"pembelian": "major_outage"})
    started = time.monotonic()
    while "Pembelian gagal" not in client.get("/").text:
        assert time.monotonic() - started < 2.0, "change not visible within 2 s"
        time.sleep(0.05)
    assert "Pembelian gagal" in client.get("/api/v2/summary.json").text


@contextmanager
def database_down(client: TestClient) -> Iterator[None]:
    svc = services(client)

    def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("database unreachable")

    counter, session, read = svc.cache._counter, svc.db.session, svc.db.read
    svc.cache._counter, svc.db.session, svc.db.read = down, down, down
    try:
        client.portal.call(svc.cache.poll_once)  # type: ignore[union-attr]
        yield
    finally:
        svc.cache._counter, svc.db.session, svc.db.read = counter, session, read


def test_stale_bytes_when_the_database_is_down(client: TestClient) -> None:
    good = client.get("/").text
    assert "Data mungkin belum terbaru" not in good
    client.get("/api/v2/summary.json")
    with database_down(client):
        page = client.get("/")
        assert page.status_code == 200 and "Data mungkin belum terbaru" in page.text
        api = client.get("/api/v2/summary.json")
        assert api.status_code == 200 and api.headers["x-statuspage-stale"] == "true"
        assert client.get("/history").status_code == 503  # never rendered: nothing to serve
        unavailable = client.get("/history")
        assert "Status untuk sementara tidak tersedia" in unavailable.text
        assert unavailable.headers["cache-control"] == "no-store"
    client.portal.call(services(client).cache.poll_once)  # type: ignore[union-attr]
    assert client.get("/").text == good


def test_render_failure_serves_previous_bytes(client: TestClient, db: Database) -> None:
    good = client.get("/").text
    add_incident(db, "Baru")
    svc = services(client)
    client.portal.call(svc.cache.poll_once)  # type: ignore[union-attr]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("lost connection mid-render")

    svc.db.read, read = broken, svc.db.read
    try:
        r = client.get("/")
    finally:
        svc.db.read = read
    assert r.status_code == 200 and r.text != good and "Data mungkin belum terbaru" in r.text


def test_single_flight_and_lru() -> None:
    calls: list[int] = []
    gate = threading.Event()

    def render() -> Rendered:
        calls.append(1)
        gate.wait(2)
        return Rendered(200, b"x" * 600, "text/plain")

    async def scenario() -> None:
        cache = PageCache(lambda: 7, max_entries=2)
        await cache.poll_once()
        key = ("/", (), "id")
        tasks = [asyncio.create_task(cache.get(key, render, b"Accept-Encoding"))
                 for _ in range(20)]
        await asyncio.sleep(0.05)
        gate.set()
        results = await asyncio.gather(*tasks)
        assert len(calls) == 1
        assert all(entry is results[0][0] and not stale for entry, stale in results)
        for path in ("/a", "/b", "/c"):
            await cache.get((path, (), "id"), render, b"Accept-Encoding")
        assert len(cache) == 2 and cache.peek(key) is None

    asyncio.run(scenario())


def test_http_semantics(client: TestClient) -> None:
    """One database set-up for several checks (each runs on both backends)."""
    check_validators_and_headers(client)
    check_gzip_only_when_accepted(client)
    check_unknown_parameters_do_not_grow_the_cache(client)


def test_stop_ends_a_poller_that_swallowed_a_cancellation() -> None:
    """Python 3.11's ``wait_for`` can lose a cancellation (it returns the finished read
    instead): stopping must still end the poller rather than wait for it forever."""
    swallowed: list[bool] = []

    async def scenario() -> None:
        cache = PageCache(lambda: 7, poll_interval=0.01)

        async def poll_once() -> None:
            if not swallowed:
                try:
                    await asyncio.sleep(0.05)
                except asyncio.CancelledError:
                    swallowed.append(True)  # as wait_for does when the read just finished

        cache.poll_once = poll_once  # type: ignore[method-assign]
        await cache.start()
        await asyncio.sleep(0.02)
        stopping = asyncio.create_task(cache.stop())
        done, _ = await asyncio.wait({stopping}, timeout=5)
        assert done == {stopping}, "stop() still waiting for the poller"
        assert swallowed == [True]

    asyncio.run(scenario())
