"""An in-memory stand-in for the stamping API (issue 3), served through ``httpx.MockTransport``.

Each attribute is a knob a test turns to make the service slow, overloaded or wrong.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import httpx

TOKEN = "probe-token"
BASE = "http://stamping.test"


def _error(status: int, error: str, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"error": error, "message": message}, headers=headers)


@dataclass
class FakeStamping:
    """The stamping API with one probe account whose orders are paid at once (or later)."""

    signed_pdf: bytes
    ca_pem: bytes
    serial: str
    available: int = 5
    spent: int = 0
    #: Order status on creation; "pending" makes the probe poll GET /orders/{id}.
    order_status: str = "paid"
    #: How many GET /orders/{id} polls answer "pending" before "paid".
    pending_polls: int = 0
    #: How many GET /quota reads after payment still show the old quota.
    credit_delay_reads: int = 0
    #: Path -> status to answer instead (e.g. {"/api/v1/stamps": 503}).
    fail: dict[str, int] = field(default_factory=dict)
    #: Path -> seconds to wait before answering.
    delay: dict[str, float] = field(default_factory=dict)
    #: Path -> True to never answer.
    hang: set[str] = field(default_factory=set)
    verify_hash: str | None = None
    verify_serial: str | None = None
    verify_valid: bool = True
    requests: list[httpx.Request] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    _uncredited: int = 0

    def client(self) -> httpx.AsyncClient:
        """A client whose transport is this fake."""
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def paths(self) -> list[str]:
        """``METHOD /path`` of every request seen, in order."""
        return [f"{r.method} {r.url.path}" for r in self.requests]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path in self.hang:
            await asyncio.Event().wait()
        if path in self.delay:
            await asyncio.sleep(self.delay[path])
        if path in self.fail:
            status = self.fail[path]
            if status == 503:  # the real service sheds load this way
                return _error(status, "overloaded", "at capacity (test)", **{"Retry-After": "3"})
            return _error(status, "injected", "fault injected by the test")
        if path == "/ca.pem":
            return httpx.Response(200, content=self.ca_pem,
                                  headers={"content-type": "application/x-pem-file"})
        if path.startswith("/verify/"):
            return self._verify_serial(request, path.removeprefix("/verify/"))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return _error(401, "unauthorized", "a valid API token is required")
        if path == "/api/v1/quota":
            return self._quota()
        if path == "/api/v1/orders" and request.method == "POST":
            return self._order(request)
        if path.startswith("/api/v1/orders/"):
            return self._order_status(path.rsplit("/", 1)[1])
        if path == "/api/v1/stamps":
            return self._stamp(request)
        if path == "/api/v1/verify":
            return self._verify_upload(request)
        return _error(404, "not_found", path)

    def _quota(self) -> httpx.Response:
        if self._uncredited and self.credit_delay_reads == 0:
            self.available += self._uncredited
            self._uncredited = 0
        elif self._uncredited:
            self.credit_delay_reads -= 1
        return httpx.Response(200, json={"available": self.available, "spent": self.spent})

    def _order(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("Idempotency-Key")
        if not key:
            return _error(400, "idempotency_key_required", "Idempotency-Key is required")
        quantity = json.loads(request.content)["quantity"]
        order = {"order_id": f"ord-{len(self.orders) + 1}", "quantity": quantity,
                 "amount": 10000 * quantity, "status": self.order_status, "payment": {}}
        self.orders[order["order_id"]] = order
        if order["status"] == "paid":
            self._uncredited += quantity
        return httpx.Response(201, json=order)

    def _order_status(self, order_id: str) -> httpx.Response:
        order = self.orders.get(order_id)
        if order is None:
            return _error(404, "not_found", order_id)
        if order["status"] == "pending":
            if self.pending_polls == 0:
                order["status"] = "paid"
                self._uncredited += order["quantity"]
            else:
                self.pending_polls -= 1
        return httpx.Response(200, json=order)

    def _stamp(self, request: httpx.Request) -> httpx.Response:
        if b"%PDF-" not in request.content:
            return _error(400, "not_pdf", "the file is not a PDF")
        if self.available < 1:
            return _error(402, "quota_exhausted", "no stamps left; buy more")
        self.available -= 1
        self.spent += 1
        return httpx.Response(201, content=self.signed_pdf, headers={
            "content-type": "application/pdf", "X-Serial-Number": self.serial})

    def _verify_serial(self, request: httpx.Request, serial: str) -> httpx.Response:
        if serial != self.serial:
            return _error(404, "unknown_serial", serial)
        if request.headers.get("Accept") != "application/json":
            return httpx.Response(200, text="<html>ok</html>")
        digest = self.verify_hash or hashlib.sha256(self.signed_pdf).hexdigest()
        return httpx.Response(200, json={
            "serial": self.verify_serial or serial, "stamped_at": "2026-11-27T18:00:00+00:00",
            "document_sha256": digest})

    def _verify_upload(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={
            "valid": self.verify_valid, "serial": self.verify_serial or self.serial,
            "stamped_at": "2026-11-27T18:00:00+00:00",
            "document_sha256": hashlib.sha256(self.signed_pdf).hexdigest(),
            "reasons": [] if self.verify_valid else ["altered after stamping"]})
