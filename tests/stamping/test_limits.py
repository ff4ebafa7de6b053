"""Every request body is capped by route, before and while it streams (issue 8, item 8)."""

from __future__ import annotations

from collections.abc import Iterator

from starlette.testclient import TestClient

from stamping.limits import SMALL_BODY
from tests.stamping.conftest import auth, register


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size


def test_small_routes_refuse_big_bodies_before_reading(client: TestClient) -> None:
    big = b"{" + b" " * (SMALL_BODY + 10) + b"}"
    for path in ["/api/v1/login", "/api/v1/accounts", "/api/v1/orders", "/masuk", "/daftar",
                 "/api/v1/payments/callback"]:
        r = client.post(path, content=big, headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and r.json()["error"] == "too_large", (path, r.text[:200])
    r = client.post("/api/v1/payments/callback", content=b"{" + b" " * 20_000 + b"}")
    assert r.status_code == 413


def test_chunked_bodies_are_counted_while_they_stream(client: TestClient) -> None:
    token = register(client)
    r = client.post("/api/v1/orders", content=_chunks(1024 * 1024),
                    headers={**auth(token), "Idempotency-Key": "k",
                             "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    r = client.post("/api/v1/login", content=_chunks(1024 * 1024),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_a_token_is_checked_before_the_body_is_read(client: TestClient) -> None:
    # A malformed body would be 400 if it were parsed: 401 shows it was not.
    r = client.post("/api/v1/orders", content=b"{not json", headers={"Idempotency-Key": "k"})
    assert r.status_code == 401
    r = client.post("/api/v1/stamps", content=b"x" * 100_000,
                    headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
