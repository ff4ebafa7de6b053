"""The http kind, status classification, and connect/ttfb measured on real sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest

from probes import ProbeSpec, run_probe

pytestmark = pytest.mark.anyio

Handler = (
    Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Coroutine[Any, Any, httpx.Response]]
)


def client_for(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def spec(**kw: object) -> ProbeSpec:
    values: dict[str, Any] = {"name": "home", "kind": "http", "target": "http://status.test/healthz"}
    values.update(kw)
    return ProbeSpec(**values)


async def test_ok_with_body_check() -> None:
    async with client_for(lambda r: httpx.Response(200, text="status: ok")) as client:
        result = await run_probe(spec(body_contains="ok"), client, location="jakarta")
    assert (result.outcome, result.error_class, result.location) == ("ok", None, "jakarta")
    assert set(result.phases) == {"connect", "ttfb", "total"}
    assert result.total_ms == result.phases["total"] >= result.phases["ttfb"]


async def test_body_mismatch_fails() -> None:
    async with client_for(lambda r: httpx.Response(200, text="maintenance")) as client:
        result = await run_probe(spec(body_contains="ok"), client)
    assert (result.outcome, result.error_class) == ("failed", "body_mismatch")


async def test_slow_but_correct_is_degraded() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        return httpx.Response(200)

    async with client_for(slow) as client:
        result = await run_probe(spec(latency_budget_ms=10), client)
    assert (result.outcome, result.error_class) == ("degraded", "slow")
    assert result.total_ms >= 50
    assert "budget" in (result.message or "")


async def test_expected_non_200_status() -> None:
    async with client_for(lambda r: httpx.Response(404)) as client:
        assert (await run_probe(spec(expect_status=404), client)).outcome == "ok"
        result = await run_probe(spec(expect_status=204), client)
    assert (result.outcome, result.error_class) == ("failed", "http_4xx")


@pytest.mark.parametrize(
    ("response", "error_class", "in_message"),
    [
        (httpx.Response(503, headers={"Retry-After": "7"},
                        json={"error": "overloaded", "message": "queue full"}),
         "overloaded", "Retry-After: 7"),
        # the drill's hard-down switch and a proxy with no upstream are down, not overloaded
        (httpx.Response(503, headers={"Retry-After": "30"},
                        json={"error": "service_down", "message": "the service is down"}),
         "service_down", "service is down"),
        (httpx.Response(503, text="no healthy upstream"), "service_down", "no healthy upstream"),
        (httpx.Response(503, headers={"Retry-After": "5"}), "overloaded", "Retry-After: 5"),
        (httpx.Response(500, json={"error": "boom", "message": "db down"}), "http_5xx", "db down"),
        (httpx.Response(502, text="bad gateway"), "http_5xx", "bad gateway"),
        (httpx.Response(401, json={"error": "unauthorized"}), "http_4xx", "unauthorized"),
        (httpx.Response(301, headers={"Location": "/x"}), "unexpected_status", "expected 200"),
    ],
)
async def test_error_statuses_are_classified(
    response: httpx.Response, error_class: str, in_message: str
) -> None:
    async with client_for(lambda r: response) as client:
        result = await run_probe(spec(), client)
    assert (result.outcome, result.error_class) == ("failed", error_class)
    assert in_message in (result.message or "")


@pytest.fixture
async def tiny_server() -> AsyncIterator[tuple[str, list[float]]]:
    """A real HTTP/1.1 server on 127.0.0.1 that answers after 30 ms; yields its URL."""
    delays = [0.03]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(delays[0])
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/", delays
        server.close()


async def test_connect_and_ttfb_from_real_socket_trace(
    tiny_server: tuple[str, list[float]],
) -> None:
    url, _ = tiny_server
    async with httpx.AsyncClient() as client:
        result = await run_probe(spec(target=url, body_contains="ok"), client)
    assert result.outcome == "ok", result.message
    phases = result.phases
    assert 0 < phases["connect"] < phases["ttfb"] <= phases["total"]
    # The server waits 30 ms before answering; ttfb measures that, within a loose bound.
    assert 25 <= phases["ttfb"] < 1000


async def test_never_answering_socket_times_out_within_budget(
    tiny_server: tuple[str, list[float]],
) -> None:
    url, delays = tiny_server
    delays[0] = 60.0
    began = time.perf_counter()
    async with httpx.AsyncClient() as client:
        result = await run_probe(spec(target=url, timeout_s=0.2), client)
    # ends at its timeout, plus what a machine busy with other tests adds, not at the hang's end
    assert time.perf_counter() - began < 1.2
    assert (result.outcome, result.error_class) == ("failed", "timeout")
    assert result.phases["total"] < 1200


async def test_refused_connection_is_connect_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with httpx.AsyncClient() as client:
        result = await run_probe(spec(target=f"http://127.0.0.1:{port}/", timeout_s=2), client)
    assert (result.outcome, result.error_class) == ("failed", "connect_error")


async def test_dropped_connection_is_network_error() -> None:
    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("server disconnected", request=request)

    async with client_for(drop) as client:
        result = await run_probe(spec(), client)
    assert (result.outcome, result.error_class) == ("failed", "network_error")
