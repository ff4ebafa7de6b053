"""The HTTP protocol on its own, driven byte by byte as uvicorn's own tests drive it: the head
cap (431) and the early refusal of a request to a full gate."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.server import ServerState

from stamping.admission import SHEDDER_STATE, Gate, Shedder
from stamping.headers import SECURITY_HEADERS
from stamping.http_protocol import MAX_HEAD_BYTES, BoundedHttpToolsProtocol

BODY = b"--b\r\ncontent-disposition: form-data; name=\"file\"\r\n\r\n%PDF-1.4\r\n--b--\r\n"


def _request(path: str = "/api/v1/stamps", extra: bytes = b"", body: bytes = BODY) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nhost: t\r\nauthorization: Bearer tok\r\n"
            f"content-type: multipart/form-data; boundary=b\r\n"
            f"content-length: {len(body)}\r\n").encode() + extra + b"\r\n" + body


class Transport(asyncio.Transport):
    """What the protocol wrote, and whether it closed the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8001), "peername": ("127.0.0.1", 50000)}.get(
            name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class Harness:
    """A protocol on a loop, an app that answers 201 and counts its calls, and a shedder."""

    def __init__(self, gate: Gate, fresh: bool = True, hold_seconds: float = 0.0,
                 max_held: int = 10) -> None:
        self.calls = 0
        self.refused: list[tuple[str, str, float, bool]] = []
        self.shedder = Shedder({"/api/v1/stamps": gate}, hold_seconds=hold_seconds,
                               max_held=max_held, on_refused=lambda *a: self.refused.append(a),
                               cached_capacity=lambda: (fresh, None))

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            self.calls += 1
            while (await receive()).get("more_body"):
                pass
            await send({"type": "http.response.start", "status": 201, "headers": []})
            await send({"type": "http.response.body", "body": b"made"})

        self.app = app

    def connect(self, state: ServerState | None = None
                ) -> tuple[BoundedHttpToolsProtocol, Transport]:
        config = Config(app=self.app, log_level="warning", lifespan="off")
        protocol = BoundedHttpToolsProtocol(config=config, server_state=state or ServerState(),
                                            app_state={SHEDDER_STATE: self.shedder},
                                            _loop=asyncio.get_running_loop())
        transport = Transport()
        protocol.connection_made(transport)
        return protocol, transport


def _answer(raw: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body) if body.startswith(b"{") else {}


def _full_gate() -> Gate:
    gate = Gate("stamp", slots=1, queue=0)
    gate.enter()
    return gate


def test_a_request_to_a_full_gate_is_refused_without_the_app() -> None:
    async def scenario() -> None:
        harness = Harness(_full_gate())
        protocol, transport = harness.connect()
        protocol.data_received(_request())
        await asyncio.sleep(0)
        status, headers, body = _answer(transport.written)
        assert status == 503 and harness.calls == 0
        assert int(headers["retry-after"]) >= 1 and "connection" not in headers
        assert body["error"] == "overloaded" and body["reason"] == "full"
        assert body["queue"] == "stamp"
        for name, value in SECURITY_HEADERS.items():
            assert headers[name.lower()] == value
        assert int(headers["content-length"]) == len(transport.written.partition(
            b"\r\n\r\n")[2])
        # counted once, as made from the head (stamping_refused_from_head)
        assert [(r[0], r[1], r[3]) for r in harness.refused] == [
            ("/api/v1/stamps", "stamp", True)]
        assert not transport.closed  # kept for the client's next request

    asyncio.run(scenario())


def test_an_early_refusal_carries_the_servers_date_and_name_as_the_apps_answers_do() -> None:
    async def scenario() -> None:
        gate = Gate("stamp", slots=1, queue=0)
        harness = Harness(gate)
        state = ServerState()
        state.default_headers = [(b"date", b"Fri, 04 Dec 2026 14:40:00 GMT"),
                                 (b"server", b"uvicorn")]
        protocol, transport = harness.connect(state)
        protocol.data_received(_request())  # admitted: the app answers
        await asyncio.sleep(0.01)
        admitted, transport.written = transport.written, b""
        gate.enter()  # now full
        protocol.data_received(_request())
        await asyncio.sleep(0)
        refused_status, refused, _ = _answer(transport.written)
        admitted_status, made, _ = _answer(admitted)
        assert (admitted_status, refused_status) == (201, 503) and harness.calls == 1
        for name in ("date", "server"):
            assert refused[name] == made[name] == dict(
                (n.decode(), v.decode()) for n, v in state.default_headers)[name]

    asyncio.run(scenario())


def test_the_connection_serves_the_next_request_refused_or_admitted() -> None:
    """A browser retries on the connection it has: refused while full, served once not."""
    async def scenario() -> None:
        gate = _full_gate()
        harness = Harness(gate)
        protocol, transport = harness.connect()
        protocol.data_received(_request())
        protocol.data_received(_request())
        await asyncio.sleep(0)
        assert transport.written.count(b"HTTP/1.1 503") == 2 and harness.calls == 0
        gate.leave()
        transport.written = b""
        protocol.data_received(_request())
        for _ in range(20):
            await asyncio.sleep(0)
        assert transport.written.startswith(b"HTTP/1.1 201") and harness.calls == 1
        assert not transport.closed and len(harness.refused) == 2

    asyncio.run(scenario())


@pytest.mark.parametrize("ask", [b"connection: close\r\n", b"http/1.0"])
def test_a_client_that_asks_to_close_gets_the_connection_closed(ask: bytes) -> None:
    async def scenario() -> None:
        harness = Harness(_full_gate())
        protocol, transport = harness.connect()
        raw = _request(extra=ask) if ask != b"http/1.0" else \
            _request().replace(b"HTTP/1.1", b"HTTP/1.0", 1)
        protocol.data_received(raw)
        await asyncio.sleep(0)
        status, headers, _ = _answer(transport.written)
        assert status == 503 and headers["connection"] == "close" and transport.closed

    asyncio.run(scenario())


@pytest.mark.parametrize("case", ["room", "stale capacity", "other path", "expect 100",
                                  "query string"])
def test_what_the_head_cannot_decide_goes_to_the_app(case: str) -> None:
    async def scenario() -> None:
        gate = Gate("stamp", slots=1, queue=0) if case == "room" else _full_gate()
        harness = Harness(gate, fresh=case != "stale capacity")
        protocol, transport = harness.connect()
        raw = {"other path": _request("/api/v1/quota"),
               "expect 100": _request(extra=b"expect: 100-continue\r\n"),
               "query string": _request("/api/v1/stamps?x=1")}.get(case, _request())
        protocol.data_received(raw)
        for _ in range(20):
            await asyncio.sleep(0)
        assert harness.calls == 1, case
        assert harness.refused == []

    asyncio.run(scenario())


def test_a_held_refusal_waits_then_answers_and_is_counted_once() -> None:
    async def scenario() -> None:
        harness = Harness(_full_gate(), hold_seconds=0.2)
        protocol, transport = harness.connect()
        protocol.data_received(_request())
        await asyncio.sleep(0.05)
        assert transport.written == b"" and harness.shedder.held == 1
        await asyncio.sleep(0.25)
        assert _answer(transport.written)[0] == 503
        assert harness.shedder.held == 0 and len(harness.refused) == 1

    asyncio.run(scenario())


def test_a_client_that_leaves_while_held_gets_nothing_and_frees_its_hold() -> None:
    async def scenario() -> None:
        harness = Harness(_full_gate(), hold_seconds=0.1)
        protocol, transport = harness.connect()
        protocol.data_received(_request())
        transport.close()
        protocol.connection_lost(None)
        await asyncio.sleep(0.15)
        assert transport.written == b"" and harness.shedder.held == 0

    asyncio.run(scenario())


def test_the_body_is_read_and_dropped_and_the_next_request_parsed() -> None:
    """The refused body is not mistaken for the next request."""
    async def scenario() -> None:
        gate = _full_gate()
        harness = Harness(gate)
        protocol, transport = harness.connect()
        raw = _request()
        protocol.data_received(raw[:-20])
        await asyncio.sleep(0)
        assert _answer(transport.written)[0] == 503
        protocol.data_received(raw[-20:])
        gate.leave()
        protocol.data_received(_request())
        for _ in range(20):
            await asyncio.sleep(0)
        assert harness.calls == 1 and transport.written.count(b"HTTP/1.1 201") == 1
        assert not transport.closed

    asyncio.run(scenario())


def test_a_body_that_does_not_finish_loses_the_connection(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("stamping.http_protocol.BODY_GRACE_SECONDS", 0.05)

    async def scenario() -> None:
        harness = Harness(_full_gate())
        protocol, transport = harness.connect()
        protocol.data_received(_request()[:-20])
        await asyncio.sleep(0)
        assert _answer(transport.written)[0] == 503 and not transport.closed
        await asyncio.sleep(0.1)
        assert transport.closed

    asyncio.run(scenario())


def test_a_request_behind_a_refused_one_is_dropped_with_the_connection() -> None:
    async def scenario() -> None:
        harness = Harness(_full_gate(), hold_seconds=0.1)
        protocol, transport = harness.connect()
        protocol.data_received(_request() + _request())
        await asyncio.sleep(0.15)
        assert transport.written.count(b"HTTP/1.1 503") == 1 and transport.closed
        assert harness.calls == 0 and harness.shedder.held == 0

    asyncio.run(scenario())


def test_a_head_past_the_cap_is_refused_with_431() -> None:
    async def scenario() -> None:
        harness = Harness(Gate("stamp", slots=1, queue=0))
        protocol, transport = harness.connect()
        protocol.data_received(b"GET / HTTP/1.1\r\nx-long: " + b"a" * MAX_HEAD_BYTES)
        assert transport.written.startswith(b"HTTP/1.1 431") and transport.closed
        assert harness.calls == 0

    asyncio.run(scenario())


def test_a_chunked_body_is_dropped_to_its_last_chunk() -> None:
    async def scenario() -> None:
        gate = _full_gate()
        harness = Harness(gate)
        protocol, transport = harness.connect()
        head = (b"POST /api/v1/stamps HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n")
        protocol.data_received(head + b"5\r\nhello\r\n")
        await asyncio.sleep(0)
        assert _answer(transport.written)[0] == 503 and not transport.closed
        protocol.data_received(b"3\r\nabc\r\n0\r\n\r\n")
        gate.leave()
        protocol.data_received(_request())
        for _ in range(20):
            await asyncio.sleep(0)
        assert harness.calls == 1 and transport.written.count(b"HTTP/1.1 201") == 1

    asyncio.run(scenario())


@pytest.mark.parametrize("path", [b"/api/v1/stamps\x01", b"/api/v1/st\x00amps"])
def test_control_characters_in_the_path_are_a_bad_request(path: bytes) -> None:
    async def scenario() -> None:
        harness = Harness(_full_gate())
        protocol, transport = harness.connect()
        protocol.data_received(_request().replace(b"/api/v1/stamps", path, 1))
        await asyncio.sleep(0)
        assert transport.written.startswith(b"HTTP/1.1 400") and transport.closed
        assert harness.calls == 0 and harness.shedder.held == 0

    asyncio.run(scenario())
