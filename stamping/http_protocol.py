"""uvicorn's httptools protocol with a cap on the size of a request's head (issue 8, item 8).

httptools buffers a header of any size (50 MB were accepted in one header), and uvicorn's
``h11_max_incomplete_event_size`` applies only to the slower pure-Python h11 parser.  This
subclass counts the bytes received while a request's head is incomplete and, past
:data:`MAX_HEAD_BYTES`, answers ``431`` and closes the connection, so one connection holds at
most the cap plus one socket read.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["MAX_HEAD_BYTES", "BoundedHttpToolsProtocol"]

#: Request line plus headers: browsers send a few KB; 32 KB leaves room for long cookies.
MAX_HEAD_BYTES = 32 * 1024


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` that refuses a request head larger than MAX_HEAD_BYTES."""

    _head_bytes = 0
    _in_head = True

    def on_message_begin(self) -> None:
        """A new request: its head starts."""
        self._head_bytes, self._in_head = 0, True
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        """The head is complete: bytes that follow are the body."""
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        """Refuse the request if its head would pass the cap; otherwise feed the parser."""
        if self._in_head:
            budget = MAX_HEAD_BYTES - self._head_bytes
            end = data.find(b"\r\n\r\n", 0, max(0, budget) + 4)
            if end == -1 and len(data) > budget:
                self._refuse()
                return
            self._head_bytes += len(data) if end == -1 else end
        super().data_received(data)

    def _refuse(self) -> None:
        body = json.dumps({"error": "headers_too_large",
                           "message": f"the request head exceeds {MAX_HEAD_BYTES} bytes"}
                          ).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\nconnection: close\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        self.transport.close()
