"""A real SMTP server on loopback (``aiosmtpd``), for tests and ``benchmarks/email_fanout.py``.

Every accepted message is parsed with the stdlib ``email`` package and recorded with its
envelope recipient and arrival time. It advertises PIPELINING (aiosmtpd reads commands from
its stream one after the other, so pipelined commands are answered in order). Behaviour per
recipient: ``refuse_once[address] = ["451 4.7.1 Try later", ...]`` answers RCPT with those
replies first (then accepts); ``refuse_always[address] = "550 5.1.1 No such user"`` never
accepts.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

__all__ = ["Arrived", "SmtpSink", "free_port"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Arrived:
    """One accepted message."""

    recipient: str
    message: EmailMessage
    raw: bytes
    at: float


@dataclass
class _Handler:
    refuse_once: dict[str, list[str]] = field(default_factory=dict)
    refuse_always: dict[str, str] = field(default_factory=dict)
    arrived: list[Arrived] = field(default_factory=list)
    parse: bool = True
    pipelining: bool = True
    #: Seconds each message takes to accept (a slow server: a send is in progress longer).
    delay_s: float = 0.0
    count: int = 0
    connections: int = 0
    #: Wall-clock arrival times of the first and the last message (for benchmarks).
    first_wall: float = 0.0
    last_wall: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        with self.lock:
            self.connections += 1
        if not self.pipelining:
            return responses
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        with self.lock:
            pending = self.refuse_once.get(address)
            if pending:
                return pending.pop(0)
            if address in self.refuse_always:
                return self.refuse_always[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        raw = bytes(envelope.original_content or envelope.content)
        at = time.monotonic()
        with self.lock:
            self.count += len(envelope.rcpt_tos)
            self.last_wall = time.time()
            self.first_wall = self.first_wall or self.last_wall
            if self.parse:
                message = message_from_bytes(raw, policy=policy.default)
                assert isinstance(message, EmailMessage)
                for rcpt in envelope.rcpt_tos:
                    self.arrived.append(Arrived(rcpt, message, raw, at))
            else:
                for rcpt in envelope.rcpt_tos:
                    self.arrived.append(Arrived(rcpt, EmailMessage(), b"", at))
        return "250 Message accepted for delivery"


class SmtpSink:
    """An aiosmtpd server in a thread: ``start()``, ``url``, ``arrived``, ``stop()``."""

    def __init__(self, *, parse: bool = True, delay_s: float = 0.0) -> None:
        self.port = free_port()
        self.handler = _Handler(parse=parse, delay_s=delay_s)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     server_hostname="sink.test")

    @property
    def url(self) -> str:
        """``smtp://127.0.0.1:PORT`` (no login: loopback tests)."""
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def arrived(self) -> list[Arrived]:
        """Accepted messages so far (a copy)."""
        with self.handler.lock:
            return list(self.handler.arrived)

    @property
    def count(self) -> int:
        """How many recipients' messages were accepted."""
        with self.handler.lock:
            return self.handler.count

    def start(self) -> SmtpSink:
        """Start serving."""
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.controller.stop()


def main() -> None:
    """``python -m tests.smtp_sink``: a sink that does not parse (benchmarks). Prints its port
    as JSON, then answers each line on stdin with ``{"count", "first", "last", "connections"}``
    (wall-clock times)."""
    import json
    import sys
    sink = SmtpSink(parse=False).start()
    print(json.dumps({"port": sink.port}), flush=True)
    for _line in sys.stdin:
        h = sink.handler
        with h.lock:
            state = {"count": h.count, "first": h.first_wall, "last": h.last_wall,
                     "connections": h.connections}
        print(json.dumps(state), flush=True)
    sink.stop()


if __name__ == "__main__":
    main()
