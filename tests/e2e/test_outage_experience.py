"""What the public and operators see during an outage, in real headless Chromium at 360 px and
1280 px with JavaScript off: the automatic-detection note, the recovery prompt, the console
preview, the folded component page and the 404 page. Screenshots go to ``E2E_SCREENSHOTS``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from statuspage.db import Database
from statuspage.models import Component, utcnow
from statuspage.store.components import set_measured_status
from statuspage.store.incidents import create_incident
from tests.e2e.conftest import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EMAIL, PASSWORD = "admin@example.id", "kata-sandi-e2e-123"
SHOTS = Path(os.environ.get("E2E_SCREENSHOTS", "/tmp/statuspage-e2e"))
WIDTHS = (360, 1280)


@pytest.fixture(scope="module")
def server(live_server: LiveServer) -> LiveServer:
    """The module's demo server with one admin account (each test uses its own component)."""
    done = live_server.run_cli("operator", "add", EMAIL, "--role", "admin", "--password",
                               PASSWORD)
    assert "added" in done.stdout
    return live_server


@pytest.fixture
def pages(browser: Any) -> Iterator[Callable[[int], Any]]:
    """``page(width)``: a fresh page with JavaScript off, Indonesian first."""
    contexts: list[Any] = []

    def make(width: int) -> Any:
        context = browser.new_context(viewport={"width": width, "height": 800}, locale="id-ID",
                                      java_script_enabled=False)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def database(server: LiveServer) -> Database:
    return Database(f"sqlite:///{server.data_dir / 'statuspage.sqlite3'}")


def shot(page: Any, name: str, width: int) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)


def fits(page: Any, width: int) -> None:
    body = page.locator("body").bounding_box()["width"]
    assert body <= width, f"wider than the screen at {width} px ({body})"


def goto_until(page: Any, url: str, text: str, timeout_s: float = 10.0) -> None:
    """Load ``url`` until it shows ``text`` (the page cache follows writes within a second)."""
    deadline = time.monotonic() + timeout_s
    while True:
        page.goto(url)
        if text in page.content() or time.monotonic() > deadline:
            return
        time.sleep(0.3)


