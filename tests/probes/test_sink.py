"""HttpResultSink: batches with a bearer token, buffers and backs off while the page is away."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from probes import HttpResultSink, ProbeResult, ResultSink

pytestmark = pytest.mark.anyio
URL = "http://status.test/api/v1/probe-results"


def result(n: int) -> ProbeResult:
    return ProbeResult(probe=f"p{n}", kind="http", started_at=datetime(2026, 11, 27, tzinfo=UTC),
                       outcome="ok", total_ms=float(n), phases={"total": float(n)})


class Page:
    """A status page endpoint whose answer the test switches."""

    def __init__(self) -> None:
        self.status = 202
        self.down = False
        self.received: list[dict] = []
        self.calls = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.down:
            raise httpx.ConnectError("refused", request=request)
        assert request.headers["Authorization"] == "Bearer agent-token"
        if self.status < 300:
            self.received.extend(json.loads(request.content)["results"])
        return httpx.Response(self.status, json={})

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))


async def test_submit_posts_json_with_token() -> None:
    page = Page()
    async with page.client() as client:
        sink = HttpResultSink(URL, "agent-token", client)
        assert isinstance(sink, ResultSink)
        await sink.submit(result(1))
    assert [ProbeResult.from_dict(r) for r in page.received] == [result(1)]
    assert sink.pending == 0


async def test_buffers_while_down_backs_off_then_delivers_in_order() -> None:
    page = Page()
    page.down = True
    async with page.client() as client:
        sink = HttpResultSink(URL, "agent-token", client, backoff_s=60)
        for n in range(3):
            await sink.submit(result(n))
        # One attempt, then the back-off holds the rest in the buffer without network calls.
        assert (page.calls, sink.pending) == (1, 3)
        page.down = False
        assert await sink.flush() == 3
    assert [r["probe"] for r in page.received] == ["p0", "p1", "p2"]
    assert sink.pending == 0


async def test_backoff_grows_and_resets_on_success() -> None:
    page = Page()
    page.status = 503
    async with page.client() as client:
        sink = HttpResultSink(URL, "agent-token", client, backoff_s=0, max_backoff_s=0)
        await sink.submit(result(1))
        await sink.submit(result(2))
        assert (page.calls, sink.pending) == (2, 2)  # zero back-off: every submit retries
        page.status = 202
        await sink.submit(result(3))
    assert [r["probe"] for r in page.received] == ["p1", "p2", "p3"]


async def test_buffer_is_bounded_and_drops_oldest() -> None:
    page = Page()
    page.down = True
    async with page.client() as client:
        sink = HttpResultSink(URL, "agent-token", client, max_buffer=3, backoff_s=60)
        for n in range(5):
            await sink.submit(result(n))
        assert (sink.pending, sink.dropped) == (3, 2)
        page.down = False
        await sink.flush()
    assert [r["probe"] for r in page.received] == ["p2", "p3", "p4"]


async def test_sends_in_batches() -> None:
    page = Page()
    page.down = True
    async with page.client() as client:
        sink = HttpResultSink(URL, "agent-token", client, batch_size=2, backoff_s=60)
        for n in range(5):
            await sink.submit(result(n))
        page.down, page.calls = False, 0
        assert await sink.flush() == 5
    assert page.calls == 3


async def test_rejected_batch_is_dropped_not_retried_forever() -> None:
    page = Page()
    page.status = 422
    async with page.client() as client:
        sink = HttpResultSink(URL, "agent-token", client)
        await sink.submit(result(1))
        assert sink.pending == 0
        assert await sink.flush() == 0


async def test_refused_token_is_kept_for_later() -> None:
    page = Page()
    page.status = 401
    async with page.client() as client:
        sink = HttpResultSink(URL, "agent-token", client, backoff_s=60)
        await sink.submit(result(1))
    assert sink.pending == 1


async def test_rejects_nonsense_sizes() -> None:
    async with Page().client() as client:
        with pytest.raises(ValueError):
            HttpResultSink(URL, "t", client, max_buffer=0)


async def test_a_closed_client_does_not_make_submit_raise() -> None:
    page = Page()
    client = page.client()
    await client.aclose()
    sink = HttpResultSink(URL, "agent-token", client, backoff_s=60)
    await sink.submit(result(1))
    assert sink.pending == 1
