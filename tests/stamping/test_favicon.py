"""The stamping pages link a favicon that exists (no 404 in the browser console)."""

from __future__ import annotations

from starlette.testclient import TestClient


def test_favicon_is_linked_and_served(client: TestClient) -> None:
    page = client.get("/masuk")
    assert '<link rel="icon" href="/favicon.svg"' in page.text
    icon = client.get("/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content.startswith(b"<svg")
