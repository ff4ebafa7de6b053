"""Real HTTP webhook receivers on loopback, for tests and ``benchmarks/webhook_fanout.py``.

A minimal HTTP/1.1 server on asyncio streams (keep-alive, Content-Length bodies) so that a
hundred ports in one process can take thousands of deliveries a second. Each request is
recorded (port, path, headers, body, arrival time). Behaviour is chosen by the path:

- ``/ok`` (or anything else): 200
- ``/fail/N``: 500 for the first N deliveries to that path, then 200
- ``/gone``: 410;  ``/throttle``: 429 with ``Retry-After: 1``;  ``/redirect``: 302
- ``/hang``: never answers (the sender's timeout must fire)

Ownership checks are answered as a subscriber would: a ``url_verification`` echoes its
challenge (unless the path contains ``noecho``); a Slack confirmation message's link is recorded
in ``confirm_links``.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

__all__ = ["Received", "Receivers"]

_LINK = re.compile(r"<(https?://[^|>]+/subscribe/confirm/[^|>]+)\|")


@dataclass(frozen=True)
class Received:
    """One delivered request."""

    port: int
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receivers:
    """Receivers on ``count`` loopback ports, served by an event loop in a background thread."""

    count: int = 1
    requests: list[Received] = field(default_factory=list)
    confirm_links: list[str] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    _failures: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _servers: list[asyncio.AbstractServer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    def start(self) -> Receivers:
        """Start listening; ``ports`` is filled when this returns."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._listen())
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    async def _listen(self) -> None:
        for _ in range(self.count):
            server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
            self._servers.append(server)
            self.ports.append(server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        """Stop every listener and the thread."""
        if self._loop is None:
            return

        async def close() -> None:
            for server in self._servers:
                server.close()
            for writer in list(self._writers):
                writer.close()
            await asyncio.sleep(0.05)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    def url(self, path: str = "/ok", index: int = 0) -> str:
        """The URL of receiver ``index`` with ``path``."""
        return f"http://127.0.0.1:{self.ports[index]}{path}"

    def events(self, path: str | None = None) -> list[Received]:
        """Recorded deliveries that are events (not ownership checks), optionally on a path."""
        with self._lock:
            found = list(self.requests)
        return [r for r in found if r.headers.get("webhook-event-type") != "url_verification"
                and (path is None or r.path == path)]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = writer.get_extra_info("sockname")[1]
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, extra, reply = self._answer(port, path, headers, body)
                if status == 0:
                    await asyncio.sleep(3600)
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: {len(reply)}\r\n"
                             f"Content-Type: text/plain\r\n{extra}\r\n".encode() + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError,
                IndexError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _answer(self, port: int, path: str, headers: dict[str, str], body: bytes
                ) -> tuple[int, str, bytes]:
        received = Received(port, path, headers, body, time.time())
        with self._lock:
            self.requests.append(received)
        if headers.get("webhook-event-type") == "url_verification":
            text = body.decode("utf-8", "replace")
            if '"challenge"' in text:
                if "noecho" in path:
                    return 200, "", b"ok"
                return 200, "", json.loads(text)["challenge"].encode()
            with self._lock:
                self.confirm_links.extend(_LINK.findall(text))
            return 200, "", b"ok"
        if path.startswith("/fail/"):
            key = f"{port}{path}"
            with self._lock:
                self._failures[key] += 1
                failing = self._failures[key] <= int(path.split("/")[2])
            return (500, "", b"down") if failing else (200, "", b"ok")
        if path == "/gone":
            return 410, "", b"gone"
        if path == "/throttle":
            return 429, "Retry-After: 1\r\n", b"slow down"
        if path == "/redirect":
            return 302, "Location: http://127.0.0.1:1/\r\n", b""
        if path == "/hang":
            return 0, "", b""
        return 200, "", b"ok"


def main() -> None:
    """``python -m tests.webhook_receiver --ports N``: print the ports as JSON, then answer
    ``dump TYPE`` lines on stdin with a JSON list of ``[webhook-id, arrival time]`` of the
    deliveries of that event type (benchmarks run the receivers in their own process)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--ports", type=int, default=100)
    args = parser.parse_args()
    receivers = Receivers(count=args.ports).start()
    print(json.dumps(receivers.ports), flush=True)
    for line in sys.stdin:
        parts = line.split()
        if parts[:1] == ["dump"]:
            with receivers._lock:
                found = [[r.headers.get("webhook-id"), r.at] for r in receivers.requests
                         if r.headers.get("webhook-event-type") == parts[1]]
            print(json.dumps(found), flush=True)
        elif parts[:1] == ["quit"]:
            break
    receivers.stop()


if __name__ == "__main__":
    main()
