"""The styled 404 in both languages, JSON 404 for APIs, /robots.txt, console gzip, favicons."""

from __future__ import annotations

from starlette.testclient import TestClient


def test_unknown_address_gets_the_styled_page(client: TestClient) -> None:
    r = client.get("/tidak-ada", headers={"accept": "text/html"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "Halaman tidak ditemukan" in r.text and 'href="/?lang=id"' in r.text
    assert '<link rel="icon"' in r.text  # the page's own look, not plain text
    english = client.get("/tidak-ada?lang=en", headers={"accept": "text/html"})
    assert english.status_code == 404 and "Page not found" in english.text
    by_header = client.get("/nope", headers={"accept": "text/html", "accept-language": "en"})
    assert "Page not found" in by_header.text


def test_api_404_stays_json(client: TestClient) -> None:
    r = client.get("/api/v2/nope.json")
    assert r.status_code == 404 and r.json()["error"] == "not found"


def test_robots_txt(client: TestClient) -> None:
    r = client.get("/robots.txt")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert "Disallow: /admin" in r.text and "User-agent: *" in r.text
    # the pages' CSP lets a crawler tool fetch it from the page
    assert "connect-src 'self'" in client.get("/").text


def test_console_pages_are_gzipped(client: TestClient) -> None:
    r = client.get("/admin/login", headers={"accept-encoding": "gzip"})
    assert r.status_code == 200 and r.headers.get("content-encoding") == "gzip"
    assert "accept-encoding" in r.headers["vary"].lower()
    assert '<link rel="icon" href="/favicon.svg"' in r.text  # no 404 for /favicon.ico