def login(page: Any, url: str) -> None:
    page.goto(url + "/admin/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()


def test_automatic_detection_note(server: LiveServer, pages: Callable[[int], Any]) -> None:
    db = database(server)
    try:
        with db.session() as session:
            set_measured_status(session, "situs", "major_outage")
    finally:
        db.dispose()
    for width in WIDTHS:
        page = pages(width)
        goto_until(page, server.url + "/", "Terdeteksi otomatis")
        note = page.locator(".auto").first
        assert note.is_visible()
        assert note.inner_text().startswith("◎ Terdeteksi otomatis pukul ")
        assert "tim kami sedang memeriksa" in note.inner_text()
        assert page.locator('meta[http-equiv="refresh"]').count() == 1
        fits(page, width)
        shot(page, "detected", width)
        note.get_by_role("link", name="Lihat pengukuran").click()
        assert "/components/situs" in page.url and page.url.endswith("#measurements")
        assert page.locator("#measurements").is_visible()


def test_recovery_prompt(server: LiveServer, pages: Callable[[int], Any]) -> None:
    db = database(server)
    try:
        with db.session() as session:
            incident = create_incident(
                session, name="Pembubuhan gagal", status="investigating", impact="critical",
                body="Kami sedang menyelidiki.", components={"pembubuhan": "major_outage"},
                notify=False, author=EMAIL, now=utcnow() - timedelta(hours=1))
            iid = incident.id
            set_measured_status(session, "pembubuhan", "major_outage",
                                now=utcnow() - timedelta(minutes=50))
            set_measured_status(session, "pembubuhan", "operational",
                                now=utcnow() - timedelta(minutes=12))
            row = session.get(Component, "pembubuhan")
            assert row is not None
            row.measured_since = utcnow() - timedelta(minutes=12)
    finally:
        db.dispose()
    for width in WIDTHS:
        page = pages(width)
        goto_until(page, server.url + "/", "menunggu konfirmasi tim")
        assert page.get_by_text("Pemantauan otomatis menunjukkan layanan sudah pulih").first \
            .is_visible()
        fits(page, width)
        shot(page, "recovery-public", width)
        login(page, server.url)
        prompt = page.locator("article.recovered")
        assert prompt.is_visible() and "Pembubuhan gagal" in prompt.inner_text()
        fits(page, width)
        shot(page, "recovery-console", width)
    page.get_by_role("button", name="Pindahkan ke pemantauan dan pulihkan status terukur").click()
    # the form's answer is a redirect: wait for the page it leads to, not only its address
    page.wait_for_url(f"**/admin/incidents/{iid}*")
    page.get_by_text("Pemantauan otomatis menunjukkan layanan sudah pulih").first.wait_for(
        state="visible", timeout=10_000)
    goto_until(page, server.url + "/admin", "Dasbor")
    assert page.locator("article.recovered").count() == 0


def test_preview_in_the_public_style(server: LiveServer, pages: Callable[[int], Any]) -> None:
    for width in WIDTHS:
        page = pages(width)
        login(page, server.url)
        page.goto(server.url + "/admin/incidents/new")
        page.get_by_label("Judul").fill("Pembubuhan e-meterai gagal")
        page.get_by_label("Pesan (Markdown)").fill("Kami sedang **menyelidiki**.")
        page.locator('select[name="component.pembubuhan"]').select_option("major_outage")
        page.get_by_role("button", name="Pratinjau").click()
        preview = page.locator(".public-preview")
        assert preview.is_visible()
        text = preview.inner_text()
        for expected in ("Pembubuhan e-meterai gagal", "Gangguan total", "Sedang diselidiki",
                         "menyelidiki"):
            assert expected in text
        # the public page's own look: its card border and badge colours, not the console's
        badge = preview.locator(".st.s3").first
        assert badge.is_visible()
        assert page.get_by_label("Judul").input_value() == "Pembubuhan e-meterai gagal"
        fits(page, width)
        shot(page, "preview", width)


def test_component_page_folds_calm_days(server: LiveServer,
                                        pages: Callable[[int], Any]) -> None:
    for width in WIDTHS:
        page = pages(width)
        page.goto(server.url + "/components/pembelian")
        assert page.get_by_role("heading", name="Hari dengan gangguan").is_visible()
        assert page.locator("table").count() == 0
        lines = page.locator("ul.days-list").nth(1).locator("li")
        assert 1 < lines.count() < 20  # 90 days in a handful of lines
        assert "–" in lines.first.inner_text()  # a folded run of calm days
        height = page.locator("body").bounding_box()["height"]
        assert height < 3000, f"component page {height} px tall at {width} px"
        fits(page, width)
        shot(page, "component", width)


def test_styled_404(server: LiveServer, pages: Callable[[int], Any]) -> None:
    for width in WIDTHS:
        page = pages(width)
        response = page.goto(server.url + "/tidak-ada-di-sini")
        assert response is not None and response.status == 404
        assert page.get_by_role("heading", level=1).inner_text() == "Halaman tidak ditemukan"
        assert page.locator("header.top").is_visible()  # the page's own frame
        fits(page, width)
        shot(page, "not-found", width)
        page.get_by_role("link", name="English").first.click()
        assert page.get_by_role("heading", level=1).inner_text() == "Page not found"
        page.get_by_role("link", name="Go to the current status").click()
        assert page.locator("h1").first.is_visible() and "/?lang=en" in page.url


def test_wide_console_tables_scroll_inside_the_screen(server: LiveServer,
                                                      pages: Callable[[int], Any]) -> None:
    page = pages(360)
    login(page, server.url)
    page.goto(server.url + "/admin/audit")
    box = page.locator(".scroll").first.bounding_box()
    table = page.locator(".scroll table").first.bounding_box()
    assert box["width"] <= 360 < table["width"]  # the table scrolls, the page does not
    fits(page, 360)
    shot(page, "audit", 360)
