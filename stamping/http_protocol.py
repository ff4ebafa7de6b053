"""uvicorn's httptools protocol with a cap on a request's head and an early refusal path.

**The head cap (issue 8, item 8).** httptools buffers a header of any size (50 MB were
accepted in one header), and uvicorn's ``h11_max_incomplete_event_size`` applies only to the
slower pure-Python h11 parser. This subclass counts the bytes received while a request's head
is incomplete and, past :data:`MAX_HEAD_BYTES`, answers ``431`` and closes the connection, so
one connection holds at most the cap plus one socket read.

**Early refusals (issue 14).** At three times its capacity the service refuses two requests
of three, and every refusal takes CPU from signing on the same host. When the app's
:class:`~stamping.admission.Shedder` (found in the lifespan state) says from a request's
method and path alone that its gate is full, the protocol answers it here: held like every
refusal, with the same 503 body, ``Retry-After``, date, server and security headers (and
the connection kept for the client's next request, as uvicorn would), but without the ASGI
request, task and middleware that would otherwise be built only to say no. Everything the
head alone cannot decide (fair shares, a stale copy of the injected capacity, a request behind
another on the connection, ``Expect: 100-continue``) goes to the app as before.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from stamping.admission import SHEDDER_STATE, Gate, Overloaded, Shedder, refusal_answer
from stamping.headers import SECURITY_HEADERS

__all__ = ["MAX_HEAD_BYTES", "BoundedHttpToolsProtocol"]

#: Request line plus headers: browsers send a few KB; 32 KB leaves room for long cookies.
MAX_HEAD_BYTES = 32 * 1024

#: Seconds a refused request may take to finish sending its body before the connection is
#: closed under it.
BODY_GRACE_SECONDS = 1.0

_SECURITY = b"".join(f"{name.lower()}: {value}\r\n".encode("latin-1")
                     for name, value in SECURITY_HEADERS.items())


@dataclass
class _EarlyRefusal:
    """A request being refused from its head: its body is read and dropped meanwhile."""

    shedder: Shedder
    gate: Gate
    refused: Overloaded
    path: str
    started: float
    held: bool
    keep_alive: bool  # the connection serves the client's next request after the answer
    answered: bool = False
    body_done: bool = False


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` that refuses a request head larger than MAX_HEAD_BYTES, and a
    request to a full gate before the app sees it."""

    _head_bytes = 0
    _in_head = True
    _early: _EarlyRefusal | None = None

    def on_message_begin(self) -> None:
        """A new request: its head starts."""
        self._head_bytes, self._in_head = 0, True
        if self._early is not None:
            # Sent behind a request still being refused: it is dropped, and the connection
            # closes after the refusal, which tells the client to send it again elsewhere.
            self._early.keep_alive = False
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        """The head is complete: bytes that follow are the body."""
        self._in_head = False
        if self._early is not None:  # a request behind a refused one (see above)
            return
        if not self._refused_early():
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        """Drop the body of a request refused early."""
        if self._early is None:
            super().on_body(body)

    def on_message_complete(self) -> None:
        """The request is whole: a refused one closes once its answer is out."""
        early = self._early
        if early is None:
            super().on_message_complete()
            return
        early.body_done = True
        if early.answered:
            self._finish_early(early)

    def data_received(self, data: bytes) -> None:
        """Refuse the request if its head would pass the cap; otherwise feed the parser."""
        if self._in_head:
            budget = MAX_HEAD_BYTES - self._head_bytes
            end = data.find(b"\r\n\r\n", 0, max(0, budget) + 4)
            if end == -1 and len(data) > budget:
                self._refuse_head()
                return
            self._head_bytes += len(data) if end == -1 else end
        super().data_received(data)

    def _refused_early(self) -> bool:
        """Start refusing this request from its head, if the shedder says its gate is full."""
        shedder = self.app_state.get(SHEDDER_STATE)
        if not isinstance(shedder, Shedder) or self.expect_100_continue or self.pipeline \
                or (self.cycle is not None and not self.cycle.response_complete) \
                or b"%" in self.url or b"?" in self.url:
            return False
        path = self.url.decode("latin-1")
        found = shedder.refuse_when_full(self.parser.get_method().decode("latin-1"), path)
        if found is None:
            return False
        gate, refused = found
        hold = shedder.take_hold()
        keep_alive = self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
        early = self._early = _EarlyRefusal(shedder, gate, refused, path, time.perf_counter(),
                                            held=hold > 0, keep_alive=keep_alive)
        self._unset_keepalive_if_required()
        if hold:
            self.loop.call_later(hold, self._answer_early, early)
        else:
            self._answer_early(early)
        return True

    def _answer_early(self, early: _EarlyRefusal) -> None:
        if early.held:
            early.shedder.release_hold()
        if self.transport.is_closing():  # the client left while the refusal was held
            return
        headers, body = refusal_answer(early.refused)
        headers = [*self.server_state.default_headers, *headers]  # date and server, as uvicorn
        self.transport.write(b"".join([
            STATUS_LINE[503], *(name + b": " + value + b"\r\n" for name, value in headers),
            _SECURITY, b"" if early.keep_alive else b"connection: close\r\n", b"\r\n", body]))
        early.answered = True
        early.shedder.refused(early.path, early.gate, time.perf_counter() - early.started,
                              from_head=True)
        if early.body_done:
            self._finish_early(early)
        else:  # a body that does not finish soon is not waited for
            self.loop.call_later(BODY_GRACE_SECONDS, self._give_up_on_body, early)

    def _finish_early(self, early: _EarlyRefusal) -> None:
        """Answered and the body read: close, or wait for the next request as uvicorn does."""
        if not early.keep_alive:
            self.transport.close()
            return
        self._early = None
        if not self.transport.is_closing():
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def _give_up_on_body(self, early: _EarlyRefusal) -> None:
        if self._early is early and not early.body_done:
            self.transport.close()

    def _refuse_head(self) -> None:
        body = json.dumps({"error": "headers_too_large",
                           "message": f"the request head exceeds {MAX_HEAD_BYTES} bytes"}
                          ).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\nconnection: close\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        self.transport.close()
